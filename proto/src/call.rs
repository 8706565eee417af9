//! Calling a group: send a data request to the replica believed to lead the range's
//! group and act on what comes back, until an answer or the deadline.
//!
//! [`next_step`] is the one function that decides what a caller does with a failed
//! attempt — follow a leader hint, try another replica, apply the range descriptors
//! carried in the error and route again, wait for a newer catalog, or give up with a
//! [`CallError`]. Routers and the meta controller both call groups through [`call`],
//! each with its own [`Routing`] (where routes, leaders and node clients come from).

use crate::catalog::{GroupId, NodeId, RangeDesc};
use crate::data::{DataError, DataRequest, DataResponse};
use crate::node_api::{NodeClient, NodeRequest, NodeResponse};
use crate::range_map::Route;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::RpcError;
use tokio::time::Instant;

/// Why a call gave up, as the client will be told (see `docs/consistency.md`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No replica served the range before the deadline (no leader, unreachable nodes,
    /// no meta leader): `-CLUSTERDOWN`.
    #[error("CLUSTERDOWN {0}")]
    Unavailable(String),
    /// Routing kept changing under the request (splits, merges) until the deadline,
    /// or the route must be recomputed by the caller; nothing was applied:
    /// `-TRYAGAIN`.
    #[error("TRYAGAIN {0}")]
    Stale(String),
    /// A write was sent but its outcome is unknown (the leader changed or stopped
    /// answering): `-TRYAGAIN`, and the client must not assume either outcome.
    #[error("TRYAGAIN {0}")]
    Indeterminate(String),
    /// The node refused it for a reason other than routing: `-ERR`.
    #[error("ERR {0}")]
    Failed(String),
}

/// What one attempt produced, when it was not an answer.
#[derive(Debug)]
pub enum Failure<'a> {
    /// The RPC failed.
    Rpc(&'a RpcError),
    /// The replica answered an error.
    Data(&'a DataError),
    /// The replica answered something that is not an answer to a data request.
    Unexpected,
}

/// What to do after a failed attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send again, to this node (a leader hint).
    Follow(NodeId),
    /// Forget the leader and try another replica after a pause (an election under
    /// way, a replica not created yet, a node unreachable before the request left).
    TryAnother(Duration),
    /// Apply these descriptors (their groups are on these nodes, if the caller does
    /// not know better), route again, send again.
    Reroute(Vec<RangeDesc>, Vec<NodeId>),
    /// The route is stale and no descriptor came with the error: wait for a newer
    /// catalog, route again.
    Refresh,
    /// Stop: the caller gets this error.
    GiveUp(CallError),
}

/// Pause before trying another replica while an election may be under way.
const ELECTION_PAUSE: Duration = Duration::from_millis(50);
/// Pause before trying another replica after a connection was refused.
const CONNECT_PAUSE: Duration = Duration::from_millis(20);

/// The one decision: what to do after `failure` from `target` (`write`: the request
/// goes through Raft, so a lost answer leaves its outcome unknown).
pub fn next_step(failure: Failure<'_>, target: NodeId, write: bool) -> Step {
    match failure {
        Failure::Data(DataError::NotLeader {
            leader: Some(leader),
        }) if *leader != target => Step::Follow(*leader),
        Failure::Data(DataError::NotLeader { .. } | DataError::GroupNotFound) => {
            Step::TryAnother(ELECTION_PAUSE)
        }
        Failure::Data(DataError::EpochMismatch { ranges, members }) if !ranges.is_empty() => {
            Step::Reroute(ranges.clone(), members.clone())
        }
        Failure::Data(
            DataError::EpochMismatch { .. } | DataError::KeyNotInRange | DataError::Frozen,
        ) => Step::Refresh,
        Failure::Data(e @ DataError::Indeterminate) => {
            Step::GiveUp(CallError::Indeterminate(e.to_string()))
        }
        Failure::Data(DataError::Internal(msg)) => Step::GiveUp(CallError::Failed(msg.clone())),
        // Nothing was sent, or the node stopped without running it: safe to send
        // elsewhere.
        Failure::Rpc(RpcError::Connect { .. } | RpcError::NotRun(_)) => {
            Step::TryAnother(CONNECT_PAUSE)
        }
        Failure::Rpc(e @ RpcError::Encode(_)) => Step::GiveUp(CallError::Failed(e.to_string())),
        Failure::Rpc(e @ (RpcError::Timeout { .. } | RpcError::ConnectionLost(_))) if write => {
            Step::GiveUp(CallError::Indeterminate(format!(
                "write outcome unknown: {e}"
            )))
        }
        Failure::Rpc(RpcError::Timeout { .. } | RpcError::ConnectionLost(_)) => {
            Step::TryAnother(Duration::ZERO)
        }
        // The node answered in a form this build cannot read (it runs a newer one):
        // asking again, here or elsewhere, would get the same answer.
        Failure::Rpc(e @ RpcError::Decode { .. }) if write => Step::GiveUp(
            CallError::Indeterminate(format!("write outcome unknown: {e}")),
        ),
        Failure::Rpc(e @ RpcError::Decode { .. }) => Step::GiveUp(CallError::Failed(e.to_string())),
        Failure::Unexpected => Step::GiveUp(CallError::Failed(
            "unexpected reply from storage node".into(),
        )),
    }
}

/// Where a caller's routes, leaders and node clients come from.
pub trait Routing: Send + Sync {
    /// The route to the range holding storage key `anchor`, if one is known.
    fn route(&self, anchor: &[u8]) -> Option<Route>;
    /// The nodes holding a replica of `group`.
    fn members(&self, group: GroupId) -> Vec<NodeId>;
    /// The client of `node`, if its address is known.
    fn client(&self, node: NodeId) -> Option<Arc<NodeClient>>;
    /// `node` answered as `group`'s leader (or was hinted to be it).
    fn leader_found(&self, group: GroupId, node: NodeId);
    /// `node` did not answer as `group`'s leader.
    fn leader_lost(&self, group: GroupId, node: NodeId);
    /// Range descriptors newer than the caller's, from a replica whose group is on
    /// `members` (the nodes of a group the caller does not know yet, after a split).
    fn learn(&self, ranges: &[RangeDesc], members: &[NodeId]);
    /// Waits (briefly, at most until `until`) for newer routing information.
    fn wait_for_change(&self, until: Instant) -> impl Future<Output = ()> + Send;
}

/// How one call behaves.
#[derive(Clone, Copy, Debug)]
pub struct CallOptions {
    /// When to give up.
    pub until: Instant,
    /// On a stale route, give up with [`CallError::Stale`] after learning the new
    /// descriptors (the caller routes its parts again), instead of routing `anchor`
    /// again itself. Batches of several keys need this: after a split their keys may
    /// belong to different ranges.
    pub stale_is_error: bool,
}

/// Counts one more routing attempt of a request, by why the last one failed.
fn retried(cause: &'static str) {
    metrics::counter!("tessera_router_retries_total", "cause" => cause).increment(1);
}

/// Sends `req` to the range holding storage key `anchor` (first along `route`, if
/// given), retrying as [`next_step`] says until an answer or `options.until`.
///
/// # Errors
/// [`CallError`] when the deadline passes or a failure is final.
pub async fn call<R: Routing>(
    routing: &R,
    anchor: &[u8],
    route: Option<Route>,
    req: &Arc<DataRequest>,
    options: CallOptions,
) -> Result<DataResponse, CallError> {
    let write = req.is_write();
    let mut route = route;
    let mut attempt = 0usize;
    let mut last = String::from("no range covers the key yet");
    let mut stale = false;
    loop {
        if Instant::now() >= options.until {
            let why = format!("the range holding this key is unavailable ({last})");
            return Err(if stale {
                CallError::Stale(why)
            } else {
                CallError::Unavailable(why)
            });
        }
        attempt += 1;
        let Some(current) = route.take().or_else(|| routing.route(anchor)) else {
            retried("no_range");
            routing.wait_for_change(options.until).await;
            continue;
        };
        let group = current.group();
        let members = routing.members(group);
        let target = match current.leader {
            Some(leader) => leader,
            None if members.is_empty() => {
                retried("no_members");
                routing.wait_for_change(options.until).await;
                continue;
            }
            None => members[attempt % members.len()],
        };
        let Some(client) = routing.client(target) else {
            last = format!("address of node {target} unknown");
            retried("unknown_address");
            routing.wait_for_change(options.until).await;
            continue;
        };
        let msg = NodeRequest::Data {
            group,
            epoch: current.epoch(),
            req: Arc::clone(req),
        };
        // An attempt may use whatever is left of the deadline: a large write can take
        // a while, and cutting it short only makes its outcome unknown.
        let left = options.until.saturating_duration_since(Instant::now());
        let outcome = client.call(&msg, left).await;
        let step = match outcome {
            Ok(NodeResponse::Data(Ok(resp))) => {
                routing.leader_found(group, target);
                return Ok(resp);
            }
            Ok(NodeResponse::Data(Err(e))) => {
                last = format!("node {target}: {e}");
                next_step(Failure::Data(&e), target, write)
            }
            Ok(_) => next_step(Failure::Unexpected, target, write),
            Err(e) => {
                last = format!("node {target}: {e}");
                next_step(Failure::Rpc(&e), target, write)
            }
        };
        match step {
            Step::Follow(leader) => {
                retried("not_leader");
                routing.leader_found(group, leader);
                route = Some(Route {
                    leader: Some(leader),
                    ..current
                });
            }
            Step::TryAnother(pause) => {
                retried("node_unreachable");
                routing.leader_lost(group, target);
                tokio::time::sleep(pause).await;
            }
            Step::Reroute(ranges, members) => {
                retried("stale_route");
                routing.learn(&ranges, &members);
                stale = true;
                if options.stale_is_error {
                    return Err(CallError::Stale(last));
                }
            }
            Step::Refresh => {
                retried("refresh");
                stale = true;
                if options.stale_is_error {
                    return Err(CallError::Stale(last));
                }
                routing.wait_for_change(options.until).await;
            }
            Step::GiveUp(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn range() -> RangeDesc {
        RangeDesc {
            id: 1,
            table: 0,
            start: vec![0; 4],
            end: vec![0, 0, 0, 1],
            epoch: 2,
            group: 3,
        }
    }

    fn data(e: DataError, write: bool) -> Step {
        next_step(Failure::Data(&e), 1, write)
    }

    fn rpc(e: RpcError, write: bool) -> Step {
        next_step(Failure::Rpc(&e), 1, write)
    }

    #[test]
    fn a_leader_hint_is_followed_unless_it_names_the_node_asked() {
        let hint = |leader| DataError::NotLeader { leader };
        assert_eq!(data(hint(Some(2)), true), Step::Follow(2));
        assert_eq!(data(hint(Some(1)), true), Step::TryAnother(ELECTION_PAUSE));
        assert_eq!(data(hint(None), false), Step::TryAnother(ELECTION_PAUSE));
    }

    #[test]
    fn a_missing_replica_means_try_another() {
        assert_eq!(
            data(DataError::GroupNotFound, true),
            Step::TryAnother(ELECTION_PAUSE)
        );
    }

    #[test]
    fn an_epoch_mismatch_carries_the_routes_to_apply() {
        let e = DataError::EpochMismatch {
            ranges: vec![range()],
            members: vec![1, 2, 3],
        };
        assert_eq!(data(e, true), Step::Reroute(vec![range()], vec![1, 2, 3]));
        let bare = DataError::EpochMismatch {
            ranges: vec![],
            members: vec![],
        };
        assert_eq!(data(bare, false), Step::Refresh);
    }

    #[test]
    fn a_frozen_range_waits_for_the_merge_to_be_recorded() {
        assert_eq!(data(DataError::Frozen, true), Step::Refresh);
    }

    #[test]
    fn a_key_outside_the_range_refreshes_the_catalog() {
        assert_eq!(data(DataError::KeyNotInRange, true), Step::Refresh);
    }

    #[test]
    fn an_indeterminate_write_is_final() {
        assert!(matches!(
            data(DataError::Indeterminate, true),
            Step::GiveUp(CallError::Indeterminate(_))
        ));
    }

    #[test]
    fn an_internal_error_is_final() {
        assert_eq!(
            data(DataError::Internal("disk".into()), false),
            Step::GiveUp(CallError::Failed("disk".into()))
        );
    }

    #[test]
    fn a_refused_connection_is_retried_elsewhere_even_for_writes() {
        let refused = || RpcError::Connect {
            addr: "n1".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        let not_run = || RpcError::NotRun("n1".into());
        for write in [true, false] {
            assert_eq!(rpc(refused(), write), Step::TryAnother(CONNECT_PAUSE));
            assert_eq!(rpc(not_run(), write), Step::TryAnother(CONNECT_PAUSE));
        }
    }

    #[test]
    fn a_request_that_cannot_be_encoded_is_not_retried() {
        let e = RpcError::Encode(io::Error::other("too large"));
        assert!(matches!(rpc(e, false), Step::GiveUp(CallError::Failed(_))));
    }

    #[test]
    fn a_lost_answer_makes_a_write_indeterminate_and_a_read_retried() {
        let timeout = || RpcError::Timeout {
            addr: "n1".into(),
            timeout: Duration::from_secs(1),
        };
        let lost = || RpcError::ConnectionLost("n1".into());
        for e in [timeout(), lost()] {
            assert!(matches!(
                rpc(e, true),
                Step::GiveUp(CallError::Indeterminate(_))
            ));
        }
        for e in [timeout(), lost()] {
            assert_eq!(rpc(e, false), Step::TryAnother(Duration::ZERO));
        }
    }

    #[test]
    fn an_answer_that_cannot_be_decoded_is_final() {
        let e = || RpcError::Decode {
            addr: "n1".into(),
            reason: "unknown variant".into(),
        };
        assert!(matches!(
            rpc(e(), true),
            Step::GiveUp(CallError::Indeterminate(_))
        ));
        assert!(matches!(
            rpc(e(), false),
            Step::GiveUp(CallError::Failed(_))
        ));
    }

    #[test]
    fn an_unexpected_answer_is_final() {
        assert!(matches!(
            next_step(Failure::Unexpected, 1, false),
            Step::GiveUp(CallError::Failed(_))
        ));
    }
}
