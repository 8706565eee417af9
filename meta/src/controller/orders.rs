//! Operators' `SPLIT table key` and `MERGE table key`, carried out by the controller
//! between its own steps. Each answers once the new layout serves, or with what stood
//! in the way.

use super::ranges::Reshaper;
use std::sync::Arc;
use std::time::Duration;
use tessera_proto::catalog::{Catalog, RangeDesc, TableState};
use tessera_proto::keys::storage_key;
use tessera_proto::meta_api::Reshape;
use tokio::time::Instant;

/// How long an order may wait for its ranges to settle (a leader reporting, no
/// replica change under way) and, for a merge, to have their replicas moved together.
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
/// How often it looks meanwhile.
const SETTLE_POLL: Duration = Duration::from_millis(200);

/// Carries out one operator's order.
pub(crate) async fn carry_out(shaper: &Reshaper<'_>, order: Reshape) -> Result<(), String> {
    match order {
        Reshape::Split { table, key } => split(shaper, &table, &key).await,
        Reshape::Merge { table, key } => merge(shaper, &table, &key).await,
    }
}

/// The catalog once what the leaders report is recorded in it (a change a failed-over
/// meta leader left half done may be what the order asks for).
async fn current(shaper: &Reshaper<'_>) -> Arc<Catalog> {
    let catalog = shaper.service.catalog.borrow().clone();
    // An operator waits on the order: recover with what is known now, as a leader of
    // long standing would (a merge that cannot finish yet is called off, not awaited).
    if shaper.recover(&catalog, std::time::Duration::MAX).await {
        return shaper.service.catalog.borrow().clone();
    }
    catalog
}

fn table_id(catalog: &Catalog, table: &str) -> Result<u32, String> {
    match catalog.table_by_name(table) {
        Some(t) if t.state == TableState::Active => Ok(t.id),
        Some(_) => Err(format!("table '{table}' is being created or dropped")),
        None => Err(format!("no such table '{table}'")),
    }
}

async fn split(shaper: &Reshaper<'_>, table: &str, key: &[u8]) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    loop {
        let catalog = current(shaper).await;
        let id = table_id(&catalog, table)?;
        let at = storage_key(id, key);
        let range = catalog
            .table_ranges(id)
            .into_iter()
            .find(|r| r.contains(&at))
            .ok_or_else(|| format!("no range of table '{table}' holds that key"))?;
        if range.start == at {
            return Ok(()); // A range starts there already.
        }
        match shaper.settled(&catalog, range.group) {
            Ok(_) => {
                let reason = "SPLIT by an operator";
                return shaper.split(&range, &at, false, reason).await.map(drop);
            }
            Err(why) if Instant::now() >= deadline => return Err(why),
            Err(_) => tokio::time::sleep(SETTLE_POLL).await,
        }
    }
}

async fn merge(shaper: &Reshaper<'_>, table: &str, key: &[u8]) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    loop {
        let catalog = current(shaper).await;
        let (left, right) = neighbours(&catalog, table, key)?;
        match shaper.colocated(&catalog, &left, &right) {
            Ok(()) => {
                return shaper
                    .merge(&catalog, &left, &right, "MERGE by an operator")
                    .await
            }
            Err(why) if Instant::now() >= deadline => return Err(why),
            Err(_) => {}
        }
        // A step can be refused when the catalog moved on since it was read (a drain
        // or a failover moving the same replicas); the next round plans again.
        if let Some(cmd) = super::elastic::colocate_step(shaper, &catalog, &left, &right) {
            if !super::propose(shaper.service, cmd).await && Instant::now() >= deadline {
                return Err("cannot move the ranges' replicas together".into());
            }
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// The range of `table` starting at user key `key`, and its left neighbour.
fn neighbours(
    catalog: &Catalog,
    table: &str,
    key: &[u8],
) -> Result<(RangeDesc, RangeDesc), String> {
    let id = table_id(catalog, table)?;
    let start = storage_key(id, key);
    let ranges = catalog.table_ranges(id);
    let right = ranges
        .iter()
        .find(|r| r.start == start)
        .ok_or_else(|| format!("no range of table '{table}' starts at that key"))?;
    let left = ranges
        .iter()
        .find(|r| r.end == right.start)
        .ok_or_else(|| format!("the first range of table '{table}' has no left neighbour"))?;
    Ok((left.clone(), right.clone()))
}
