//! Keyspace commands: DEL, EXISTS, DBSIZE, SCAN. Multi-key commands fan out per range
//! in parallel and are atomic per range, not across ranges.

use super::strings::checked_key;
use super::{parse_int, syntax_error};
use crate::cluster::{Cluster, RouteError};
use crate::glob;
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use std::collections::BTreeMap;
use tessera_meta::catalog::{Catalog, RangeDesc, DEFAULT_TABLE_ID};
use tessera_server::{DataRequest, DataResponse, WriteOp, WriteResult};

/// Storage keys grouped by the range that holds them (keyed by range start).
fn by_range(ctx: &Context, keys: &[Bytes]) -> Result<BTreeMap<Vec<u8>, Vec<Vec<u8>>>, Reply> {
    let catalog = ctx.cluster.catalog();
    let mut groups: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for key in keys {
        let storage = checked_key(ctx, key)?;
        let anchor = Cluster::range_for(&catalog, &storage)
            .map_or_else(|| storage.clone(), |r| r.start.clone());
        groups.entry(anchor).or_default().push(storage);
    }
    Ok(groups)
}

async fn count_per_range(
    ctx: &Context,
    keys: &[Bytes],
    make: impl Fn(Vec<Vec<u8>>) -> DataRequest,
) -> Reply {
    let groups = match by_range(ctx, keys) {
        Ok(groups) => groups,
        Err(reply) => return reply,
    };
    let calls = groups.into_values().map(|keys| {
        let anchor = keys[0].clone();
        let req = make(keys);
        async move { ctx.cluster.call(&anchor, req).await }
    });
    let mut total = 0;
    for result in futures::future::join_all(calls).await {
        match result {
            Ok(DataResponse::Count(n)) => total += n,
            Ok(DataResponse::Written(results)) => {
                for r in results {
                    if let WriteResult::Count(n) = r {
                        total += n;
                    }
                }
            }
            Ok(_) => return Reply::err("unexpected reply from storage node"),
            Err(e) => return Reply::Error(e.to_string()),
        }
    }
    Reply::Int(total as i64)
}

pub async fn del(ctx: &Context, args: &[Bytes]) -> Reply {
    count_per_range(ctx, &args[1..], |keys| {
        DataRequest::Write(vec![WriteOp::Del { keys }])
    })
    .await
}

pub async fn exists(ctx: &Context, args: &[Bytes]) -> Reply {
    count_per_range(ctx, &args[1..], |keys| DataRequest::Exists { keys }).await
}

/// Live keys in every range of every table.
pub async fn count_keys(ctx: &Context) -> Result<u64, RouteError> {
    let catalog = ctx.cluster.catalog();
    let calls = catalog
        .ranges
        .values()
        .map(|r| ctx.cluster.call(&r.start, DataRequest::Count));
    let mut total = 0;
    for result in futures::future::join_all(calls).await {
        if let DataResponse::Count(n) = result? {
            total += n;
        }
    }
    Ok(total)
}

pub async fn dbsize(ctx: &Context) -> Reply {
    match count_keys(ctx).await {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => Reply::Error(e.to_string()),
    }
}

/// Every range, tables in id order and ranges in key order.
fn all_ranges(catalog: &Catalog) -> Vec<RangeDesc> {
    let mut ranges: Vec<_> = catalog.ranges.values().cloned().collect();
    ranges.sort_by(|a, b| a.start.cmp(&b.start));
    ranges
}

/// The user-visible key of a storage key.
fn user_key(catalog: &Catalog, storage: &[u8]) -> Vec<u8> {
    let table = u32::from_be_bytes(storage[..4].try_into().unwrap_or_default());
    let key = &storage[4..];
    match catalog.tables.get(&table) {
        Some(t) if t.id != DEFAULT_TABLE_ID => [t.name.as_bytes(), b":", key].concat(),
        _ => key.to_vec(),
    }
}

struct ScanArgs {
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
        let opt = args[i].to_ascii_lowercase();
        let value = args.get(i + 1).ok_or_else(syntax_error)?;
        match opt.as_slice() {
            b"match" => parsed.pattern = Some(value.clone()),
            b"count" => {
                let n = parse_int(value)?;
                if n < 1 {
                    return Err(syntax_error());
                }
                parsed.count = n.min(100_000) as usize;
            }
            b"type" => parsed.only_strings = value.eq_ignore_ascii_case(b"string"),
            _ => return Err(syntax_error()),
        }
        i += 2;
    }
    Ok(parsed)
}

pub async fn scan(ctx: &Context, args: &[Bytes]) -> Reply {
    let parsed = match parse_scan(args) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let catalog = ctx.cluster.catalog();
    let ranges = all_ranges(&catalog);
    let mut pos = if parsed.cursor == 0 {
        ranges.first().map(|r| r.start.clone()).unwrap_or_default()
    } else {
        match ctx.cursors.get(parsed.cursor) {
            Some(pos) => pos,
            None => {
                return Reply::err("invalid cursor (unknown or expired; restart the scan from 0)")
            }
        }
    };
    let mut keys = Vec::new();
    let mut finished = true;
    for range in &ranges {
        if range.end <= pos {
            continue;
        }
        if keys.len() >= parsed.count {
            finished = false;
            break;
        }
        let start = pos.clone().max(range.start.clone());
        let limit = (parsed.count - keys.len()) as u32;
        let req = DataRequest::Scan {
            start: start.clone(),
            end: range.end.clone(),
            limit,
        };
        match ctx.cluster.call(&start, req).await {
            Ok(DataResponse::Keys { keys: page, done }) => {
                if let Some(last) = page.last() {
                    pos = [last.as_slice(), &[0]].concat();
                }
                keys.extend(page);
                if !done {
                    finished = false;
                    break;
                }
                pos = range.end.clone();
            }
            Ok(_) => return Reply::err("unexpected reply from storage node"),
            Err(e) => return Reply::Error(e.to_string()),
        }
    }
    let next = if finished { 0 } else { ctx.cursors.insert(pos) };
    let visible = keys
        .iter()
        .map(|k| user_key(&catalog, k))
        .filter(|k| {
            parsed.only_strings && parsed.pattern.as_ref().is_none_or(|p| glob::matches(p, k))
        })
        .map(|k| Reply::Bulk(Bytes::from(k)))
        .collect();
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(visible)])
}
