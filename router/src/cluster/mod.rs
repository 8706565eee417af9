//! The router's view of the cluster: routes from the catalog (corrected by what
//! replicas say) and the coalescing of requests per group. Every data request goes
//! through [`Cluster::execute`] (ops of one range) or [`Cluster::call`] (listing,
//! counting and clearing, by position), which retry within the request deadline.

mod coalesce;

use bytes::Bytes;
pub use coalesce::Outcome;
use coalesce::{Coalescer, Queued};
use std::sync::Arc;
use std::time::Duration;
use tessera_proto::call::{call, CallError, CallOptions, Routing};
use tessera_proto::catalog::{Catalog, GroupId, NodeId, NodeState};
use tessera_proto::data::{DataRequest, DataResponse};
use tessera_proto::node_api::{NodeRequest, NodeResponse};
use tessera_proto::op::Op;
use tessera_proto::range_map::Route;
use tessera_proto::reply::Reply;
use tessera_proto::routing::CatalogRouting;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// Routing state shared by all connections of a router.
pub struct Cluster {
    routing: Arc<CatalogRouting>,
    coalescer: Coalescer,
    deadline: Duration,
}

impl Cluster {
    /// A cluster view following `catalog`; requests give up after `deadline`.
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>, deadline: Duration) -> Self {
        let routing = Arc::new(CatalogRouting::new(catalog));
        Self {
            coalescer: Coalescer::new(routing.clone(), deadline),
            routing,
            deadline,
        }
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.routing.catalog()
    }

    /// The routes.
    pub fn routing(&self) -> &CatalogRouting {
        &self.routing
    }

    /// The route to the range holding storage key `key`, if known.
    pub fn route(&self, key: &[u8]) -> Option<Route> {
        self.routing.route(key)
    }

    /// The node this router last found leading `group`.
    pub fn leader_of(&self, group: GroupId) -> Option<NodeId> {
        self.routing.leader_of(group)
    }

    /// When a request starting now gives up.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.deadline
    }

    /// Runs ops whose keys all live in `route`'s range (the range holding storage key
    /// `anchor`), coalesced with the other requests in flight for the same group. A
    /// stale route gives the ops back ([`Outcome::Stale`]): the caller checks that
    /// their keys still share one range and routes them again.
    pub async fn execute(&self, anchor: &Bytes, route: Option<Route>, ops: Vec<Op>) -> Outcome {
        let write = ops.iter().any(tessera_proto::op::OpKind::is_write);
        let Some(route) = route else {
            // No range yet: go direct, which waits for the catalog within the deadline
            // (boxed: a queued call's future need not carry a whole RPC's state).
            let direct = Box::pin(self.direct(anchor, write, ops, self.deadline()));
            return match direct.await {
                Ok(replies) => Outcome::Replies(replies),
                Err(e) => Outcome::Failed(e),
            };
        };
        let (done, outcome) = oneshot::channel();
        let queued = Queued {
            route,
            anchor: anchor.clone(),
            ops,
            done,
        };
        if self.coalescer.submit(write, queued).is_err() {
            return Outcome::Failed(shutting_down());
        }
        outcome
            .await
            .unwrap_or_else(|_| Outcome::Failed(shutting_down()))
    }

    /// After a stale route for `anchor` (which was `stale`), waits for newer routing
    /// information unless the route already changed.
    pub async fn await_new_route(&self, anchor: &[u8], stale: &Route, until: Instant) {
        let next = self.route(anchor);
        if next.is_none_or(|r| r.range_id() == stale.range_id() && r.epoch() == stale.epoch()) {
            self.routing.wait_for_change(until).await;
        }
    }

    async fn direct(
        &self,
        anchor: &[u8],
        write: bool,
        ops: Vec<Op>,
        until: Instant,
    ) -> Result<Vec<Reply>, CallError> {
        let req = if write {
            DataRequest::Write(ops)
        } else {
            DataRequest::Read(ops)
        };
        let options = CallOptions {
            until,
            stale_is_error: false,
        };
        match call(self.routing.as_ref(), anchor, None, &Arc::new(req), options).await? {
            DataResponse::Replies(replies) => Ok(replies),
            _ => Err(CallError::Failed(
                "unexpected reply from storage node".into(),
            )),
        }
    }

    /// Sends `req` to the range holding storage key `anchor`, routing again on stale
    /// routes until the deadline.
    ///
    /// # Errors
    /// [`CallError`] once the deadline passes or on a final failure.
    pub async fn call(&self, anchor: &[u8], req: DataRequest) -> Result<DataResponse, CallError> {
        let options = CallOptions {
            until: self.deadline(),
            stale_is_error: false,
        };
        call(self.routing.as_ref(), anchor, None, &Arc::new(req), options).await
    }

    /// Sends `req` to every node of the catalog at once (but removed ones); each
    /// node's answer, or why there is none, within `timeout`.
    pub async fn ask_every_node(
        &self,
        req: &NodeRequest,
        timeout: Duration,
    ) -> Vec<(NodeId, Result<NodeResponse, String>)> {
        let catalog = self.catalog();
        let nodes = catalog.nodes.values();
        let serving = nodes.filter(|n| n.state != NodeState::Removed);
        let calls = serving.map(|n| n.id).map(|node| async move {
            let answer = match self.routing.client(node) {
                Some(client) => client.call(req, timeout).await.map_err(|e| e.to_string()),
                None => Err("address unknown".to_string()),
            };
            (node, answer)
        });
        futures::future::join_all(calls).await
    }

    /// Waits (briefly, at most until `until`) for a newer catalog.
    pub async fn wait_for_catalog(&self, until: Instant) {
        self.routing.wait_for_change(until).await;
    }

    /// Stops the coalescer's tasks and closes every node connection.
    pub async fn shutdown(&self) {
        self.coalescer.shutdown().await;
        for client in self.routing.node_clients() {
            client.close().await;
        }
    }
}

fn shutting_down() -> CallError {
    CallError::Unavailable("the router is shutting down".into())
}

#[cfg(test)]
mod tests;
