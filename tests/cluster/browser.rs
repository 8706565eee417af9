//! A headless Chromium that keeps one page open, driven over the DevTools protocol on
//! a pipe (`--remote-debugging-pipe`: the browser reads commands on its fd 3 and
//! writes answers and events on its fd 4, each a JSON message ended by a NUL byte).
//! A test reads the live page as it changes, without reloading it.

use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one DevTools command may take before the test fails.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// A browser with one page open.
pub struct Browser {
    child: Child,
    commands: File,
    answers: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

/// A pipe whose ends are close-on-exec and numbered above 10, so that moving the
/// child's ends to fds 3 and 4 cannot overwrite one another.
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    fds.map(|fd| {
        // SAFETY: duplicating and closing descriptors this function owns.
        unsafe {
            let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(high >= 10, "fcntl F_DUPFD_CLOEXEC");
            libc::close(fd);
            high
        }
    })
    .into()
}

impl Browser {
    /// Starts Chromium (Debian's `chromium`, installed by `scripts/test`) and opens `url`.
    pub fn open(url: &str) -> Self {
        let (their_commands, our_commands) = pipe();
        let (our_answers, their_answers) = pipe();
        let profile = tempfile::tempdir().unwrap();
        let mut command = Command::new("chromium");
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: dup2 is async-signal-safe; it leaves the new descriptors open across
        // exec (it does not copy close-on-exec).
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(their_commands, 3) < 0 || libc::dup2(their_answers, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .expect("chromium runs (scripts/test installs Debian's chromium package)");
        // SAFETY: closing the browser's ends in this process, and owning ours from here.
        let (commands, answers) = unsafe {
            libc::close(their_commands);
            libc::close(their_answers);
            (
                File::from_raw_fd(our_commands),
                File::from_raw_fd(our_answers),
            )
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut answers = BufReader::new(answers);
            let mut message = Vec::new();
            while answers.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop();
                if let Ok(value) = serde_json::from_slice::<Value>(&message) {
                    if tx.send(value).is_err() {
                        return;
                    }
                }
                message.clear();
            }
        });
        let mut browser = Self {
            child,
            commands,
            answers: rx,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser
            .call("Target.createTarget", json!({ "url": url }))
            .expect("a new page");
        let target = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .expect("attached to the page");
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    /// Sends one command (to the page once attached) and waits for its result, or
    /// the browser's error answer.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium reads commands");
        let deadline = std::time::Instant::now() + ANSWER_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let answer = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer from chromium to {method}: {e}"));
            if answer["id"].as_u64() == Some(id) {
                return match answer.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(answer["result"].clone()),
                };
            }
        }
    }

    /// The value of a JavaScript expression evaluated in the page; null while the page
    /// has no document to evaluate it in (e.g. still navigating from about:blank).
    pub fn eval(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true });
        match self.call("Runtime.evaluate", params) {
            Ok(result) => result["result"]["value"].clone(),
            Err(_) => Value::Null,
        }
    }

    /// The trimmed text of the element with `id`, if the page has it.
    pub fn text(&mut self, id: &str) -> Option<String> {
        let expression = format!("document.getElementById({id:?})?.textContent?.trim()");
        self.eval(&expression).as_str().map(str::to_string)
    }

    /// The text of the element with `id` as a number.
    pub fn number(&mut self, id: &str) -> Option<f64> {
        self.text(id)?.parse().ok()
    }

    /// The page's HTML as it is now, for failure messages.
    pub fn html(&mut self) -> String {
        let html = self.eval("document.documentElement.outerHTML");
        html.as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
