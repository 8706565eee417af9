//! The stale-route path, against hand-made storage nodes on loopback: a router whose
//! catalog is out of date gets `EpochMismatch` with the current descriptors, applies
//! them and succeeds — with no meta service at all, so no catalog fetch can help.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tessera_common::rpc::{serve, Never, Wire};
use tessera_common::RpcService;
use tessera_proto::catalog::{CatalogChange, GroupDesc, NodeDesc, NodeState, Origin, RangeDesc};
use tessera_proto::commands::strings::Get;
use tessera_proto::data::DataError;
use tessera_proto::node_api::{NodeRequest, NodeResponse};
use tokio_util::sync::CancellationToken;

/// A storage node that serves some groups, each at one epoch, and answers a request
/// routed with another epoch with the descriptors it was told to send.
#[derive(Default)]
struct FakeNode {
    /// group → (current epoch, the descriptors an `EpochMismatch` carries).
    groups: Mutex<Vec<(GroupId, u64, Vec<RangeDesc>)>>,
    /// (group, epoch) of every data request received.
    seen: Mutex<Vec<(GroupId, u64)>>,
    served: AtomicUsize,
}

impl RpcService for FakeNode {
    type Req = Wire<NodeRequest, Never>;
    type Resp = Wire<NodeResponse, Never>;

    async fn handle(self: Arc<Self>, req: Self::Req) -> Self::Resp {
        let Wire::Service(NodeRequest::Data { group, epoch, .. }) = req else {
            return Wire::Service(NodeResponse::Data(Err(DataError::Internal("?".into()))));
        };
        self.seen.lock().unwrap().push((group, epoch));
        let groups = self.groups.lock().unwrap().clone();
        let answer = match groups.iter().find(|(g, _, _)| *g == group) {
            None => Err(DataError::GroupNotFound),
            Some((_, current, ranges)) if *current != epoch => Err(DataError::EpochMismatch {
                ranges: ranges.clone(),
                members: vec![1],
            }),
            Some(_) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                Ok(DataResponse::Replies(vec![Reply::bulk(format!(
                    "group {group}"
                ))]))
            }
        };
        Wire::Service(NodeResponse::Data(answer))
    }
}

fn range(id: u64, start: &[u8], end: &[u8], epoch: u64, group: GroupId) -> RangeDesc {
    RangeDesc {
        id,
        table: 0,
        start: start.to_vec(),
        end: end.to_vec(),
        epoch,
        group,
    }
}

/// Starts `nodes` fake nodes and a catalog (never updated) placing group 10 on node 1
/// with range 1 = `[a, z)` at epoch 1.
async fn setup(nodes: usize) -> (Vec<Arc<FakeNode>>, Cluster, CancellationToken) {
    let stop = CancellationToken::new();
    let mut changes = vec![
        CatalogChange::Range(range(1, b"a", b"z", 1, 10)),
        CatalogChange::Group(GroupDesc {
            id: 10,
            members: vec![1],
            retired: vec![],
            origin: Origin::Split { parent: 1 },
        }),
    ];
    let mut fakes = Vec::new();
    for id in 1..=nodes as u64 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        changes.push(CatalogChange::Node(NodeDesc {
            id,
            addr: listener.local_addr().unwrap().to_string(),
            identity: id,
            state: NodeState::Active,
        }));
        let fake = Arc::new(FakeNode::default());
        tokio::spawn(serve(listener, fake.clone(), stop.clone()));
        fakes.push(fake);
    }
    let mut catalog = Catalog::default();
    catalog.apply(&changes);
    let (_tx, rx) = watch::channel(Arc::new(catalog));
    // The sender is dropped: nothing will ever update this catalog.
    let cluster = Cluster::new(rx, Duration::from_secs(5));
    (fakes, cluster, stop)
}

async fn get(cluster: &Cluster, key: &[u8]) -> Outcome {
    let key = Bytes::copy_from_slice(key);
    let route = cluster.route(&key);
    let op = Get { key: key.clone() }.into();
    cluster.execute(&key, route, vec![op]).await
}

#[tokio::test]
async fn a_stale_route_learns_the_descriptors_of_an_epoch_mismatch() {
    let (fakes, cluster, stop) = setup(1).await;
    let current = range(1, b"a", b"z", 2, 10);
    fakes[0]
        .groups
        .lock()
        .unwrap()
        .push((10, 2, vec![current.clone()]));
    // The first attempt is routed with the catalog's epoch 1 and refused.
    let Outcome::Stale(_, ops) = get(&cluster, b"k").await else {
        panic!("a stale route must come back");
    };
    assert_eq!(ops.len(), 1, "the op comes back to be routed again");
    let route = cluster.route(b"k").expect("a route");
    assert_eq!(route.epoch(), 2, "the carried descriptor was applied");
    let Outcome::Replies(replies) = get(&cluster, b"k").await else {
        panic!("the second attempt must be served");
    };
    assert_eq!(replies, vec![Reply::bulk("group 10")]);
    assert_eq!(*fakes[0].seen.lock().unwrap(), vec![(10, 1), (10, 2)]);
    stop.cancel();
}

#[tokio::test]
async fn a_request_for_a_split_away_half_follows_the_child_range() {
    let (fakes, cluster, stop) = setup(2).await;
    // Range 1 split at "m": group 10 keeps [a, m) at epoch 2; the child range 2 =
    // [m, z) is group 11. The router learns both halves from the one refusal.
    let parent = range(1, b"a", b"m", 2, 10);
    let child = range(2, b"m", b"z", 2, 11);
    let told = vec![parent, child];
    fakes[0].groups.lock().unwrap().push((10, 2, told));
    fakes[1].groups.lock().unwrap().push((11, 2, vec![]));
    let Outcome::Stale(..) = get(&cluster, b"q").await else {
        panic!("the first attempt hits the old parent");
    };
    let route = cluster.route(b"q").expect("a route");
    assert_eq!((route.range_id(), route.group()), (2, 11));
    assert_eq!(cluster.route(b"b").map(|r| r.epoch()), Some(2));
    stop.cancel();
}
