//! A real `tessera dev` process for tests: started on a free port (`--port 0`, the
//! address is read from its first line of output), stopped with SIGTERM or SIGKILL.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `tessera dev` child process.
pub struct DevProcess {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The HTTP address (`/metrics`, the console) its banner names, if any.
    pub http: Option<String>,
}

impl DevProcess {
    /// Starts `tessera dev` on `data_dir` and waits until it prints its address.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Same, with extra `tessera dev` flags.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "dev".to_string(),
            "--port".into(),
            "0".into(),
            "--data-dir".into(),
        ];
        args.push(data_dir.to_str().expect("utf-8 path").to_string());
        args.extend(extra.iter().map(|a| a.to_string()));
        let log = data_dir.with_extension("log");
        let (child, addr, banner) = spawn_and_read_addr(&args, &log, "tessera dev: listening on ");
        let http = banner
            .split_once("http on ")
            .map(|(_, rest)| rest.trim_end_matches(')').to_string());
        Self {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            http,
        }
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `redis://` URL of the router.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, then wait for the exit status. A process still running a minute later
    /// is killed and the test fails: a clean shutdown must end.
    pub fn terminate(mut self) -> ExitStatus {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + SHUTDOWN_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "tessera dev (data in {}) still ran {SHUTDOWN_LIMIT:?} after SIGTERM",
                    self.data_dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// How long a process may take to exit after SIGTERM before a test fails.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(60);

/// One `tessera meta|node|router` process of a multi-process cluster.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    /// The rest of its "listening on" line.
    pub banner: String,
}

impl Service {
    /// Starts `tessera <args...>` and waits until it prints `tessera <role>: listening on`.
    pub fn start(args: &[String], log: &Path) -> Self {
        let role = args[0].clone();
        let (child, addr, banner) =
            spawn_and_read_addr(args, log, &format!("tessera {role}: listening on "));
        Self {
            child,
            addr,
            banner,
        }
    }

    /// Same, run under `wrapper` (e.g. `ip netns exec NS`, which execs the binary in
    /// place, so the pid is the binary's).
    pub fn start_wrapped(wrapper: &[String], args: &[String], log: &Path) -> Self {
        let role = args[0].clone();
        let prefix = format!("tessera {role}: listening on ");
        let (child, addr, banner) = spawn_wrapped(wrapper, args, log, &prefix);
        Self {
            child,
            addr,
            banner,
        }
    }

    /// The value its banner gives after `label` (`"RESP on "`, `"http on "`).
    pub fn note(&self, label: &str) -> Option<String> {
        tessera::playground::banner_note(&self.banner, label)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`).
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Whether the process has exited on its own (reaped if so).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns the tessera binary and reads the address from the line starting with `prefix`.
fn spawn_and_read_addr(args: &[String], log: &Path, prefix: &str) -> (Child, SocketAddr, String) {
    spawn_wrapped(&[], args, log, prefix)
}

/// Same, running the binary under `wrapper` (e.g. `ip netns exec NS`).
fn spawn_wrapped(
    wrapper: &[String],
    args: &[String],
    log: &Path,
    prefix: &str,
) -> (Child, SocketAddr, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let binary = env!("CARGO_BIN_EXE_tessera").to_string();
    let mut command_line: Vec<String> = wrapper.to_vec();
    command_line.push(binary);
    command_line.extend(args.iter().cloned());
    let mut child = Command::new(&command_line[0])
        .args(&command_line[1..])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn tessera");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let prefix = prefix.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tessera printed its address");
    let addr = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .parse()
        .expect("address");
    (child, addr, line)
}

/// A loopback port that was free a moment ago (for meta members, whose addresses must
/// be known before they start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
