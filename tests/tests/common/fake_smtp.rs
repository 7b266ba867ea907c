//! A fake SMTP server on 127.0.0.1 for end-to-end tests: it speaks enough of the protocol for
//! a client (EHLO, MAIL, RCPT, DATA, QUIT), accepts every message, and keeps each one's text.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Clone)]
pub struct FakeSmtp {
    /// `smtp://127.0.0.1:PORT`, for `STEPWISE_PROVIDER_URLS=smtp=…`.
    pub url: String,
    messages: Arc<Mutex<Vec<String>>>,
    changed: tokio::sync::watch::Sender<usize>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let (changed, _) = tokio::sync::watch::channel(0);
        let (kept, notify) = (messages.clone(), changed.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (kept, notify) = (kept.clone(), notify.clone());
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 fake ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = &mut data {
                            if line == "." {
                                let count = {
                                    let mut all = kept.lock().unwrap();
                                    all.push(std::mem::take(body));
                                    all.len()
                                };
                                notify.send_replace(count);
                                data = None;
                                let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let reply: &[u8] = match line
                            .get(..4)
                            .unwrap_or_default()
                            .to_ascii_uppercase()
                            .as_str()
                        {
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        FakeSmtp {
            url,
            messages,
            changed,
        }
    }

    /// Waits until `count` messages arrived (within `limit`) and answers them all.
    pub async fn until_messages(&self, count: usize, limit: std::time::Duration) -> Vec<String> {
        let mut seen = self.changed.subscribe();
        let reached = tokio::time::timeout(limit, seen.wait_for(|n| *n >= count)).await;
        assert!(
            reached.is_ok(),
            "the fake SMTP server got {} messages, not {count}",
            self.messages().len()
        );
        self.messages()
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}
