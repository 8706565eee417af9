//! `CONFIG GET|SET|RESETSTAT`.

use crate::cmd::Session;
use crate::cmd::{ClusterCommand, Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
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
}

/// `CONFIG RESETSTAT`: the router's statistics start over, and so do the nodes'
/// counts of key lookups as INFO reports them.
pub struct ResetStat;

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
            "resetstat" if rest.is_empty() => return Ok(Parsed::cluster(ResetStat)),
            "get" | "set" | "resetstat" => return Err(wrong_arity(&format!("config|{sub}"))),
            _ => return Err(crate::cmd::unknown_subcommand("CONFIG", &raw)),
        };
        Ok(Parsed::session(config))
    }
}

impl SessionCommand for Config {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        match *self {
            Config::Get(patterns) => get(ctx, &patterns),
            Config::Set(pairs) => set(ctx, &pairs),
        }
    }
}

impl ClusterCommand for ResetStat {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            ctx.lookups.reset(&ctx.cluster).await;
            ctx.reset_stats();
            Reply::Ok
        })
    }
}

/// Configuration parameters `CONFIG GET` reports, with Tessera's values.
fn params(ctx: &Context) -> Vec<(&'static str, String)> {
    let stats = &ctx.stats;
    vec![
        ("appendonly", "yes".into()),
        ("databases", "1".into()),
        (
            "latency-monitor-threshold",
            stats
                .latency
                .threshold_ms
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        ("latency-tracking", "yes".into()),
        ("latency-tracking-info-percentiles", "50 99 99.9".into()),
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
        (
            "slowlog-log-slower-than",
            stats
                .slowlog
                .slower_than
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "slowlog-max-len",
            stats.slowlog.max_len.load(Ordering::Relaxed).to_string(),
        ),
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

/// What `CONFIG SET` may change at run time.
enum Setting {
    MaxClients(usize),
    SlowerThan(i64),
    SlowlogLen(usize),
    LatencyThreshold(u64),
}

fn not_an_integer(name: &str) -> Reply {
    Reply::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
    ))
}

/// A value that must be an integer within `min..`.
fn at_least(name: &str, value: &[u8], min: i64) -> Result<i64, Reply> {
    match parse_redis_int(value) {
        Some(n) if n >= min => Ok(n),
        Some(_) => Err(Reply::err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - argument must be between {min} and 9223372036854775807 inclusive"
        ))),
        None => Err(not_an_integer(name)),
    }
}

/// `maxclients`, the slow log's and the latency monitor's settings change at run time;
/// nothing changes unless every pair is accepted.
fn set(ctx: &Context, pairs: &[Bytes]) -> Reply {
    let mut settings = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = &pair[1];
        let setting = match name.as_str() {
            "maxclients" => match parse_redis_int(value) {
                Some(n) if n >= 1 => Ok(Setting::MaxClients(n as usize)),
                _ => Err(not_an_integer(&name)),
            },
            "slowlog-log-slower-than" => parse_redis_int(value)
                .map(Setting::SlowerThan)
                .ok_or_else(|| not_an_integer(&name)),
            "slowlog-max-len" => at_least(&name, value, 0).map(|n| Setting::SlowlogLen(n as usize)),
            "latency-monitor-threshold" => {
                at_least(&name, value, 0).map(|n| Setting::LatencyThreshold(n as u64))
            }
            _ if params(ctx).iter().any(|(p, _)| *p == name) => Err(Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - Tessera cannot change it at run time"
            ))),
            _ => Err(Reply::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ))),
        };
        match setting {
            Ok(setting) => settings.push(setting),
            Err(reply) => return reply,
        }
    }
    for setting in settings {
        match setting {
            Setting::MaxClients(n) => ctx.max_clients.store(n, Ordering::Relaxed),
            Setting::SlowerThan(us) => ctx.stats.slowlog.slower_than.store(us, Ordering::Relaxed),
            Setting::SlowlogLen(n) => ctx.stats.slowlog.max_len.store(n, Ordering::Relaxed),
            Setting::LatencyThreshold(ms) => {
                ctx.stats.latency.threshold_ms.store(ms, Ordering::Relaxed)
            }
        }
    }
    Reply::Ok
}
