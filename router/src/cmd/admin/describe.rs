//! How operators see a range: its table, bounds as written after `table:`, epoch, group,
//! leader and replicas, and its size and load as its leader last reported them.

use crate::Context;
use bytes::Bytes;
use std::collections::HashMap;
use tessera_proto::catalog::{Catalog, RangeDesc, RangeId, TableDesc};
use tessera_proto::keys::table_end;
use tessera_proto::meta_api::RangeLoad;
use tessera_proto::reply::Reply;

/// The user-visible form of a range bound: the key within its table (nil: the end).
fn bound(key: &[u8], table: &TableDesc, end: bool) -> Reply {
    if end && key == table_end(table.id).as_slice() {
        return Reply::Nil;
    }
    Reply::Bulk(Bytes::copy_from_slice(key.get(4..).unwrap_or_default()))
}

/// Every range's size and load as leaders last reported them (none if the meta
/// service does not answer: the rest of the description still helps).
pub async fn loads(ctx: &Context) -> HashMap<RangeId, RangeLoad> {
    match ctx.meta.loads().await {
        Ok(loads) => loads.into_iter().collect(),
        Err(e) => {
            tracing::debug!(error = %e, "no range loads from the meta service");
            HashMap::new()
        }
    }
}

/// One range, as a map.
pub fn range_reply(
    ctx: &Context,
    catalog: &Catalog,
    range: &RangeDesc,
    load: Option<&RangeLoad>,
) -> Reply {
    let Some(table) = catalog.tables.get(&range.table) else {
        return Reply::Nil;
    };
    let members = catalog
        .groups
        .get(&range.group)
        .map(|g| g.members.clone())
        .unwrap_or_default();
    let leader = ctx
        .cluster
        .leader_of(range.group)
        .map_or(Reply::Nil, |l| Reply::Int(l as i64));
    Reply::Map(vec![
        (Reply::bulk("id"), Reply::Int(range.id as i64)),
        (Reply::bulk("table"), Reply::bulk(table.name.clone())),
        (Reply::bulk("start"), bound(&range.start, table, false)),
        (Reply::bulk("end"), bound(&range.end, table, true)),
        (Reply::bulk("epoch"), Reply::Int(range.epoch as i64)),
        (Reply::bulk("group"), Reply::Int(range.group as i64)),
        (Reply::bulk("leader"), leader),
        (
            Reply::bulk("replicas"),
            Reply::Array(members.into_iter().map(|m| Reply::Int(m as i64)).collect()),
        ),
        (
            Reply::bulk("bytes"),
            load.map_or(Reply::Nil, |l| Reply::Int(l.bytes as i64)),
        ),
        (
            Reply::bulk("qps"),
            load.map_or(Reply::Nil, |l| Reply::Int(l.qps.round() as i64)),
        ),
        (
            Reply::bulk("splittable"),
            load.map_or(Reply::Nil, |l| {
                Reply::bulk(if l.splittable { "yes" } else { "no" })
            }),
        ),
    ])
}

/// A table by name, or Redis-style "no such table".
pub fn table_named<'a>(catalog: &'a Catalog, name: &str) -> Result<&'a TableDesc, Reply> {
    catalog
        .active_table(name)
        .ok_or_else(|| Reply::err(format!("no such table '{name}'")))
}
