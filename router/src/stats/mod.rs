//! What a router counts about the commands it serves, for Redis's introspection
//! (`INFO commandstats|errorstats|latencystats`, `LATENCY HISTOGRAM`, `SLOWLOG`, the
//! latency monitor) and for Prometheus (`tessera_router_*`). Counting costs a few
//! atomic increments per command; `CONFIG RESETSTAT` starts the counts over.

mod histogram;
mod latency;
mod lookups;
mod rates;
mod slowlog;

pub use histogram::Histogram;
pub use latency::LatencyMonitor;
pub use lookups::Lookups;
pub use rates::{Rates, SAMPLE_EVERY};
pub use slowlog::SlowLog;

use bytes::Bytes;
use dashmap::DashMap;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_proto::reply::Reply;
use tessera_proto::spec::CommandSpec;

/// Redis stops counting new error codes after this many.
const MAX_ERROR_CODES: usize = 128;

/// The counts of one command (or `container|subcommand`).
pub struct CommandStats {
    /// As INFO names it: `get`, `client|list`.
    pub name: Box<str>,
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    latency: Histogram,
    /// In Redis's `@fast` category (its latency-monitor event is `fast-command`).
    pub fast: bool,
    /// Flagged `skip_slowlog` (EXEC).
    pub skip_slowlog: bool,
    /// Flagged `skip_monitor`.
    pub skip_monitor: bool,
    prom_calls: metrics::Counter,
    prom_seconds: metrics::Histogram,
}

impl CommandStats {
    fn new(name: &str, spec: &CommandSpec) -> Self {
        let label = name.to_string();
        Self {
            name: name.into(),
            calls: AtomicU64::new(0),
            usec: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency: Histogram::default(),
            fast: spec.acl.contains(&"@fast"),
            skip_slowlog: spec.flags.contains(&"skip_slowlog"),
            skip_monitor: spec.flags.contains(&"skip_monitor"),
            prom_calls: metrics::counter!("tessera_router_commands_total", "command" => label.clone()),
            prom_seconds: metrics::histogram!("tessera_router_command_duration_seconds", "command" => label),
        }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// Every command's counts, the error codes seen, the slow log and the latency monitor.
#[derive(Default)]
pub struct Stats {
    commands: DashMap<Box<str>, Arc<CommandStats>>,
    errors: Mutex<BTreeMap<String, u64>>,
    error_replies: AtomicU64,
    /// `SLOWLOG`.
    pub slowlog: SlowLog,
    /// `LATENCY LATEST|HISTORY`.
    pub latency: LatencyMonitor,
}

/// The code of an error reply: its first word (`ERR`, `WRONGTYPE`, `MOVED`).
fn error_code(reply: &Reply) -> Option<String> {
    let text: &[u8] = match reply {
        Reply::Error(text) => text.as_bytes(),
        Reply::RawError(raw) => raw,
        _ => return None,
    };
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let end = text.iter().position(|b| *b == b' ').unwrap_or(text.len());
    Some(String::from_utf8_lossy(&text[..end]).into_owned())
}

impl Stats {
    /// The counts of `name` (created on first use).
    pub fn command(&self, name: &str, spec: &CommandSpec) -> Arc<CommandStats> {
        if let Some(stats) = self.commands.get(name) {
            return stats.clone();
        }
        self.commands
            .entry(name.into())
            .or_insert_with(|| Arc::new(CommandStats::new(name, spec)))
            .clone()
    }

    /// A call of `command` that ran and answered `reply` after `elapsed`.
    pub fn finish(&self, command: &CommandStats, elapsed: Duration, reply: &Reply) {
        let ns = elapsed.as_nanos().min(u128::from(u64::MAX)) as u64;
        command.calls.fetch_add(1, Ordering::Relaxed);
        command.usec.fetch_add(ns / 1000, Ordering::Relaxed);
        command.latency.record(ns);
        command.prom_calls.increment(1);
        command.prom_seconds.record(elapsed.as_secs_f64());
        if reply.is_error() {
            command.failed.fetch_add(1, Ordering::Relaxed);
            self.count_error(reply);
        }
    }

    /// A call refused before it ran (wrong arity, not authenticated).
    pub fn reject(&self, command: Option<&CommandStats>, reply: &Reply) {
        if let Some(command) = command {
            command.rejected.fetch_add(1, Ordering::Relaxed);
        }
        self.count_error(reply);
    }

    /// Counts an error reply by its code (INFO errorstats, `tessera_router_errors_total`).
    pub fn count_error(&self, reply: &Reply) {
        let Some(code) = error_code(reply) else {
            return;
        };
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() >= MAX_ERROR_CODES && !errors.contains_key(&code) {
            return;
        }
        metrics::counter!("tessera_router_errors_total", "kind" => code.clone()).increment(1);
        *errors.entry(code).or_default() += 1;
    }

    /// Error replies since start (INFO's `total_error_replies`).
    pub fn error_replies(&self) -> u64 {
        self.error_replies.load(Ordering::Relaxed)
    }

    /// `CONFIG RESETSTAT`: every command count, histogram and error count starts over.
    pub fn reset(&self) {
        for command in self.commands.iter() {
            for counter in [
                &command.calls,
                &command.usec,
                &command.rejected,
                &command.failed,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            command.latency.reset();
        }
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.error_replies.store(0, Ordering::Relaxed);
    }

    /// Commands with at least one call or rejection, by name.
    fn used(&self) -> Vec<Arc<CommandStats>> {
        let mut used: Vec<_> = self
            .commands
            .iter()
            .filter(|c| c.calls() > 0 || c.rejected.load(Ordering::Relaxed) > 0)
            .map(|c| c.value().clone())
            .collect();
        used.sort_by(|a, b| a.name.cmp(&b.name));
        used
    }

    /// INFO's `# Commandstats` lines.
    pub fn write_commandstats(&self, out: &mut String) {
        for c in self.used() {
            let (calls, usec) = (c.calls(), c.usec.load(Ordering::Relaxed));
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                c.name,
                c.rejected.load(Ordering::Relaxed),
                c.failed.load(Ordering::Relaxed)
            );
        }
    }

    /// INFO's `# Errorstats` lines.
    pub fn write_errorstats(&self, out: &mut String) {
        for (code, count) in self.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = write!(out, "errorstat_{code}:count={count}\r\n");
        }
    }

    /// INFO's `# Latencystats` lines: p50, p99 and p99.9 per command, in µs.
    pub fn write_latencystats(&self, out: &mut String) {
        for c in self.used().into_iter().filter(|c| c.calls() > 0) {
            let p = c.latency.percentiles(&[50.0, 99.0, 99.9]);
            let us = |ns: u64| ns as f64 / 1000.0;
            let _ = write!(
                out,
                "latency_percentiles_usec_{}:p50={:.3},p99={:.3},p99.9={:.3}\r\n",
                c.name,
                us(p[0]),
                us(p[1]),
                us(p[2])
            );
        }
    }

    /// `LATENCY HISTOGRAM [command ...]`: the named commands (all when none are named)
    /// that have calls, each with its call count and cumulative power-of-two buckets.
    pub fn histograms(&self, names: &[Bytes]) -> Reply {
        let wanted = |c: &CommandStats| {
            names.is_empty()
                || names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(c.name.as_bytes()))
        };
        Reply::Map(
            self.used()
                .into_iter()
                .filter(|c| c.calls() > 0 && wanted(c))
                .map(|c| {
                    let buckets = c
                        .latency
                        .power_of_two_cdf()
                        .into_iter()
                        .map(|(us, n)| (Reply::Int(us as i64), Reply::Int(n as i64)))
                        .collect();
                    let body = Reply::Map(vec![
                        (Reply::bulk("calls"), Reply::Int(c.calls() as i64)),
                        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
                    ]);
                    (Reply::bulk(c.name.to_string()), body)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::op::Command;

    #[test]
    fn calls_failures_and_rejections_are_counted_per_command_and_code() {
        let stats = Stats::default();
        let spec = &tessera_proto::commands::strings::Get::SPEC;
        let get = stats.command("get", spec);
        stats.finish(&get, Duration::from_micros(10), &Reply::Nil);
        stats.finish(
            &get,
            Duration::from_micros(30),
            &Reply::Error("WRONGTYPE x".into()),
        );
        stats.reject(Some(&get), &Reply::err("wrong number of arguments"));
        stats.reject(None, &Reply::err("unknown command"));
        let mut out = String::new();
        stats.write_commandstats(&mut out);
        assert_eq!(
            out,
            "cmdstat_get:calls=2,usec=40,usec_per_call=20.00,rejected_calls=1,failed_calls=1\r\n"
        );
        out.clear();
        stats.write_errorstats(&mut out);
        assert_eq!(
            out,
            "errorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(stats.error_replies(), 3);
        stats.reset();
        out.clear();
        stats.write_commandstats(&mut out);
        assert_eq!(out, "");
    }
}
