//! `CONFIG GET|SET|RESETSTAT`.

use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use tessera_proto::args::Args;
use tessera_proto::number::parse_redis_int;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// A `CONFIG` subcommand.
pub enum Config {
    /// `CONFIG GET pattern [pattern ...]`.
    Get(Vec<Bytes>),
    /// `CONFIG SET name value [name value ...]`.
    Set(Vec<Bytes>),
    /// `CONFIG RESETSTAT`.
    ResetStat,
}

impl Command for Config {
    const SPEC: CommandSpec = spec! {
        "config", -2, [], (0, 0, 0), ["@slow"],
        "server", "2.0.0", "A container for server configuration commands"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let raw = args.arg()?;
        let sub = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let rest = args.rest();
        let config = match sub.as_str() {
            "get" if !rest.is_empty() => Config::Get(rest),
            "set" if rest.len() >= 2 && rest.len().is_multiple_of(2) => Config::Set(rest),
            "resetstat" if rest.is_empty() => Config::ResetStat,
            "get" | "set" | "resetstat" => return Err(wrong_arity(&format!("config|{sub}"))),
            _ => {
                let sub = String::from_utf8_lossy(&raw);
                return Err(Reply::err(format!(
                    "unknown subcommand '{sub}'. Try CONFIG HELP."
                )));
            }
        };
        Ok(Parsed::session(config))
    }
}

impl SessionCommand for Config {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        match *self {
            Config::Get(patterns) => get(ctx, &patterns),
            Config::Set(pairs) => set(ctx, &pairs),
            Config::ResetStat => Reply::Ok,
        }
    }
}

/// Configuration parameters `CONFIG GET` reports, with Tessera's values.
fn params(ctx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("appendonly", "yes".into()),
        ("databases", "1".into()),
        ("max-value-bytes", ctx.max_value_bytes.to_string()),
        (
            "maxclients",
            ctx.max_clients.load(Ordering::Relaxed).to_string(),
        ),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("port", ctx.port.to_string()),
        ("proto-max-bulk-len", ctx.max_bulk_bytes.to_string()),
        ("requirepass", ctx.requirepass.clone().unwrap_or_default()),
        ("save", String::new()),
        ("timeout", "0".into()),
    ]
}

fn get(ctx: &Context, patterns: &[Bytes]) -> Reply {
    let matching = params(ctx).into_iter().filter(|(name, _)| {
        patterns
            .iter()
            .any(|p| crate::glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
    });
    Reply::Map(
        matching
            .map(|(name, value)| (Reply::bulk(name), Reply::bulk(value)))
            .collect(),
    )
}

/// Only `maxclients` can change at run time; nothing changes unless every pair is
/// accepted.
fn set(ctx: &Context, pairs: &[Bytes]) -> Reply {
    let mut max_clients = None;
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        match name.as_str() {
            "maxclients" => match parse_redis_int(&pair[1]) {
                Some(n) if n >= 1 => max_clients = Some(n as usize),
                _ => {
                    return Reply::err(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
                    ))
                }
            },
            _ if params(ctx).iter().any(|(p, _)| *p == name) => {
                return Reply::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - Tessera cannot change it at run time"
                ))
            }
            _ => {
                return Reply::err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ))
            }
        }
    }
    if let Some(n) = max_clients {
        ctx.max_clients.store(n, Ordering::Relaxed);
    }
    Reply::Ok
}
