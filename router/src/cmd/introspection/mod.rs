//! Redis's introspection of a server, answered by the router about the commands it
//! serves: `SLOWLOG`, `LATENCY`, `MONITOR` (INFO's statistics sections are in
//! `keyless::info`, `CLIENT` in `connection`).

mod latency;
mod monitor;
mod slowlog;

pub use latency::Latency;
pub use monitor::Monitor;
pub use slowlog::Slowlog;

use tessera_proto::reply::Reply;

/// A container's reply to a subcommand it does not know.
fn unknown_subcommand(container: &str, sub: &[u8]) -> Reply {
    Reply::err(format!(
        "unknown subcommand '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// A container's `HELP`: its usage, one status line each.
fn help(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status((*l).into())).collect())
}
