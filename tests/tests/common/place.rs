//! Where a test's server keeps its data: a fresh directory with the embedded SQLite database
//! in it, or with a fresh PostgreSQL database and Redis queue beside it. [`Place::finish`]
//! removes all of it.

use std::path::PathBuf;

use super::{Backend, Cleanup, postgres_and_redis};

pub struct Place {
    pub dir: PathBuf,
    pub backend: Backend,
    cleanup: Option<Cleanup>,
}

impl Place {
    /// The embedded default: `stepwise.db` in a fresh directory.
    pub fn sqlite(label: &str) -> Self {
        let dir = fresh_dir(label);
        let backend = Backend {
            database_url: format!("sqlite://{}/stepwise.db", dir.display()),
            redis: None,
        };
        Self {
            dir,
            backend,
            cleanup: None,
        }
    }

    /// A fresh PostgreSQL database and Redis queue, when the test URLs are set.
    pub async fn postgres(label: &str) -> Option<Self> {
        let (backend, cleanup) = postgres_and_redis(label).await?;
        Some(Self {
            dir: fresh_dir(&format!("{label}-pg")),
            backend,
            cleanup: Some(cleanup),
        })
    }

    /// Drops the database and queue (PostgreSQL) and removes the directory.
    pub async fn finish(self) {
        if let Some(cleanup) = self.cleanup {
            cleanup.run().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fresh_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepwise-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `on_both_backends!(check, "label", on_sqlite, on_postgres)`: the tests `on_sqlite` and
/// `on_postgres`, each running `check(&backend, &dir)` in a [`Place`] of its own (the
/// PostgreSQL one only where the test URLs are set).
#[allow(unused_macros)] // each test binary uses a different part
macro_rules! on_both_backends {
    ($check:ident, $label:literal, $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let place = $crate::common::place::Place::sqlite($label);
            $check(&place.backend, &place.dir).await;
            place.finish().await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(place) = $crate::common::place::Place::postgres($label).await else {
                return;
            };
            $check(&place.backend, &place.dir).await;
            place.finish().await;
        }
    };
}
#[allow(unused_imports)] // each test binary uses a different part
pub(crate) use on_both_backends;
