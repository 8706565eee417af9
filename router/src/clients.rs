//! Every connection of a router, for `CLIENT LIST`/`CLIENT KILL`, and what one client
//! can do to the others: `CLIENT PAUSE` holds their commands, `MONITOR` streams them.

use crate::stats::CommandStats;
use bytes::Bytes;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Lines buffered for a slow `MONITOR` client before it misses some.
const MONITOR_BACKLOG: usize = 16 * 1024;

/// One connection, as other connections see it.
pub struct ClientHandle {
    /// The client id (`CLIENT ID`).
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// The router's address it connected to.
    pub laddr: SocketAddr,
    created: Instant,
    name: Mutex<Option<Bytes>>,
    last_command: Mutex<Option<Arc<CommandStats>>>,
    /// Milliseconds from `created` to its last command.
    last_active_ms: AtomicU64,
    /// RESP version in use.
    pub resp: AtomicU8,
    /// Cancelled by `CLIENT KILL`: the connection closes.
    pub kill: CancellationToken,
}

impl ClientHandle {
    /// A handle for a connection accepted now.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> Self {
        Self {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            last_command: Mutex::new(None),
            last_active_ms: AtomicU64::new(0),
            resp: AtomicU8::new(2),
            kill: CancellationToken::new(),
        }
    }

    /// `CLIENT SETNAME`'s name.
    pub fn name(&self) -> Option<Bytes> {
        self.name.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets (or with `None` clears) the name.
    pub fn set_name(&self, name: Option<Bytes>) {
        *self.name.lock().unwrap_or_else(|p| p.into_inner()) = name;
    }

    /// Notes the command it runs now.
    pub fn touch(&self, command: &Arc<CommandStats>) {
        self.last_active_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
        let mut last = self.last_command.lock().unwrap_or_else(|p| p.into_inner());
        if !last.as_ref().is_some_and(|c| Arc::ptr_eq(c, command)) {
            *last = Some(command.clone());
        }
    }

    /// Seconds since it connected.
    pub fn age(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since its last command.
    pub fn idle(&self) -> u64 {
        let active = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(active).as_secs()
    }

    /// The `CLIENT LIST` line of this connection (`multi`: its queue length, -1
    /// outside MULTI, known only for the asking connection itself).
    pub fn info_line(&self, multi: i64, flags: &str) -> String {
        let name = self
            .name()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .unwrap_or_default();
        let cmd = self
            .last_command
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or_else(|| "NULL".to_string(), |c| c.name.to_string());
        format!(
            "id={} addr={} laddr={} fd=-1 name={name} age={} idle={} flags={flags} db=0 sub=0 psub=0 ssub=0 \
             multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 \
             events=r cmd={cmd} user=default redir=-1 resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            self.age(),
            self.idle(),
            self.resp.load(Ordering::Relaxed)
        )
    }
}

/// `CLIENT PAUSE`: until when, and whether only writes wait.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// When the pause ends by itself.
    pub until: Instant,
    /// Only commands that write wait (`WRITE`); otherwise all (`ALL`).
    pub writes_only: bool,
}

/// The connections of one router.
pub struct Clients {
    all: DashMap<u64, Arc<ClientHandle>>,
    pause: watch::Sender<Option<Pause>>,
    monitor: broadcast::Sender<Bytes>,
    monitors: Arc<AtomicUsize>,
}

impl Default for Clients {
    fn default() -> Self {
        Self {
            all: DashMap::new(),
            pause: watch::channel(None).0,
            monitor: broadcast::channel(MONITOR_BACKLOG).0,
            monitors: Arc::default(),
        }
    }
}

impl Clients {
    /// Registers a new connection.
    pub fn add(&self, client: Arc<ClientHandle>) {
        self.all.insert(client.id, client);
    }

    /// Forgets a connection that closed.
    pub fn remove(&self, id: u64) {
        self.all.remove(&id);
    }

    /// Every connection, by id.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        let mut all: Vec<_> = self.all.iter().map(|c| c.value().clone()).collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// `CLIENT PAUSE`.
    pub fn pause(&self, pause: Pause) {
        self.pause.send_replace(Some(pause));
    }

    /// `CLIENT UNPAUSE`.
    pub fn unpause(&self) {
        self.pause.send_replace(None);
    }

    /// Whether a pause is in force now.
    pub fn paused(&self) -> Option<Pause> {
        let pause = (*self.pause.borrow())?;
        (pause.until > Instant::now()).then_some(pause)
    }

    /// Waits while a pause holds a command (`write`: whether it writes).
    pub async fn wait_unpaused(&self, write: bool) {
        let mut changes = self.pause.subscribe();
        loop {
            let Some(pause) = *changes.borrow_and_update() else {
                return;
            };
            if pause.until <= Instant::now() || (pause.writes_only && !write) {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(pause.until.into()) => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether some client is in `MONITOR` mode.
    pub fn monitored(&self) -> bool {
        self.monitors.load(Ordering::Relaxed) > 0
    }

    /// Sends one `MONITOR` line to every monitoring client.
    pub fn feed_monitors(&self, line: Bytes) {
        let _ = self.monitor.send(line);
    }

    /// Starts a `MONITOR` stream (it ends when dropped).
    pub fn start_monitor(&self) -> MonitorStream {
        self.monitors.fetch_add(1, Ordering::Relaxed);
        MonitorStream {
            lines: self.monitor.subscribe(),
            count: self.monitors.clone(),
        }
    }
}

/// The commands a `MONITOR` client receives.
pub struct MonitorStream {
    /// Lines as they come.
    pub lines: broadcast::Receiver<Bytes>,
    count: Arc<AtomicUsize>,
}

impl Drop for MonitorStream {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A `MONITOR` line as Redis writes it: `+secs.micros [0 addr] "arg" ...`, arguments
/// quoted with Redis's escapes.
pub fn monitor_line(unix_micros: u64, addr: &SocketAddr, args: &[Bytes]) -> Bytes {
    let mut line = format!(
        "+{}.{:06} [0 {addr}]",
        unix_micros / 1_000_000,
        unix_micros % 1_000_000
    );
    for arg in args {
        line.push_str(" \"");
        for &b in arg.iter() {
            match b {
                b'\\' => line.push_str("\\\\"),
                b'"' => line.push_str("\\\""),
                b'\n' => line.push_str("\\n"),
                b'\r' => line.push_str("\\r"),
                b'\t' => line.push_str("\\t"),
                7 => line.push_str("\\a"),
                8 => line.push_str("\\b"),
                b if b.is_ascii_graphic() || b == b' ' => line.push(b as char),
                b => line.push_str(&format!("\\x{b:02x}")),
            }
        }
        line.push('"');
    }
    line.push_str("\r\n");
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_quote_like_redis() {
        let addr: SocketAddr = "127.0.0.1:47172".parse().unwrap();
        let args = [
            Bytes::from("set"),
            Bytes::from("a b"),
            Bytes::from("c\"\\\x01\n"),
        ];
        assert_eq!(
            monitor_line(1_796_005_192_004_740, &addr, &args),
            "+1796005192.004740 [0 127.0.0.1:47172] \"set\" \"a b\" \"c\\\"\\\\\\x01\\n\"\r\n"
        );
    }

    #[tokio::test]
    async fn a_pause_holds_writes_or_all_until_unpaused() {
        let clients = Arc::new(Clients::default());
        clients.wait_unpaused(true).await;
        clients.pause(Pause {
            until: Instant::now() + Duration::from_secs(60),
            writes_only: true,
        });
        clients.wait_unpaused(false).await; // reads pass a WRITE pause
        let waiting = tokio::spawn({
            let clients = clients.clone();
            async move { clients.wait_unpaused(true).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        clients.unpause();
        waiting.await.unwrap();
        assert!(clients.paused().is_none());
    }
}
