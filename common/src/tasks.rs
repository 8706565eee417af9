//! A service's background tasks, each with a name, joined at shutdown. A task that
//! does not stop soon after shutdown was requested is named in a warning, so a slow
//! shutdown says what it waits for.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::task::{Id, JoinSet};

/// How long a shutdown waits before it names the tasks still running, and again
/// after each such interval.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Named background tasks.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Tasks {
    /// Runs `task` under `name`.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let id = self.set.spawn(task).id();
        self.names.insert(id, name);
    }

    /// Waits for every task (they were asked to stop); logs the names of those still
    /// running every couple of seconds. `owner` says whose tasks they are.
    pub async fn join(mut self, owner: &str) {
        let mut waited = Duration::ZERO;
        loop {
            match tokio::time::timeout(REPORT_EVERY, self.set.join_next_with_id()).await {
                Ok(None) => return,
                Ok(Some(Ok((id, ())))) => {
                    self.names.remove(&id);
                }
                Ok(Some(Err(e))) => {
                    let name = self.names.remove(&e.id()).unwrap_or("?");
                    if e.is_panic() {
                        tracing::error!(owner, task = name, "background task panicked");
                    }
                }
                Err(_) => {
                    waited += REPORT_EVERY;
                    let mut running: Vec<_> = self.names.values().copied().collect();
                    running.sort_unstable();
                    tracing::warn!(
                        owner,
                        waited_s = waited.as_secs(),
                        tasks = running.join(", "),
                        "shutdown still waits for background tasks"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn join_waits_for_every_task_and_forgets_their_names() {
        let stop = CancellationToken::new();
        let mut tasks = Tasks::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, n) in [("one", 1), ("two", 2)] {
            let (stop, tx) = (stop.clone(), tx.clone());
            tasks.spawn(name, async move {
                stop.cancelled().await;
                tx.send(n).unwrap();
            });
        }
        tasks.spawn("quick", async {});
        assert_eq!(tasks.names.len(), 3);
        stop.cancel();
        tasks.join("test").await;
        drop(tx);
        let mut done = Vec::new();
        while let Some(n) = rx.recv().await {
            done.push(n);
        }
        done.sort_unstable();
        assert_eq!(done, [1, 2]);
    }
}
