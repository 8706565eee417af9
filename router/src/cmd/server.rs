//! Server commands over the whole keyspace: DBSIZE, FLUSHALL, FLUSHDB, INFO.

use super::{syntax_error, Command, Keyless};
use crate::reply::Reply;
use crate::{Context, REDIS_VERSION};
use bytes::Bytes;

/// Parses a server command; `None` if `name` is not one.
pub fn parse(name: &str, args: &[Bytes]) -> Option<Result<Command, Reply>> {
    let keyless = match name {
        "dbsize" => Keyless::DbSize,
        "flushall" | "flushdb" => {
            let mode_ok = match args.len() {
                1 => true,
                2 => matches!(args[1].to_ascii_lowercase().as_slice(), b"async" | b"sync"),
                _ => false,
            };
            if !mode_ok {
                return Some(Err(syntax_error()));
            }
            Keyless::Flush
        }
        "info" => Keyless::Info(args[1..].to_vec()),
        _ => return None,
    };
    Some(Ok(Command::Keyless(keyless)))
}

/// `INFO [section ...]`: Redis's sections that clients read, plus `# Tessera`.
pub async fn info(ctx: &Context, sections: &[Bytes]) -> Reply {
    let wanted: Vec<String> = sections
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "everything" || w == "default");
    let want = |s: &str| all || wanted.iter().any(|w| w == s);
    let mut out = String::new();
    if want("server") {
        out.push_str(&format!(
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nos:{} {}\r\n\
             arch_bits:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\n\
             uptime_in_days:{}\r\nexecutable:tessera\r\ntessera_version:{}\r\n\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            usize::BITS,
            std::process::id(),
            ctx.port,
            ctx.started.elapsed().as_secs(),
            ctx.started.elapsed().as_secs() / 86_400,
            env!("CARGO_PKG_VERSION"),
        ));
    }
    if want("clients") {
        out.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\n\r\n",
            ctx.connected()
        ));
    }
    if want("stats") {
        out.push_str(&format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\r\n",
            ctx.connections_received(),
            ctx.commands_processed()
        ));
    }
    if want("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        if let Ok(per_table) = super::keyspace::count_keys_per_table(ctx).await {
            let (keys, volatile) = per_table
                .values()
                .fold((0, 0), |(k, v), (tk, tv)| (k + tk, v + tv));
            if keys > 0 {
                out.push_str(&format!("db0:keys={keys},expires={volatile},avg_ttl=0\r\n"));
            }
            let catalog = ctx.cluster.catalog();
            // Like Redis's empty databases, empty tables get no line.
            for (table, (keys, volatile)) in per_table.into_iter().filter(|(_, (k, _))| *k > 0) {
                if let Some(t) = catalog.tables.get(&table) {
                    out.push_str(&format!(
                        "table_{}:keys={keys},expires={volatile}\r\n",
                        t.name
                    ));
                }
            }
        }
        out.push_str("\r\n");
    }
    if want("tessera") {
        let catalog = ctx.cluster.catalog();
        out.push_str(&format!(
            "# Tessera\r\ncatalog_version:{}\r\nnodes:{}\r\ntables:{}\r\nranges:{}\r\ngroups:{}\r\n",
            catalog.version,
            catalog.nodes.len(),
            catalog.tables.len(),
            catalog.ranges.len(),
            catalog.groups.len()
        ));
        let reads = ctx
            .scan_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (table, count) in reads {
            let name = catalog
                .tables
                .get(&table)
                .map_or_else(|| table.to_string(), |t| t.name.clone());
            out.push_str(&format!("scan_range_reads_{name}:{count}\r\n"));
        }
        out.push_str("\r\n");
    }
    Reply::Verbatim(out.trim_end_matches("\r\n").to_string() + "\r\n")
}
