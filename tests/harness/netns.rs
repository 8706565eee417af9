//! A small network lab for partition tests (needs root): one Linux network namespace
//! per process, all joined by veth pairs to a bridge in the host namespace, which also
//! has an address on it. A partition between two namespaces is a pair of blackhole
//! routes; healing deletes them. Everything is removed on drop, and leftovers of
//! earlier runs whose process is gone are removed on creation.

#![allow(dead_code)]

use std::process::Command;

/// Runs `ip args...`, panicking with its stderr on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ip args...`, ignoring failure (cleanup).
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

/// Namespaces, bridge and routes of one test.
pub struct NetLab {
    /// `<pid>x<n>`: unique among the labs of this process and of live processes.
    tag: String,
    namespaces: usize,
    subnet: String,
}

impl NetLab {
    /// A bridge with the host on `.1` and `count` namespaces on `.11`, `.12`, ...
    pub fn new(count: usize) -> Self {
        static LABS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        remove_leftovers();
        let pid = std::process::id();
        let n = LABS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 100;
        let tag = format!("{pid}x{n}");
        let subnet = format!("10.{}.{}", 120 + n, pid & 0xff);
        let lab = Self {
            tag: tag.clone(),
            namespaces: 0,
            subnet,
        };
        let bridge = lab.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&[
            "addr",
            "add",
            &format!("{}/24", lab.host_ip()),
            "dev",
            &bridge,
        ]);
        ip(&["link", "set", &bridge, "up"]);
        let mut lab = lab;
        for i in 0..count {
            let ns = lab.ns(i);
            let (veth, peer) = (format!("tsv{}{i}", lab.tag), format!("tsp{}{i}", lab.tag));
            ip(&["netns", "add", &ns]);
            lab.namespaces = i + 1;
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&["link", "set", &veth, "master", &bridge]);
            ip(&["link", "set", &veth, "up"]);
            let addr = format!("{}/24", lab.ip_of(i));
            ip(&[
                "netns", "exec", &ns, "ip", "addr", "add", &addr, "dev", &peer,
            ]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", &peer, "up"]);
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        }
        lab
    }

    fn bridge(&self) -> String {
        format!("tsb{}", self.tag)
    }

    /// Namespace `i`'s name.
    pub fn ns(&self, i: usize) -> String {
        format!("tsn{}-{i}", self.tag)
    }

    /// The host's address on the bridge.
    pub fn host_ip(&self) -> String {
        format!("{}.1", self.subnet)
    }

    /// Namespace `i`'s address.
    pub fn ip_of(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 11 + i)
    }

    /// The command prefix that runs a program in namespace `i`.
    pub fn wrapper(&self, i: usize) -> Vec<String> {
        ["ip", "netns", "exec"]
            .iter()
            .map(|s| s.to_string())
            .chain([self.ns(i)])
            .collect()
    }

    /// Drops all traffic between namespaces `a` and `b`, both ways.
    pub fn cut(&self, a: usize, b: usize) {
        self.blackholes("add", a, b);
    }

    /// Undoes [`NetLab::cut`].
    pub fn heal(&self, a: usize, b: usize) {
        self.blackholes("del", a, b);
    }

    /// Cuts namespace `i` off from the host (the meta service and the routers).
    pub fn cut_host(&self, i: usize) {
        self.host_route("add", i);
    }

    /// Undoes [`NetLab::cut_host`].
    pub fn heal_host(&self, i: usize) {
        self.host_route("del", i);
    }

    fn host_route(&self, action: &str, i: usize) {
        self.blackhole(action, i, &self.host_ip());
    }

    /// Adds or deletes the blackhole routes from `a` to `b` and from `b` to `a`.
    fn blackholes(&self, action: &str, a: usize, b: usize) {
        self.blackhole(action, a, &self.ip_of(b));
        self.blackhole(action, b, &self.ip_of(a));
    }

    /// Adds or deletes a blackhole route to `dest` in namespace `i`.
    fn blackhole(&self, action: &str, i: usize, dest: &str) {
        let ns = self.ns(i);
        ip(&[
            "netns",
            "exec",
            &ns,
            "ip",
            "route",
            action,
            "blackhole",
            dest,
        ]);
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for i in 0..self.namespaces {
            ip_quiet(&["netns", "del", &self.ns(i)]);
        }
        ip_quiet(&["link", "del", &self.bridge()]);
    }
}

/// Deletes namespaces and bridges of earlier runs whose test process is gone.
fn remove_leftovers() {
    let alive = |tag: &str| {
        tag.parse::<i32>()
            // SAFETY: signal 0 only checks that the process exists.
            .is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
    };
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if let Some(tag) = name.strip_prefix("tsn").and_then(|r| r.split('x').next()) {
                if !alive(tag) {
                    ip_quiet(&["netns", "del", name]);
                }
            }
        }
    }
    if let Ok(out) = Command::new("ip")
        .args(["-o", "link", "show", "type", "bridge"])
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split(':').nth(1).unwrap_or_default().trim();
            if let Some(tag) = name.strip_prefix("tsb").and_then(|r| r.split('x').next()) {
                if !alive(tag) {
                    ip_quiet(&["link", "del", name]);
                }
            }
        }
    }
}
