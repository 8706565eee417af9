//! `LATENCY LATEST|HISTORY|RESET|HISTOGRAM|DOCTOR|GRAPH|HELP`: the latency monitor
//! (`latency-monitor-threshold`) and the per-command latency histograms.

use super::{help, unknown_subcommand};
use crate::cmd::{Parsed, Session, SessionCommand};
use crate::Context;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// A `LATENCY` subcommand.
pub enum Latency {
    /// `LATENCY LATEST`.
    Latest,
    /// `LATENCY HISTORY event`.
    History(Bytes),
    /// `LATENCY RESET [event ...]`.
    Reset(Vec<Bytes>),
    /// `LATENCY HISTOGRAM [command ...]`.
    Histogram(Vec<Bytes>),
    /// `LATENCY DOCTOR`.
    Doctor,
    /// `LATENCY GRAPH event`.
    Graph(Bytes),
}

impl Command for Latency {
    const SPEC: CommandSpec = spec! {
        "latency", -2, [], (0, 0, 0), ["@slow"],
        "server", "2.8.13", "A container for latency diagnostics commands"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let raw = args.arg()?;
        let sub = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let mut rest = args.rest();
        let latency =
            match (sub.as_str(), rest.len()) {
                ("latest", 0) => Latency::Latest,
                ("history", 1) => Latency::History(rest.remove(0)),
                ("graph", 1) => Latency::Graph(rest.remove(0)),
                ("doctor", 0) => Latency::Doctor,
                ("reset", _) => Latency::Reset(rest),
                ("histogram", _) => Latency::Histogram(rest),
                ("help", 0) => return Ok(Parsed::Reply(help(&[
                    "LATENCY <subcommand> [<arg> ...]. Subcommands are:",
                    "LATEST",
                    "    The latest and the largest sample of every event.",
                    "HISTORY <event>",
                    "    The samples of <event>: [time, latency in ms].",
                    "RESET [<event> ...]",
                    "    Forget the samples of the events (all when none are named).",
                    "HISTOGRAM [<command> ...]",
                    "    Cumulative latency histograms of the commands (all when none are named).",
                    "DOCTOR",
                    "    A summary of the samples.",
                    "GRAPH <event>",
                    "    The samples of <event>, one line each.",
                    "HELP",
                    "    This text.",
                ]))),
                ("latest" | "history" | "graph" | "doctor" | "help", _) => {
                    return Err(wrong_arity(&format!("latency|{sub}")))
                }
                _ => return Err(unknown_subcommand("LATENCY", &raw)),
            };
        Ok(Parsed::session(latency))
    }
}

impl SessionCommand for Latency {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        let monitor = &ctx.stats.latency;
        match *self {
            Latency::Latest => monitor.latest(),
            Latency::History(event) => monitor.history(&event),
            Latency::Reset(events) => Reply::Int(monitor.reset(&events) as i64),
            Latency::Histogram(commands) => ctx.stats.histograms(&commands),
            Latency::Doctor => Reply::Verbatim(doctor(ctx)),
            Latency::Graph(event) => match monitor.history(&event) {
                Reply::Array(samples) if !samples.is_empty() => {
                    let mut out = format!(
                        "{} - samples (unix time, ms)\n",
                        String::from_utf8_lossy(&event)
                    );
                    for sample in samples {
                        if let Reply::Array(pair) = sample {
                            if let [Reply::Int(t), Reply::Int(ms)] = pair.as_slice() {
                                let _ = writeln!(out, "{t} {ms}");
                            }
                        }
                    }
                    Reply::Verbatim(out)
                }
                _ => Reply::err(format!(
                    "No samples available for event '{}'",
                    String::from_utf8_lossy(&event)
                )),
            },
        }
    }
}

fn doctor(ctx: &Context) -> String {
    let threshold = ctx.stats.latency.threshold_ms.load(Ordering::Relaxed);
    if threshold == 0 {
        return "Latency monitoring is disabled on this router. Enable it with \
                \"CONFIG SET latency-monitor-threshold <milliseconds>\".\n"
            .into();
    }
    let summary = ctx.stats.latency.summary();
    if summary.is_empty() {
        return format!("No command took {threshold} ms or more since the last reset.\n");
    }
    let mut out = format!("Events that took {threshold} ms or more:\n");
    for (event, samples, latest, max) in summary {
        let _ = writeln!(
            out,
            "{event}: {samples} samples, latest {latest} ms, worst {max} ms"
        );
    }
    out
}
