//! Group commit for one fjall database: a dedicated thread that turns any number of
//! concurrent "make everything written so far durable" requests into one fsync.
//!
//! `Database::persist(SyncAll)` covers every write made before it, so a request is
//! satisfied by any fsync that starts after the request was queued. The thread drains
//! the whole queue, fsyncs once, then answers every drained request.
//!
//! An fsync failure is fatal: fjall poisons the database and we must not acknowledge
//! anything further, so the process aborts after reporting the error (crash and
//! restart rather than limp on).

use fjall::{Database, PersistMode};
use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

type Done = Box<dyn FnOnce(io::Result<()>) + Send>;

enum Msg {
    Sync(Done),
    Stop,
}

/// Handle to the group-commit thread of one database. Cheap to clone.
#[derive(Clone)]
pub struct LogSyncer {
    tx: mpsc::Sender<Msg>,
}

/// Owns the sync thread; [`SyncThread::stop`] makes a final fsync and joins it.
pub struct SyncThread {
    tx: mpsc::Sender<Msg>,
    handle: JoinHandle<()>,
}

impl SyncThread {
    /// Fsyncs everything written so far, stops the thread and waits for it. Later
    /// sync requests fail with "log syncer stopped".
    pub fn stop(self) {
        let _ = self.tx.send(Msg::Stop);
        let _ = self.handle.join();
    }
}

impl LogSyncer {
    /// Starts the sync thread for `db`.
    ///
    /// # Errors
    /// Fails if the thread cannot be spawned.
    pub fn start(db: Database) -> io::Result<(Self, SyncThread)> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let handle = std::thread::Builder::new()
            .name("fjall-sync".into())
            .spawn(move || run(db, rx))?;
        Ok((Self { tx: tx.clone() }, SyncThread { tx, handle }))
    }

    /// Calls `done` once everything written to the database before this call is on disk.
    pub fn sync_then(&self, done: impl FnOnce(io::Result<()>) + Send + 'static) {
        if let Err(mpsc::SendError(Msg::Sync(done))) = self.tx.send(Msg::Sync(Box::new(done))) {
            done(Err(io::Error::other("log syncer stopped")));
        }
    }

    /// Waits until everything written to the database before this call is on disk.
    ///
    /// # Errors
    /// The fsync error, or the syncer having stopped.
    pub async fn sync(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sync_then(move |res| {
            let _ = tx.send(res);
        });
        rx.await
            .map_err(|_| io::Error::other("log syncer stopped"))?
    }
}

fn run(db: Database, rx: mpsc::Receiver<Msg>) {
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::new();
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Sync(done) => batch.push(done),
                Msg::Stop => stopping = true,
            }
        }
        let started = std::time::Instant::now();
        let persisted = db.persist(PersistMode::SyncAll);
        metrics::histogram!("tessera_raft_log_fsync_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("tessera_raft_log_fsync_waiters").record(batch.len() as f64);
        match persisted {
            Ok(()) => {
                tracing::trace!(waiters = batch.len(), "group commit");
                for done in batch {
                    done(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "fsync failed; the database is poisoned, aborting");
                for done in batch {
                    done(Err(io::Error::other(e.to_string())));
                }
                std::process::abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_waiters_are_all_answered() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::builder(dir.path()).open().unwrap();
        let (syncer, handle) = LogSyncer::start(db).unwrap();
        let waits: Vec<_> = (0..100).map(|_| syncer.sync()).collect();
        for res in futures::future::join_all(waits).await {
            res.unwrap();
        }
        handle.stop();
        assert!(
            syncer.sync().await.is_err(),
            "a stopped syncer refuses requests"
        );
    }
}
