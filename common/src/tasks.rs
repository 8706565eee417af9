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
    ///
    /// # Errors
    /// Names the tasks that panicked (after all the others have ended).
    pub async fn join(mut self, owner: &str) -> std::io::Result<()> {
        let mut waited = Duration::ZERO;
        let mut panicked = Vec::new();
        loop {
            match tokio::time::timeout(REPORT_EVERY, self.set.join_next_with_id()).await {
                Ok(None) if panicked.is_empty() => return Ok(()),
                Ok(None) => {
                    let names = panicked.join(", ");
                    return Err(std::io::Error::other(format!(
                        "{owner} task panicked: {names}"
                    )));
                }
                Ok(Some(Ok((id, ())))) => {
                    self.names.remove(&id);
                }
                Ok(Some(Err(e))) => {
                    let name = self.names.remove(&e.id()).unwrap_or("?");
                    if e.is_panic() {
                        tracing::error!(owner, task = name, "background task panicked");
                        panicked.push(name);
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
        tasks.join("test").await.unwrap();
        drop(tx);
        let mut done = Vec::new();
        while let Some(n) = rx.recv().await {
            done.push(n);
        }
        done.sort_unstable();
        assert_eq!(done, [1, 2]);
    }

    #[tokio::test]
    async fn join_names_a_task_that_panicked_after_the_others_end() {
        let mut tasks = Tasks::default();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        tasks.spawn("broken", async { panic!("on purpose") });
        tasks.spawn("fine", async move {
            tokio::task::yield_now().await;
            tx.send(()).unwrap();
        });
        let error = tasks.join("test").await.unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
        assert!(rx.try_recv().is_ok(), "the other task ran to its end");
    }
}
