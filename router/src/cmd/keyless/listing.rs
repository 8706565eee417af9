//! Walking the key space in byte order across tables and ranges, by position: each
//! request goes to the range holding the current position and answers where the walk
//! continues, so a range map that is out of date (a split, a merge) never makes the
//! walk skip or repeat a key.

use crate::Context;
use bytes::Bytes;
use std::collections::BTreeMap;
use tessera_proto::call::CallError;
use tessera_proto::catalog::{Catalog, TableId, DEFAULT_TABLE_ID};
use tessera_proto::data::{DataRequest, DataResponse};
use tessera_proto::keys::{storage_key, table_end};

/// A stretch `[from, to)` of the user-visible key space that one table holds. Table
/// `t` holds exactly the keys starting with `t:` (`default` holds no such key: it is
/// fenced), i.e. `["t:", "t;")`; `default` holds the gaps between tables.
struct Segment {
    table: TableId,
    prefix: Vec<u8>,
    to: Option<Vec<u8>>,
}

/// The segments of the user key space, in byte order.
fn segments(catalog: &Catalog) -> Vec<Segment> {
    let mut tables: Vec<_> = catalog
        .tables
        .values()
        .filter(|t| t.id != DEFAULT_TABLE_ID && catalog.active_table(&t.name).is_some())
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

/// The storage key of user key `key` in the table whose keys carry `prefix`.
fn storage_key_of(table: TableId, prefix: &[u8], key: &[u8]) -> Vec<u8> {
    storage_key(table, key.get(prefix.len()..).unwrap_or_default())
}

/// Reads up to `limit` user keys from `pos` on, in byte order across tables and ranges,
/// never past `stop`. Returns the keys and where to resume (`None`: nothing is left).
pub async fn list_keys(
    ctx: &Context,
    mut pos: Vec<u8>,
    stop: Option<&[u8]>,
    limit: usize,
    kind: Option<u8>,
) -> Result<(Vec<Vec<u8>>, Option<Vec<u8>>), CallError> {
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
            pos.clone().max(segment.prefix.clone()).as_slice(),
        );
        let end = match bound {
            None => table_end(segment.table),
            Some(b) if segment.table != DEFAULT_TABLE_ID && Some(b) == segment.to.as_deref() => {
                table_end(segment.table)
            }
            // Inside a table's stretch every key starts with its prefix.
            Some(b) => storage_key_of(segment.table, &segment.prefix, b),
        };
        let (keys, resume) = read_keys(ctx, from, &end, limit - out.len(), kind).await?;
        out.extend(keys.iter().map(|k| catalog.user_key(k)));
        if let Some(resume) = resume {
            return Ok((out, Some(catalog.user_key(&resume))));
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

/// Reads up to `limit` storage keys of `[pos, end)`, range after range. Returns the
/// keys and the storage key to resume from if `limit` was reached first.
pub async fn read_keys(
    ctx: &Context,
    mut pos: Vec<u8>,
    end: &[u8],
    limit: usize,
    kind: Option<u8>,
) -> Result<(Vec<Bytes>, Option<Vec<u8>>), CallError> {
    let mut keys = Vec::new();
    while pos.as_slice() < end {
        if keys.len() >= limit {
            return Ok((keys, Some(pos)));
        }
        let table = pos
            .get(..4)
            .and_then(|t| t.try_into().ok())
            .map_or(0, u32::from_be_bytes);
        ctx.count_scan_read(table);
        let req = DataRequest::Scan {
            start: Bytes::from(pos.clone()),
            end: Bytes::copy_from_slice(end),
            limit: (limit - keys.len()).min(ctx.scan_page) as u32,
            kind,
        };
        let DataResponse::Keys { keys: found, next } = ctx.cluster.call(&pos, req).await? else {
            return Err(CallError::Failed("unexpected reply to a scan".into()));
        };
        keys.extend(found);
        if next.as_ref() <= pos.as_slice() {
            return Err(CallError::Failed("a scan did not advance".into()));
        }
        pos = next.to_vec();
    }
    Ok((keys, None))
}

/// What a count over part of the key space found.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    /// Live keys.
    pub keys: u64,
    /// Live keys with an expiry.
    pub volatile: u64,
    /// Bytes of keys and stored values.
    pub bytes: u64,
}

/// Counts the live keys of `[start, end)`, range after range.
pub async fn count(ctx: &Context, start: Vec<u8>, end: Vec<u8>) -> Result<Counted, CallError> {
    let mut total = Counted::default();
    let mut pos = start;
    while pos < end {
        let req = DataRequest::Count {
            start: Bytes::from(pos.clone()),
            end: Bytes::from(end.clone()),
        };
        let DataResponse::Count {
            keys,
            volatile,
            bytes,
            next,
        } = ctx.cluster.call(&pos, req).await?
        else {
            return Err(CallError::Failed("unexpected reply to a count".into()));
        };
        total.keys += keys;
        total.volatile += volatile;
        total.bytes += bytes;
        if next.as_ref() <= pos.as_slice() {
            return Err(CallError::Failed("a count did not advance".into()));
        }
        pos = next.to_vec();
    }
    Ok(total)
}

/// Live keys per table, every range counted in parallel.
pub async fn count_per_table(ctx: &Context) -> Result<BTreeMap<TableId, Counted>, CallError> {
    let ranges = ctx.cluster.routing().ranges();
    let counts = ranges
        .iter()
        .map(|r| count(ctx, r.start.clone(), r.end.clone()));
    let mut out: BTreeMap<TableId, Counted> = BTreeMap::new();
    for (range, counted) in ranges.iter().zip(futures::future::join_all(counts).await) {
        let counted = counted?;
        let total = out.entry(range.table).or_default();
        total.keys += counted.keys;
        total.volatile += counted.volatile;
        total.bytes += counted.bytes;
    }
    Ok(out)
}
