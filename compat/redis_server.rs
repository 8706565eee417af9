//! A real `redis-server` (Debian's 7.0) for side-by-side tests: it listens only on a
//! unix socket in a temporary directory (no TCP port at all) and is killed on drop.

#![allow(dead_code)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server.
pub struct RedisServer {
    child: Child,
    /// Its unix socket.
    pub socket: PathBuf,
}

impl RedisServer {
    /// Starts redis-server without persistence on a socket in `dir` and waits until it
    /// accepts connections.
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// Same, with extra configuration arguments (`--name value` pairs).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let socket = dir.join("redis.sock");
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test installs redis-server)");
        let server = Self { child, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&server.socket).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// A new connection with a 10 s read timeout.
    pub fn connect(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.socket).expect("connect to redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
