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

pub(crate) use super::unknown_subcommand;

/// A container's `HELP`: its usage, one status line each.
fn help(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status((*l).into())).collect())
}
