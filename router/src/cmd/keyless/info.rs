//! `INFO [section ...]`: Redis's sections that clients read, plus `# Tessera`.

use super::listing::count_per_table;
use crate::cmd::{ClusterCommand, Parsed};
use crate::{Context, REDIS_VERSION};
use futures::future::BoxFuture;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `INFO`: the sections asked for (`all`, `everything`, `default` or none: every one).
pub struct Info(Vec<String>);

impl Command for Info {
    const SPEC: CommandSpec = spec! {
        "info", -1, ["loading", "stale"], (0, 0, 0), ["@slow", "@dangerous"],
        "server", "1.0.0", "Get information and statistics about the server"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let mut wanted = Vec::new();
        while let Some(section) = args.option() {
            wanted.push(section);
        }
        Ok(Parsed::cluster(Info(wanted)))
    }
}

impl ClusterCommand for Info {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move { self.report(&ctx).await })
    }
}

impl Info {
    /// Whether `section` is asked for: by name, by `all`/`everything`, or (for the
    /// default sections, all but `commandstats` and `latencystats`) by `default` or no
    /// argument.
    fn wants(&self, section: &str) -> bool {
        let default = !matches!(section, "commandstats" | "latencystats");
        (default && self.0.is_empty())
            || self.0.iter().any(|w| {
                w == section || w == "all" || w == "everything" || (default && w == "default")
            })
    }

    async fn report(&self, ctx: &Context) -> Reply {
        let mut out = String::new();
        if self.wants("server") {
            let uptime = ctx.started.elapsed().as_secs();
            let _ = write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nos:{} {}\r\n\
                 arch_bits:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\nexecutable:tessera\r\ntessera_version:{}\r\n\r\n",
                std::env::consts::OS,
                std::env::consts::ARCH,
                usize::BITS,
                std::process::id(),
                ctx.port,
                uptime / 86_400,
                env!("CARGO_PKG_VERSION"),
            );
        }
        if self.wants("clients") {
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\n\r\n",
                ctx.connected(),
                ctx.blocked.count()
            );
        }
        if self.wants("stats") {
            ctx.lookups.refresh(&ctx.cluster).await;
            let lookups = ctx.lookups.total();
            let [ops, input, output] = ctx.rates.per_second();
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\n\
                 total_net_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\n\
                 instantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\n\
                 keyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{}\r\n\r\n",
                ctx.connections_received(),
                ctx.commands_processed(),
                ops.round() as u64,
                ctx.net_input_bytes.load(Ordering::Relaxed),
                ctx.net_output_bytes.load(Ordering::Relaxed),
                input / 1024.0,
                output / 1024.0,
                ctx.rejected_connections(),
                lookups.keyspace_hits,
                lookups.keyspace_misses,
                ctx.stats.error_replies(),
            );
        }
        if self.wants("commandstats") {
            out.push_str("# Commandstats\r\n");
            ctx.stats.write_commandstats(&mut out);
            out.push_str("\r\n");
        }
        if self.wants("errorstats") {
            out.push_str("# Errorstats\r\n");
            ctx.stats.write_errorstats(&mut out);
            out.push_str("\r\n");
        }
        if self.wants("latencystats") {
            out.push_str("# Latencystats\r\n");
            ctx.stats.write_latencystats(&mut out);
            out.push_str("\r\n");
        }
        if self.wants("cluster") {
            out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
        }
        if self.wants("keyspace") {
            keyspace(ctx, &mut out).await;
        }
        if self.wants("tessera") {
            tessera(ctx, &mut out);
        }
        Reply::Verbatim(out.trim_end_matches("\r\n").to_string() + "\r\n")
    }
}

async fn keyspace(ctx: &Context, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    if let Ok(per_table) = count_per_table(ctx).await {
        let keys: u64 = per_table.values().map(|c| c.keys).sum();
        let volatile: u64 = per_table.values().map(|c| c.volatile).sum();
        if keys > 0 {
            let _ = write!(out, "db0:keys={keys},expires={volatile},avg_ttl=0\r\n");
        }
        let catalog = ctx.cluster.catalog();
        // Like Redis's empty databases, empty tables get no line.
        for (table, counted) in per_table.into_iter().filter(|(_, c)| c.keys > 0) {
            if let Some(t) = catalog.tables.get(&table) {
                let (name, keys, volatile) = (&t.name, counted.keys, counted.volatile);
                let _ = write!(out, "table_{name}:keys={keys},expires={volatile}\r\n");
            }
        }
    }
    out.push_str("\r\n");
}

fn tessera(ctx: &Context, out: &mut String) {
    let catalog = ctx.cluster.catalog();
    let _ = write!(
        out,
        "# Tessera\r\ncatalog_version:{}\r\nnodes:{}\r\ntables:{}\r\nranges:{}\r\ngroups:{}\r\n",
        catalog.version,
        catalog.nodes.len(),
        catalog.tables.len(),
        catalog.ranges.len(),
        catalog.groups.len()
    );
    let c = &catalog.counters;
    let _ = write!(
        out,
        "range_splits:{}\r\nrange_merges:{}\r\nreplica_moves:{}\r\nleader_transfers:{}\r\n",
        c.splits, c.merges, c.replica_moves, c.leader_transfers
    );
    for (table, count) in ctx.scan_reads() {
        let name = catalog
            .tables
            .get(&table)
            .map_or_else(|| table.to_string(), |t| t.name.clone());
        let _ = write!(out, "scan_range_reads_{name}:{count}\r\n");
    }
    out.push_str("\r\n");
}
