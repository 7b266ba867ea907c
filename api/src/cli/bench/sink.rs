//! The provider stand-in of the benchmarks: an HTTP server on 127.0.0.1 that records when
//! each call arrived, which run it belongs to (`n` in the body) and, when the body carries the
//! time the triggering event was sent (`sent`, unix microseconds), the latency since then.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::watch;

/// One call the sink received.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub n: usize,
    pub at: Timestamp,
    /// Milliseconds from `sent` in the body to arrival.
    pub latency_ms: Option<f64>,
}

#[derive(Debug)]
pub struct Sink {
    /// Where `http` steps post.
    pub url: String,
    /// The server's address without a path: Twilio's API stands in at it too.
    pub base: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    count: watch::Receiver<usize>,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let (counter, count) = watch::channel(0usize);
        let counter = Arc::new(counter);
        let recorder = arrivals.clone();
        let (twilio_recorder, twilio_counter) = (arrivals.clone(), counter.clone());
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(move |body: axum::body::Bytes| {
                    let at = Timestamp::now();
                    // The SMS text carries `n=… sent=…` (the flows put them there).
                    let form: Vec<(String, String)> =
                        url::form_urlencoded::parse(&body).into_owned().collect();
                    let text = form
                        .iter()
                        .find(|(k, _)| k == "Body")
                        .map(|(_, v)| v.as_str())
                        .unwrap_or_default();
                    let field = |key: &str| {
                        text.split_whitespace()
                            .find_map(|w| w.strip_prefix(key))
                            .and_then(|v| {
                                v.trim_end_matches(|c: char| !c.is_ascii_digit())
                                    .parse::<i64>()
                                    .ok()
                            })
                    };
                    let arrival = Arrival {
                        n: field("n=")
                            .and_then(|n| usize::try_from(n).ok())
                            .unwrap_or(usize::MAX),
                        at,
                        latency_ms: field("sent=")
                            .map(|sent| (at.as_microsecond() - sent) as f64 / 1000.0),
                    };
                    let sid = format!("SM{:032x}", arrival.n);
                    twilio_recorder
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(arrival);
                    twilio_counter.send_modify(|total| *total += 1);
                    async move {
                        (
                            axum::http::StatusCode::CREATED,
                            format!(
                                "{{\"sid\":\"{sid}\",\"status\":\"queued\",\"num_segments\":\"1\"}}"
                            ),
                        )
                    }
                }),
            )
            .route(
                "/",
                post(move |body: axum::Json<Value>| {
                    let at = Timestamp::now();
                    let number = |key: &str| body[key].as_str().and_then(|v| v.parse::<i64>().ok());
                    let arrival = Arrival {
                        n: number("n")
                            .and_then(|n| usize::try_from(n).ok())
                            .unwrap_or(usize::MAX),
                        at,
                        latency_ms: number("sent")
                            .map(|sent| (at.as_microsecond() - sent) as f64 / 1000.0),
                    };
                    let mut seen = recorder.lock().unwrap_or_else(|p| p.into_inner());
                    seen.push(arrival);
                    counter.send_modify(|total| *total += 1);
                    async { "{\"sid\":\"SM0\",\"status\":\"queued\"}" }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Sink {
            url,
            base,
            arrivals,
            count,
        })
    }

    /// Calls received so far, including those already taken.
    pub fn count(&self) -> usize {
        *self.count.borrow()
    }

    /// Waits until `target` calls arrived (updating `progress`), or `limit` passed; answers
    /// whether they all arrived.
    pub async fn wait_for(
        &self,
        target: usize,
        limit: Duration,
        progress: &indicatif::ProgressBar,
    ) -> bool {
        let mut count = self.count.clone();
        tokio::time::timeout(
            limit,
            count.wait_for(|seen| {
                progress.set_position(*seen as u64);
                *seen >= target
            }),
        )
        .await
        .is_ok()
    }

    /// Takes the arrivals recorded so far, leaving none.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every arrival so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// How many runs (by `n`) reached the sink more than once.
pub fn repeated(arrivals: &[Arrival]) -> usize {
    let mut seen = HashSet::new();
    arrivals.iter().filter(|a| !seen.insert(a.n)).count()
}

/// Sorted latencies of `arrivals`.
pub fn latencies(arrivals: &[Arrival]) -> Vec<f64> {
    let mut ms: Vec<f64> = arrivals.iter().filter_map(|a| a.latency_ms).collect();
    ms.sort_by(f64::total_cmp);
    ms
}
