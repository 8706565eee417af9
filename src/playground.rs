//! `tessera playground`: a local cluster of real child processes — meta members, storage
//! nodes and a router — for watching Tessera heal by hand. It prints every process's
//! role, id, pid and address, writes the same to `DATA_DIR/playground.json`, restarts
//! nothing by itself (it only reports exits), and stops every child on Ctrl-C or
//! SIGTERM. Children die with it even if it is killed (`PR_SET_PDEATHSIG`).

use anyhow::{bail, Context as _};
use serde::Serialize;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the playground starts.
#[derive(Clone, Debug)]
pub struct PlaygroundOptions {
    /// Meta members (1, 3 or 5).
    pub meta: usize,
    /// Storage nodes.
    pub nodes: usize,
    /// Router port (0 picks a free one).
    pub port: u16,
    /// Where every process keeps its data and log.
    pub data_dir: PathBuf,
    /// When ranges split.
    pub elastic: crate::cli::ElasticFlags,
}

/// One child as `playground.json` lists it.
#[derive(Clone, Debug, Serialize)]
struct Listed {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    pid: u32,
    addr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resp: Option<String>,
    /// Its `/metrics` (and console) address.
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<String>,
}

/// The contents of `playground.json`.
#[derive(Debug, Serialize)]
struct Listing {
    router: Listed,
    meta: Vec<Listed>,
    nodes: Vec<Listed>,
}

struct Running {
    role: String,
    child: Child,
    exited: bool,
}

/// Runs the playground until SIGINT/SIGTERM.
///
/// # Errors
/// A child failed to start or the listing could not be written; children started so
/// far are stopped.
pub async fn run(options: PlaygroundOptions) -> anyhow::Result<()> {
    if ![1, 3, 5].contains(&options.meta) {
        bail!("--meta must be 1, 3 or 5");
    }
    if options.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("create {}", options.data_dir.display()))?;
    let mut children = Vec::new();
    let started = start_all(&options, &mut children);
    let listing = match started {
        Ok(listing) => listing,
        Err(e) => {
            stop_all(&mut children);
            return Err(e);
        }
    };
    print_listing(&listing, &options.data_dir);
    if let Err(e) = write_listing(&listing, &options.data_dir) {
        stop_all(&mut children);
        return Err(e);
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = poll.tick() => report_exits(&mut children),
        }
    }
    eprintln!("tessera playground: stopping {} processes", children.len());
    stop_all(&mut children);
    eprintln!("tessera playground: stopped");
    Ok(())
}

fn start_all(options: &PlaygroundOptions, children: &mut Vec<Running>) -> anyhow::Result<Listing> {
    let dir = &options.data_dir;
    let secret = cluster_secret(dir)?;
    let ports = meta_ports(dir, options.meta)?;
    let (members, meta_list) = meta_addresses(&ports);
    let default_replicas = match options.nodes {
        n if n >= 5 => 5,
        n if n >= 3 => 3,
        _ => 1,
    };
    let mut meta = Vec::new();
    for id in 1..=options.meta as u64 {
        let args = vec![
            "meta".to_string(),
            "--id".into(),
            id.to_string(),
            "--members".into(),
            members.clone(),
            "--default-replicas".into(),
            default_replicas.to_string(),
            "--split-bytes".into(),
            options.elastic.split_bytes.to_string(),
            "--split-qps".into(),
            options.elastic.split_qps.to_string(),
            "--data-dir".into(),
            path_arg(&dir.join(format!("meta{id}")))?,
        ];
        let (child, line) = spawn(
            &args,
            &secret,
            dir,
            &format!("meta{id}"),
            "tessera meta: listening on ",
        )?;
        meta.push(listed(Some(id), &child, &line));
        children.push(child);
    }
    let mut nodes = Vec::new();
    for id in 1..=options.nodes as u64 {
        let args = vec![
            "node".to_string(),
            "--id".into(),
            id.to_string(),
            "--meta".into(),
            meta_list.join(","),
            "--resp".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            path_arg(&dir.join(format!("node{id}")))?,
        ];
        let (child, line) = spawn(
            &args,
            &secret,
            dir,
            &format!("node{id}"),
            "tessera node: listening on ",
        )?;
        let mut entry = listed(Some(id), &child, &line);
        entry.resp = banner_note(&line, "RESP on ");
        nodes.push(entry);
        children.push(child);
    }
    let args = vec![
        "router".to_string(),
        "--port".into(),
        options.port.to_string(),
        "--meta".into(),
        meta_list.join(","),
    ];
    let (child, line) = spawn(
        &args,
        &secret,
        dir,
        "router",
        "tessera router: listening on ",
    )?;
    let router = listed(None, &child, &line);
    children.push(child);
    Ok(Listing {
        router,
        meta,
        nodes,
    })
}

/// For meta members on loopback `ports`: the `--members` value (`1=host:port,...`)
/// and the list of addresses others reach them at.
pub fn meta_addresses(ports: &[u16]) -> (String, Vec<String>) {
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let members: Vec<String> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}={a}", i + 1))
        .collect();
    (members.join(","), addrs)
}

fn path_arg(path: &Path) -> anyhow::Result<String> {
    path.to_str()
        .map(String::from)
        .context("the data directory must be a UTF-8 path")
}

fn listed(id: Option<u64>, child: &Running, line: &str) -> Listed {
    Listed {
        id,
        pid: child.child.id(),
        addr: line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        resp: None,
        http: banner_note(line, "http on "),
    }
}

/// The value a process's "listening on" line gives after `label` (`"RESP on "`,
/// `"http on "`), up to the next `,` or `)`.
pub fn banner_note(line: &str, label: &str) -> Option<String> {
    let rest = line.split(label).nth(1)?;
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// The secret the children authenticate each other with: kept in the data directory
/// so a restarted playground's processes still recognise each other.
fn cluster_secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("cluster-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_string());
    }
    let secret = format!(
        "{:016x}{:016x}",
        tessera_common::identity::random(),
        tessera_common::identity::random()
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("create {}", path.display()))?;
    writeln!(file, "{secret}")?;
    file.sync_all()?;
    Ok(secret)
}

/// The meta members' ports: the ones of an earlier run if its listing is there (the
/// members' addresses are part of their configuration), else free ones.
fn meta_ports(dir: &Path, count: usize) -> anyhow::Result<Vec<u16>> {
    let path = dir.join("meta-ports");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let ports: Vec<u16> = text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if ports.len() == count {
            return Ok(ports);
        }
    }
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?;
    drop(listeners);
    let text: Vec<String> = ports.iter().map(u16::to_string).collect();
    std::fs::write(&path, text.join(" "))?;
    Ok(ports)
}

/// Starts `tessera <args>` with its log in `dir/<name>.log` and returns it with the
/// rest of its "listening on" line.
fn spawn(
    args: &[String],
    secret: &str,
    dir: &Path,
    name: &str,
    prefix: &str,
) -> anyhow::Result<(Running, String)> {
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("open {}", log_path.display()))?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(args)
        .env("TESSERA_CLUSTER_SECRET", secret)
        .env_remove("TESSERA_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.try_clone()?);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child
    // when the playground dies, so no child outlives it.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("start tessera {}", args[0]))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let prefix = prefix.to_string();
    std::thread::spawn(move || {
        let mut log = log;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let _ = tx.send(rest.to_string());
            }
            let _ = writeln!(log, "{line}");
        }
    });
    let running = Running {
        role: name.to_string(),
        child,
        exited: false,
    };
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => Ok((running, line)),
        Err(_) => {
            let mut running = running;
            let _ = running.child.kill();
            let _ = running.child.wait();
            bail!("{name} did not start; see {}", log_path.display())
        }
    }
}

fn print_listing(listing: &Listing, dir: &Path) {
    println!("tessera playground: listening on {}", listing.router.addr);
    println!("{:<8} {:>4} {:>8}  address", "role", "id", "pid");
    let rows = std::iter::once(("router", &listing.router))
        .chain(listing.meta.iter().map(|m| ("meta", m)))
        .chain(listing.nodes.iter().map(|n| ("node", n)));
    for (role, p) in rows {
        let id = p.id.map_or_else(|| "-".to_string(), |id| id.to_string());
        let resp = p.resp.as_deref().map(|r| format!(" (RESP {r})"));
        let http = p.http.as_deref().map(|h| format!(" (http {h})"));
        println!(
            "{role:<8} {id:>4} {:>8}  {}{}{}",
            p.pid,
            p.addr,
            resp.unwrap_or_default(),
            http.unwrap_or_default()
        );
    }
    println!(
        "processes listed in {}; kill -9 any pid to watch the cluster heal; Ctrl-C stops all",
        dir.join("playground.json").display()
    );
}

fn write_listing(listing: &Listing, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("playground.json");
    let tmp = dir.join("playground.json.tmp");
    let text = serde_json::to_string_pretty(listing)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

fn report_exits(children: &mut [Running]) {
    for running in children.iter_mut().filter(|r| !r.exited) {
        if let Ok(Some(status)) = running.child.try_wait() {
            running.exited = true;
            eprintln!(
                "tessera playground: {} (pid {}) exited: {status}; it is not restarted",
                running.role,
                running.child.id()
            );
        }
    }
}

/// SIGTERM every child, give them a few seconds to stop cleanly, then SIGKILL.
fn stop_all(children: &mut [Running]) {
    for running in children.iter() {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(running.child.id() as i32, libc::SIGTERM) };
    }
    let until = Instant::now() + Duration::from_secs(10);
    for running in children.iter_mut() {
        loop {
            match running.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= until => {
                    let _ = running.child.kill();
                    let _ = running.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}
