//! Keyspace and expiry commands, and the commands that walk every range (SCAN, KEYS,
//! RANDOMKEY, DBSIZE, FLUSHALL). Ranges are visited in key order; each range is read
//! linearizably from its leader, in pages.

use super::strings::storage_key;
use super::{parse_int, syntax_error, Command, Keyless};
use crate::cluster::{Cluster, RouteError};
use crate::glob;
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use tessera_meta::catalog::{table_end, Catalog, RangeDesc, DEFAULT_TABLE_ID};
use tessera_server::ops::{ExpireCond, TtlForm};
use tessera_server::{DataRequest, DataResponse, Op};

/// Keys a SCAN call fetches at most, whatever COUNT says.
const MAX_SCAN_COUNT: usize = 100_000;
/// Keys fetched per range request by KEYS.
const KEYS_PAGE: u32 = 1_000;

fn keys(ctx: &Context, args: &[Bytes]) -> Result<Vec<Vec<u8>>, Reply> {
    args.iter().map(|k| storage_key(ctx, k)).collect()
}

fn parse_expire(ctx: &Context, name: &str, args: &[Bytes]) -> Result<Op, Reply> {
    let mut cond = ExpireCond::default();
    for opt in &args[3..] {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => cond.nx = true,
            b"xx" => cond.xx = true,
            b"gt" => cond.gt = true,
            b"lt" => cond.lt = true,
            _ => {
                return Err(Reply::err(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if cond.nx && (cond.xx || cond.gt || cond.lt) {
        return Err(Reply::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if cond.gt && cond.lt {
        return Err(Reply::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let invalid = || Reply::err(format!("invalid expire time in '{name}' command"));
    let mut when = parse_int(&args[2])?;
    if name == "expire" || name == "expireat" {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let relative = name == "expire" || name == "pexpire";
    if relative && when > i64::MAX - tessera_server::value::now_ms() as i64 {
        return Err(invalid());
    }
    Ok(Op::Expire {
        key: storage_key(ctx, &args[1])?,
        at: when,
        relative,
        cond,
    })
}

fn parse_copy(ctx: &Context, args: &[Bytes]) -> Result<Op, Reply> {
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        match args[j].to_ascii_lowercase().as_slice() {
            b"replace" => replace = true,
            b"db" if j + 1 < args.len() => {
                if parse_int(&args[j + 1])? != 0 {
                    return Err(Reply::err("DB index is out of range"));
                }
                j += 1;
            }
            _ => return Err(syntax_error()),
        }
        j += 1;
    }
    Ok(Op::Copy {
        from: storage_key(ctx, &args[1])?,
        to: storage_key(ctx, &args[2])?,
        replace,
    })
}

fn ttl(ctx: &Context, args: &[Bytes], millis: bool, absolute: bool) -> Result<Op, Reply> {
    Ok(Op::Ttl {
        key: storage_key(ctx, &args[1])?,
        form: TtlForm { millis, absolute },
    })
}

/// Parses a keyspace or expiry command; `None` if `name` is not one.
pub fn parse(ctx: &Context, name: &str, args: &[Bytes]) -> Option<Result<Command, Reply>> {
    let key = || storage_key(ctx, &args[1]);
    let op = match name {
        "del" | "unlink" => keys(ctx, &args[1..]).map(|keys| Op::Del { keys }),
        "exists" | "touch" => keys(ctx, &args[1..]).map(|keys| Op::Exists { keys }),
        "type" => key().map(|key| Op::Type { key }),
        "rename" | "renamenx" => key().and_then(|from| {
            Ok(Op::Rename {
                from,
                to: storage_key(ctx, &args[2])?,
                nx: name == "renamenx",
            })
        }),
        "copy" => parse_copy(ctx, args),
        "expire" | "pexpire" | "expireat" | "pexpireat" => parse_expire(ctx, name, args),
        "persist" => key().map(|key| Op::Persist { key }),
        "ttl" => ttl(ctx, args, false, false),
        "pttl" => ttl(ctx, args, true, false),
        "expiretime" => ttl(ctx, args, false, true),
        "pexpiretime" => ttl(ctx, args, true, true),
        "keys" => return Some(Ok(Command::Keyless(Keyless::Keys(args[1].clone())))),
        "scan" => return Some(parse_scan(args).map(|s| Command::Keyless(Keyless::Scan(s)))),
        "randomkey" => return Some(Ok(Command::Keyless(Keyless::RandomKey))),
        _ => return None,
    };
    Some(op.map(Command::Op))
}

/// Parsed SCAN arguments.
pub struct ScanArgs {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    only_strings: bool,
}

fn parse_scan(args: &[Bytes]) -> Result<ScanArgs, Reply> {
    let cursor = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("invalid cursor"))?;
    let mut parsed = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        only_strings: true,
    };
    let mut i = 2;
    while i < args.len() {
        let value = args.get(i + 1).ok_or_else(syntax_error)?;
        match args[i].to_ascii_lowercase().as_slice() {
            b"match" => parsed.pattern = Some(value.clone()),
            b"count" => {
                let n = parse_int(value)?;
                if n < 1 {
                    return Err(syntax_error());
                }
                parsed.count = (n as usize).min(MAX_SCAN_COUNT);
            }
            b"type" => parsed.only_strings = value.eq_ignore_ascii_case(b"string"),
            _ => return Err(syntax_error()),
        }
        i += 2;
    }
    Ok(parsed)
}

/// Runs a command over every range.
pub async fn run_keyless(ctx: &Context, keyless: Keyless) -> Reply {
    let result = match keyless {
        Keyless::DbSize => count_keys(ctx)
            .await
            .map(|(keys, _)| Reply::Int(keys as i64)),
        Keyless::Scan(args) => return scan(ctx, args).await,
        Keyless::Keys(pattern) => all_keys(ctx, &pattern).await,
        Keyless::RandomKey => random_key(ctx).await,
        Keyless::Flush => flush(ctx).await,
        Keyless::Info(sections) => return super::server::info(ctx, &sections).await,
    };
    result.unwrap_or_else(|e| Reply::Error(e.to_string()))
}

/// Live keys and keys with an expiry, over every range.
pub async fn count_keys(ctx: &Context) -> Result<(u64, u64), RouteError> {
    let per_table = count_keys_per_table(ctx).await?;
    Ok(per_table
        .values()
        .fold((0, 0), |(k, v), (tk, tv)| (k + tk, v + tv)))
}

/// Live keys and keys with an expiry, per table id.
pub async fn count_keys_per_table(
    ctx: &Context,
) -> Result<std::collections::BTreeMap<u32, (u64, u64)>, RouteError> {
    let catalog = ctx.cluster.catalog();
    let ranges: Vec<&RangeDesc> = catalog.ranges.values().collect();
    let calls = ranges
        .iter()
        .map(|r| ctx.cluster.call(&r.start, DataRequest::Count));
    let mut totals = std::collections::BTreeMap::new();
    for (range, result) in ranges.iter().zip(futures::future::join_all(calls).await) {
        if let DataResponse::Count { keys, volatile, .. } = result? {
            let entry: &mut (u64, u64) = totals.entry(range.table).or_default();
            entry.0 += keys;
            entry.1 += volatile;
        }
    }
    Ok(totals)
}

async fn flush(ctx: &Context) -> Result<Reply, RouteError> {
    let catalog = ctx.cluster.catalog();
    let calls = catalog
        .ranges
        .values()
        .map(|r| ctx.cluster.call(&r.start, DataRequest::Clear));
    for result in futures::future::join_all(calls).await {
        result?;
    }
    Ok(Reply::Ok)
}

/// Every range, tables in id order and ranges in key order.
fn all_ranges(catalog: &Catalog) -> Vec<RangeDesc> {
    let mut ranges: Vec<_> = catalog.ranges.values().cloned().collect();
    ranges.sort_by(|a, b| a.start.cmp(&b.start));
    ranges
}

/// The user-visible key of a storage key.
fn user_key(catalog: &Catalog, storage: &[u8]) -> Vec<u8> {
    let table = storage
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_be_bytes);
    let key = storage.get(4..).unwrap_or_default();
    match catalog.tables.get(&table) {
        Some(t) if t.id != DEFAULT_TABLE_ID => [t.name.as_bytes(), b":", key].concat(),
        _ => key.to_vec(),
    }
}

/// A stretch `[from, to)` of the user-visible key space that one table holds. Table
/// `t` holds exactly the keys starting with `t:` (`default` holds no such key: it is
/// fenced), i.e. `["t:", "t;")`; `default` holds the gaps between tables.
struct Segment {
    table: u32,
    prefix: Vec<u8>,
    to: Option<Vec<u8>>,
}

/// The segments of the user key space, in byte order.
fn segments(catalog: &Catalog) -> Vec<Segment> {
    let mut tables: Vec<_> = catalog
        .tables
        .values()
        .filter(|t| t.id != DEFAULT_TABLE_ID)
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for t in tables {
        let prefix = format!("{}:", t.name).into_bytes();
        out.push(Segment {
            table: DEFAULT_TABLE_ID,
            prefix: Vec::new(),
            to: Some(prefix.clone()),
        });
        out.push(Segment {
            table: t.id,
            prefix,
            to: Some(format!("{};", t.name).into_bytes()),
        });
    }
    out.push(Segment {
        table: DEFAULT_TABLE_ID,
        prefix: Vec::new(),
        to: None,
    });
    out
}

/// Reads up to `limit` user keys from `pos` on, in byte order across tables and ranges,
/// never past `stop`. Returns the keys and where to resume (`None`: nothing is left).
async fn list_keys(
    ctx: &Context,
    mut pos: Vec<u8>,
    stop: Option<&[u8]>,
    limit: usize,
) -> Result<(Vec<Vec<u8>>, Option<Vec<u8>>), RouteError> {
    let catalog = ctx.cluster.catalog();
    let mut out = Vec::new();
    for segment in segments(&catalog) {
        if segment.to.as_deref().is_some_and(|to| to <= pos.as_slice()) {
            continue;
        }
        if stop.is_some_and(|s| s <= pos.as_slice()) || out.len() >= limit {
            break;
        }
        // The user-level end of this stretch, then both ends as storage keys.
        let bound = match (segment.to.as_deref(), stop) {
            (Some(to), Some(s)) => Some(to.min(s)),
            (to, s) => to.or(s),
        };
        let from = storage_key_of(
            segment.table,
            &segment.prefix,
            pos.max(segment.prefix.clone()).as_slice(),
        );
        let end = match bound {
            None => table_end(segment.table),
            Some(b) if segment.table != DEFAULT_TABLE_ID && Some(b) == segment.to.as_deref() => {
                table_end(segment.table)
            }
            // Inside a table's stretch every key starts with its prefix.
            Some(b) => storage_key_of(segment.table, &segment.prefix, b),
        };
        let ranges = Cluster::table_ranges(&catalog, segment.table);
        let (keys, resume) = read_keys(ctx, &ranges, from, &end, limit - out.len()).await?;
        out.extend(keys.iter().map(|k| user_key(&catalog, k)));
        if let Some(resume) = resume {
            return Ok((out, Some(user_key(&catalog, &resume))));
        }
        match bound {
            Some(b) => pos = b.to_vec(),
            None => return Ok((out, None)),
        }
    }
    // Either the stop was reached, or `limit` keys were found with more to come.
    let done = stop.is_some_and(|s| s <= pos.as_slice());
    Ok((out, if done { None } else { Some(pos) }))
}

/// The storage key of user key `key` in the table whose keys carry `prefix`.
fn storage_key_of(table: u32, prefix: &[u8], key: &[u8]) -> Vec<u8> {
    tessera_meta::catalog::storage_key(table, key.get(prefix.len()..).unwrap_or_default())
}

/// Reads up to `limit` storage keys in `[pos, end)` from `ranges` (one table's, in key
/// order). Returns the keys and the storage key to resume from if `limit` was reached.
async fn read_keys(
    ctx: &Context,
    ranges: &[RangeDesc],
    mut pos: Vec<u8>,
    end: &[u8],
    limit: usize,
) -> Result<(Vec<Vec<u8>>, Option<Vec<u8>>), RouteError> {
    let mut keys = Vec::new();
    for range in ranges {
        if range.end.as_slice() <= pos.as_slice() || range.start.as_slice() >= end {
            continue;
        }
        if keys.len() >= limit {
            return Ok((keys, Some(pos)));
        }
        let start = pos.clone().max(range.start.clone());
        let stop = range.end.as_slice().min(end).to_vec();
        let page = (limit - keys.len()).min(ctx.scan_page) as u32;
        ctx.count_scan_read(range.table);
        let req = DataRequest::Scan {
            start: start.clone(),
            end: stop.clone(),
            limit: page,
        };
        if let DataResponse::Keys { keys: found, done } = ctx.cluster.call(&start, req).await? {
            if let Some(last) = found.last() {
                pos = [last.as_slice(), &[0]].concat();
            }
            keys.extend(found);
            if !done {
                return Ok((keys, Some(pos)));
            }
        }
        pos = stop;
    }
    Ok((keys, None))
}

async fn scan(ctx: &Context, args: ScanArgs) -> Reply {
    let literal = args
        .pattern
        .as_deref()
        .map(glob::literal_prefix)
        .unwrap_or_default();
    let stop = (!literal.is_empty())
        .then(|| prefix_end(&literal))
        .flatten();
    let pos = if args.cursor == 0 {
        literal.clone()
    } else {
        match ctx.cursors.get(args.cursor) {
            Some(pos) => pos,
            None => {
                return Reply::err("invalid cursor (unknown or expired; restart the scan from 0)")
            }
        }
    };
    let (keys, resume) = match list_keys(ctx, pos, stop.as_deref(), args.count).await {
        Ok(found) => found,
        Err(e) => return Reply::Error(e.to_string()),
    };
    let next = resume.map_or(0, |pos| ctx.cursors.insert(pos));
    let visible = keys
        .into_iter()
        .filter(|k| args.only_strings && args.pattern.as_ref().is_none_or(|p| glob::matches(p, k)))
        .map(|k| Reply::Bulk(Bytes::from(k)))
        .collect();
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(visible)])
}

/// The first key after every key that starts with `prefix` (`None`: there is none).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

async fn all_keys(ctx: &Context, pattern: &[u8]) -> Result<Reply, RouteError> {
    let literal = glob::literal_prefix(pattern);
    let stop = (!literal.is_empty())
        .then(|| prefix_end(&literal))
        .flatten();
    let mut pos = literal;
    let mut out = Vec::new();
    loop {
        let (keys, resume) = list_keys(ctx, pos, stop.as_deref(), KEYS_PAGE as usize).await?;
        out.extend(
            keys.into_iter()
                .filter(|k| glob::matches(pattern, k))
                .map(|k| Reply::Bulk(Bytes::from(k))),
        );
        match resume {
            Some(next) => pos = next,
            None => return Ok(Reply::Array(out)),
        }
    }
}

async fn random_key(ctx: &Context) -> Result<Reply, RouteError> {
    let catalog = ctx.cluster.catalog();
    let ranges = all_ranges(&catalog);
    if ranges.is_empty() {
        return Ok(Reply::Nil);
    }
    let seed = random_u64();
    let first = (seed % ranges.len() as u64) as usize;
    // Start at a random point of a random range; wrap around once.
    let mut probe = ranges[first].start.clone();
    probe.extend_from_slice(&(seed >> 8).to_be_bytes()[..3]);
    let rotated: Vec<RangeDesc> = ranges[first..]
        .iter()
        .chain(&ranges[..first])
        .cloned()
        .collect();
    for start in [probe, rotated[0].start.clone()] {
        let (keys, _) = read_keys(ctx, &rotated, start, &[0xff; 5], 1).await?;
        if let Some(key) = keys.first() {
            return Ok(Reply::Bulk(Bytes::from(user_key(&catalog, key))));
        }
    }
    let (keys, _) = read_keys(ctx, &ranges, ranges[0].start.clone(), &[0xff; 5], 1).await?;
    Ok(keys.first().map_or(Reply::Nil, |k| {
        Reply::Bulk(Bytes::from(user_key(&catalog, k)))
    }))
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
