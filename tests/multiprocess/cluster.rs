//! A cluster of separate `tessera meta|node|router` processes in a temp dir, with
//! helpers to kill, restart and inspect its parts.

#![allow(dead_code)]

use crate::harness::netns::NetLab;
use crate::harness::process::{free_port, Service};
use crate::harness::proxy::DelayProxy;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tessera_proto::catalog::NodeId;

#[path = "cluster/queries.rs"]
mod queries;

/// The cluster secret every process of the test cluster is started with.
pub const SECRET: &str = "a-shared-secret";

/// Makes this test process present the cluster secret on its own internal calls.
pub fn use_secret() {
    let _ = tessera_common::secret::set(SECRET.as_bytes().to_vec());
}

/// Starts a one-member meta service at `addr`.
pub fn single_meta(addr: &str, data: &Path, log: &Path) -> Service {
    let member = format!("1={addr}");
    let data = data.to_str().unwrap();
    let meta = [
        "meta",
        "--cluster-secret",
        SECRET,
        "--id",
        "1",
        "--members",
        &member,
        "--data-dir",
        data,
    ];
    Service::start(&args(&meta), log)
}

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Meta members.
    pub meta: usize,
    /// Storage nodes.
    pub nodes: usize,
    /// Extra flags for every meta member.
    pub meta_flags: Vec<String>,
    /// Extra flags for every node.
    pub node_flags: Vec<String>,
    /// Run each node and each meta member in its own network namespace (needs root) so
    /// tests can cut links: node `i` in namespace `i - 1`, meta member `j` in namespace
    /// `nodes + j - 1`; the router stays in the host namespace.
    pub namespaces: bool,
    /// The last this many nodes are not started with the others: they join later
    /// ([`Cluster::restart_node`] starts one).
    pub held_back: usize,
    /// Reach each node through a [`DelayProxy`] (needs `namespaces`), so tests can
    /// slow every link to the nodes down with [`Cluster::slow`].
    pub proxied: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            meta: 3,
            nodes: 3,
            meta_flags: Vec::new(),
            node_flags: Vec::new(),
            namespaces: false,
            proxied: false,
            held_back: 0,
        }
    }
}

pub fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A running cluster.
pub struct Cluster {
    pub dir: PathBuf,
    /// Meta members by id (1-based), `None` while killed.
    pub meta: Vec<(u64, Option<Service>)>,
    /// Nodes by id, `None` while killed.
    pub nodes: Vec<(NodeId, Option<Service>)>,
    pub router: Service,
    pub meta_list: Vec<String>,
    meta_args: Vec<Vec<String>>,
    node_args: Vec<Vec<String>>,
    router_args: Vec<String>,
    shape: Shape,
    /// While set, the proxies delay every chunk (see [`DelayProxy`]).
    pub slow: Arc<AtomicBool>,
    proxies: Vec<DelayProxy>,
    /// The nodes' namespaces; last, so the processes are killed before it is removed.
    pub lab: Option<NetLab>,
}

/// When a test fails, the end of the processes' log goes to the test's output (CI keeps
/// nothing else of a failed run's temp dir).
impl Drop for Cluster {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(log) = std::fs::read_to_string(self.log()) else {
            return;
        };
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
        eprintln!("---- last {} lines of {}", tail.len(), self.log().display());
        for line in tail {
            let cut = line.char_indices().nth(400).map_or(line.len(), |(i, _)| i);
            eprintln!("{}", &line[..cut]);
        }
    }
}

/// Lines of the cluster log shown when a test fails.
const LOG_TAIL: usize = 300;

impl Cluster {
    pub fn start(dir: &Path, shape: Shape) -> Self {
        use_secret();
        let lab = shape
            .namespaces
            .then(|| NetLab::new(shape.nodes + shape.meta));
        let ports: Vec<u16> = (0..shape.meta).map(|_| free_port()).collect();
        let (mut members, mut meta_list) = tessera::playground::meta_addresses(&ports);
        let slow = Arc::new(AtomicBool::new(false));
        let mut proxies = Vec::new();
        // Where each meta member listens, when that is not its --members address.
        let mut meta_listen: Vec<Option<String>> = vec![None; shape.meta];
        if let Some(lab) = &lab {
            // Each meta member listens in its own namespace.
            meta_list = ports
                .iter()
                .enumerate()
                .map(|(j, p)| format!("{}:{p}", lab.ip_of(shape.nodes + j)))
                .collect();
            let mut advertised = meta_list.clone();
            if shape.proxied {
                // Members reach each other through proxies on the host too.
                for (j, addr) in meta_list.iter().enumerate() {
                    let bind = format!("{}:0", lab.host_ip());
                    let proxy = DelayProxy::start(&bind, addr.clone(), slow.clone());
                    advertised[j] = proxy.addr.to_string();
                    meta_listen[j] = Some(addr.clone());
                    proxies.push(proxy);
                }
            }
            members = advertised
                .iter()
                .enumerate()
                .map(|(j, a)| format!("{}={a}", j + 1))
                .collect::<Vec<_>>()
                .join(",");
        }
        let meta_args: Vec<Vec<String>> = (1..=shape.meta)
            .map(|id| {
                let data = dir.join(format!("meta{id}"));
                let mut a = args(&[
                    "meta",
                    "--cluster-secret",
                    SECRET,
                    "--id",
                    &id.to_string(),
                    "--members",
                    &members,
                    "--data-dir",
                    data.to_str().unwrap(),
                ]);
                if let Some(listen) = &meta_listen[id - 1] {
                    a.extend(["--listen".to_string(), listen.clone()]);
                }
                a.extend(shape.meta_flags.iter().cloned());
                a
            })
            .collect();
        // What nodes and the router dial for the meta service: the members' advertised
        // addresses (through the proxies when links are to be slowed).
        let meta_for_clients: Vec<String> = members
            .split(',')
            .filter_map(|m| m.split_once('=').map(|(_, a)| a.to_string()))
            .collect();
        let mut node_args: Vec<Vec<String>> = (1..=shape.nodes)
            .map(|id| Self::node_args(dir, &meta_for_clients, &shape, lab.as_ref(), id as NodeId))
            .collect();
        if let (true, Some(lab)) = (shape.proxied, &lab) {
            // Each node listens on a fixed port in its namespace and advertises a proxy
            // on the host, which every peer and router then goes through.
            for (i, a) in node_args.iter_mut().enumerate() {
                let port = free_port();
                let listen = format!("{}:{port}", lab.ip_of(i));
                let proxy = DelayProxy::start(
                    &format!("{}:0", lab.host_ip()),
                    listen.clone(),
                    slow.clone(),
                );
                let at = a.iter().position(|x| x == "--listen").unwrap();
                a[at + 1] = listen;
                a.extend(["--advertise".to_string(), proxy.addr.to_string()]);
                proxies.push(proxy);
            }
        }
        let router_args = args(&[
            "router",
            "--cluster-secret",
            SECRET,
            "--port",
            "0",
            "--meta",
            &meta_for_clients.join(","),
        ]);
        let log = dir.join("cluster.log");
        Self {
            dir: dir.to_path_buf(),
            meta: meta_args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let member = Self::spawn_meta(lab.as_ref(), shape.nodes, i, a, &log);
                    (i as u64 + 1, Some(member))
                })
                .collect(),
            nodes: node_args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let started = (i < shape.nodes - shape.held_back)
                        .then(|| Self::spawn_node(lab.as_ref(), i, a, &log));
                    (i as NodeId + 1, started)
                })
                .collect(),
            router: Service::start(&router_args, &log),
            meta_list,
            meta_args,
            node_args,
            router_args,
            shape,
            slow,
            proxies,
            lab,
        }
    }

    fn node_args(
        dir: &Path,
        meta_list: &[String],
        shape: &Shape,
        lab: Option<&NetLab>,
        id: NodeId,
    ) -> Vec<String> {
        let data = dir.join(format!("node{id}"));
        let (listen, resp) = match lab {
            Some(lab) => (
                format!("{}:0", lab.ip_of(id as usize - 1)),
                "off".to_string(),
            ),
            None => ("127.0.0.1:0".to_string(), "127.0.0.1:0".to_string()),
        };
        let mut a = args(&[
            "node",
            "--cluster-secret",
            SECRET,
            "--listen",
            &listen,
            "--resp",
            &resp,
            "--id",
            &id.to_string(),
            "--meta",
            &meta_list.join(","),
            "--data-dir",
            data.to_str().unwrap(),
        ]);
        a.extend(shape.node_flags.iter().cloned());
        a
    }

    /// Starts meta member `index + 1` (in its namespace if there are namespaces).
    fn spawn_meta(
        lab: Option<&NetLab>,
        nodes: usize,
        index: usize,
        args: &[String],
        log: &Path,
    ) -> Service {
        match lab {
            Some(lab) => Service::start_wrapped(&lab.wrapper(nodes + index), args, log),
            None => Service::start(args, log),
        }
    }

    /// The namespace index of meta member `id`.
    pub fn meta_ns(&self, id: u64) -> usize {
        self.shape.nodes + id as usize - 1
    }

    /// Starts node `index + 1` (in its namespace if there are namespaces).
    fn spawn_node(lab: Option<&NetLab>, index: usize, args: &[String], log: &Path) -> Service {
        match lab {
            Some(lab) => Service::start_wrapped(&lab.wrapper(index), args, log),
            None => Service::start(args, log),
        }
    }

    /// The command-line arguments node `id` was started with.
    pub fn node_args_of(&self, id: NodeId) -> Vec<String> {
        self.node_args[id as usize - 1].clone()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("cluster.log")
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.router.addr)
    }

    /// Starts one more storage node with the next id.
    pub fn add_node(&mut self) -> NodeId {
        assert!(
            self.lab.is_none(),
            "namespaces are made for the initial nodes only"
        );
        let id = self.nodes.len() as NodeId + 1;
        let a = Self::node_args(&self.dir, &self.meta_list, &self.shape, None, id);
        let service = Service::start(&a, &self.log());
        self.node_args.push(a);
        self.nodes.push((id, Some(service)));
        id
    }

    /// SIGKILLs node `id` (and leaves it dead).
    pub fn kill_node(&mut self, id: NodeId) {
        let slot = self.nodes.iter_mut().find(|(n, _)| *n == id).expect("node");
        if let Some(mut service) = slot.1.take() {
            service.kill();
        }
    }

    /// Starts node `id` again on its data.
    pub fn restart_node(&mut self, id: NodeId) {
        let a = self.node_args[id as usize - 1].clone();
        let service = Self::spawn_node(self.lab.as_ref(), id as usize - 1, &a, &self.log());
        self.nodes[id as usize - 1].1 = Some(service);
    }

    /// SIGKILLs meta member `id`.
    pub fn kill_meta(&mut self, id: u64) {
        if let Some(mut service) = self.meta[id as usize - 1].1.take() {
            service.kill();
        }
    }

    /// Starts meta member `id` again on its data.
    pub fn restart_meta(&mut self, id: u64) {
        let (i, a) = (id as usize - 1, self.meta_args[id as usize - 1].clone());
        let member = Self::spawn_meta(self.lab.as_ref(), self.shape.nodes, i, &a, &self.log());
        self.meta[i].1 = Some(member);
    }

    /// Drops `--failpoint NAME` from every stored command line, so restarts run clean.
    pub fn disarm(&mut self) {
        for a in self.meta_args.iter_mut().chain(self.node_args.iter_mut()) {
            if let Some(i) = a.iter().position(|x| x == "--failpoint") {
                a.drain(i..i + 2);
            }
        }
    }

    /// Node and meta processes that exited on their own (a failpoint), marked dead.
    pub fn reap_exited(&mut self) -> (Vec<NodeId>, Vec<u64>) {
        let mut nodes = Vec::new();
        for (id, slot) in &mut self.nodes {
            if slot.as_mut().is_some_and(|s| s.exited()) {
                *slot = None;
                nodes.push(*id);
            }
        }
        let mut metas = Vec::new();
        for (id, slot) in &mut self.meta {
            if slot.as_mut().is_some_and(|s| s.exited()) {
                *slot = None;
                metas.push(*id);
            }
        }
        (nodes, metas)
    }

    /// SIGKILL every process, then start them all again on the same data (the router
    /// on the same port, so clients can reconnect).
    pub fn kill_all_and_restart(&mut self) {
        self.kill_router();
        for (_, node) in &mut self.nodes {
            if let Some(node) = node.as_mut() {
                node.kill();
            }
        }
        for (_, meta) in &mut self.meta {
            if let Some(meta) = meta.as_mut() {
                meta.kill();
            }
        }
        let log = self.log();
        for (i, a) in self.meta_args.iter().enumerate() {
            let member = Self::spawn_meta(self.lab.as_ref(), self.shape.nodes, i, a, &log);
            self.meta[i].1 = Some(member);
        }
        for (i, a) in self.node_args.iter().enumerate() {
            self.nodes[i].1 = Some(Self::spawn_node(self.lab.as_ref(), i, a, &log));
        }
        self.router = Service::start(&self.router_args, &log);
    }

    /// SIGKILL the router (and whatever it was doing for clients), then start it again
    /// on the same port.
    pub fn restart_router(&mut self) {
        self.kill_router();
        self.router = Service::start(&self.router_args, &self.log());
    }

    /// SIGKILL the router and keep its port for the next start.
    fn kill_router(&mut self) {
        self.router.kill();
        let port = self.router.addr.port().to_string();
        if let Some(i) = self.router_args.iter().position(|a| a == "--port") {
            self.router_args[i + 1] = port;
        }
    }

    /// The RESP address node `id` serves clients on.
    pub fn node_resp(&self, id: NodeId) -> Option<String> {
        let service = self.nodes.iter().find(|(n, _)| *n == id)?.1.as_ref()?;
        service.note("RESP on ")
    }
}
