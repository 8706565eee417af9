//! Tables through their life, driven here rather than by the router that asked, so a
//! client (or router) that disappears half-way leaves nothing stuck:
//!
//! - `default` is requested as soon as enough nodes are live, and created at once;
//! - a `Creating` table first has its prefix `name:` fenced in `default` (a Raft entry
//!   of `default`'s range: from then on, writes to such keys are refused in log order
//!   and the same entry counts the keys that already exist). If there are any, the
//!   creation is refused and the fence lifted: creating a table must never change the
//!   meaning of a stored key. Otherwise its ranges are placed and created;
//! - a `Dropping` table (its ranges already gone) has its fence lifted, so `name:*`
//!   keys belong to `default` again, and is then forgotten.
//!
//! Every step is idempotent and retried on the next tick until it succeeds.

use super::{propose, ControllerConfig};
use crate::catalog::MetaCommand;
use crate::placement::place;
use crate::service::MetaService;
use std::time::Duration;
use tessera_proto::call::{call, CallOptions};
use tessera_proto::catalog::{
    Catalog, NodeState, TableDesc, TableState, DEFAULT_TABLE, DEFAULT_TABLE_ID,
};
use tessera_proto::data::{DataRequest, DataResponse};
use tessera_proto::keys::{prefix_end, storage_key};
use tessera_proto::routing::CatalogRouting;

/// How long a new leader waits for nodes it has not heard from before placing replicas.
const NEW_LEADER_GRACE: Duration = Duration::from_secs(3);
/// Budget of one fence request.
const FENCE_DEADLINE: Duration = Duration::from_secs(5);

/// One tick's table steps.
pub(super) struct Steps<'a> {
    pub(super) service: &'a MetaService,
    pub(super) config: &'a ControllerConfig,
    pub(super) routing: &'a CatalogRouting,
    /// How long this member has led.
    pub(super) leading_for: Duration,
}

impl Steps<'_> {
    /// Moves every table that is not settled one step on; `false` while the default
    /// table does not serve yet.
    pub(super) async fn run(&self, catalog: &Catalog) -> bool {
        let Some(default) = catalog.table_by_name(DEFAULT_TABLE) else {
            self.request_default(catalog).await;
            return false;
        };
        if default.state == TableState::Creating {
            self.create(catalog, default).await;
            return false;
        }
        for table in catalog.tables.values() {
            match table.state {
                TableState::Creating => self.create(catalog, table).await,
                TableState::Dropping => self.forget(table).await,
                TableState::Active => {}
            }
        }
        true
    }

    async fn request_default(&self, catalog: &Catalog) {
        let replicas = usize::from(self.config.default_replicas);
        if self.service.live_active(catalog).len() < replicas {
            return; // Not enough nodes registered yet.
        }
        let cmd = MetaCommand::RequestTable {
            name: DEFAULT_TABLE.into(),
            replicas: self.config.default_replicas,
            splits: Vec::new(),
        };
        propose(self.service, cmd).await;
    }

    /// Fences the table's prefix (not for `default`), then places and creates its
    /// ranges, or refuses the table.
    async fn create(&self, catalog: &Catalog, table: &TableDesc) {
        if table.id != DEFAULT_TABLE_ID {
            match self.fence(&table.name, true).await {
                Ok((0, _)) => {}
                Ok((count, example)) => {
                    let reason = format!(
                        "cannot create table '{}': the default table holds {count} key(s) \
                         starting with '{}:' (e.g. '{example}'); rename or delete them first",
                        table.name, table.name
                    );
                    return self.refuse(table, reason).await;
                }
                Err(e) => {
                    tracing::debug!(table = %table.name, error = %e, "fence not set yet");
                    return;
                }
            }
        }
        let live = self.service.live_active(catalog);
        let ranges = Catalog::bounds_of_new_table(table.id, &table.splits).len();
        match place(catalog, &live, usize::from(table.replicas), ranges) {
            Ok(placements) => {
                let cmd = MetaCommand::ActivateTable {
                    id: table.id,
                    placements,
                };
                propose(self.service, cmd).await;
            }
            // A member that just became leader has not heard from the nodes yet:
            // give them a moment to report before concluding there are too few.
            Err(_) if self.waiting_for_nodes(catalog) => {}
            Err(reason) => self.refuse(table, reason).await,
        }
    }

    fn waiting_for_nodes(&self, catalog: &Catalog) -> bool {
        let unheard = catalog
            .nodes
            .values()
            .any(|n| n.state == NodeState::Active && !self.service.liveness.heard(n.id));
        unheard && self.leading_for < NEW_LEADER_GRACE
    }

    async fn refuse(&self, table: &TableDesc, reason: String) {
        if table.id != DEFAULT_TABLE_ID && self.fence(&table.name, false).await.is_err() {
            return; // Lift the fence first; try again next tick.
        }
        let cmd = MetaCommand::RefuseTable {
            id: table.id,
            reason,
        };
        propose(self.service, cmd).await;
    }

    /// Lifts a dropped table's fence, then forgets the table.
    async fn forget(&self, table: &TableDesc) {
        if let Err(e) = self.fence(&table.name, false).await {
            tracing::debug!(table = %table.name, error = %e, "fence not lifted yet");
            return;
        }
        propose(self.service, MetaCommand::ForgetTable { id: table.id }).await;
    }

    /// Sets or lifts the fence on `name:` in every range of `default` the prefix spans
    /// (it may span several once `default` split): the live keys it covers and an
    /// example (its user key).
    async fn fence(&self, name: &str, on: bool) -> Result<(u64, String), String> {
        let prefix = storage_key(DEFAULT_TABLE_ID, format!("{name}:").as_bytes());
        let end = prefix_end(&prefix).unwrap_or_default();
        let req = std::sync::Arc::new(DataRequest::Fence {
            prefix: prefix.clone().into(),
            on,
        });
        let options = CallOptions {
            until: tokio::time::Instant::now() + FENCE_DEADLINE,
            stale_is_error: false,
        };
        let (mut total, mut first) = (0, None);
        let mut anchor = prefix.clone();
        // Bounded: one call per range the prefix spans.
        while anchor < end {
            match call(self.routing, &anchor, None, &req, options).await {
                Ok(DataResponse::Fenced {
                    count,
                    example,
                    next,
                }) => {
                    total += count;
                    first = first.or(example);
                    if next.as_ref() <= anchor.as_slice() {
                        return Err("a fence answered no progress".into());
                    }
                    anchor = next.to_vec();
                }
                Ok(_) => return Err("unexpected reply to a fence".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
        let example = first
            .map(|k| String::from_utf8_lossy(k.get(4..).unwrap_or_default()).into_owned())
            .unwrap_or_default();
        Ok((total, example))
    }
}
