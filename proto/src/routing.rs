//! [`CatalogRouting`]: routes from a followed catalog, corrected by what replicas say.
//! The router routes every request through it, and the meta controller its own data
//! requests (fences, splits), so both follow the same rules.

use crate::call::Routing;
use crate::catalog::{Catalog, GroupId, NodeId, RangeDesc, RangeId};
use crate::node_api::NodeClient;
use crate::range_map::{RangeMap, Route};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_common::directory::Directory;
use tessera_common::hash::FastDashMap;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a descriptor learned from a replica overrides an older catalog that does
/// not know its range at all (a split the meta service has not recorded yet).
const UNKNOWN_RANGE_TTL: Duration = Duration::from_secs(10);
/// Longest a caller waits for a newer catalog before routing again.
const CATALOG_WAIT: Duration = Duration::from_millis(200);

/// The routes of one process.
pub struct CatalogRouting {
    catalog: watch::Receiver<Arc<Catalog>>,
    map: RwLock<Routes>,
    leaders: FastDashMap<GroupId, NodeId>,
    nodes: Directory<NodeClient>,
}

/// The range map and the descriptors learned from replicas since the catalog.
#[derive(Default)]
struct Routes {
    map: RangeMap,
    learned: HashMap<RangeId, (RangeDesc, Instant)>,
    /// Members of groups the catalog does not know yet (split children).
    members: HashMap<GroupId, Vec<NodeId>>,
}

impl CatalogRouting {
    /// Routes following `catalog`.
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        Self {
            catalog,
            map: RwLock::default(),
            leaders: FastDashMap::default(),
            nodes: Directory::default(),
        }
    }

    /// The catalog as last received.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// The range map, brought up to date with the catalog first.
    pub fn ranges(&self) -> RangeMap {
        self.refresh();
        self.read().map.clone()
    }

    /// The node last found leading `group`.
    pub fn leader_of(&self, group: GroupId) -> Option<NodeId> {
        self.leaders.get(&group).map(|l| *l)
    }

    /// The client of every known node (to close them on shutdown).
    pub fn node_clients(&self) -> Vec<Arc<NodeClient>> {
        self.nodes.all()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Routes> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Routes> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuilds the map if the catalog moved on, keeping what replicas told us that
    /// the catalog does not know yet.
    fn refresh(&self) {
        let catalog = self.catalog.borrow().clone();
        if self.read().map.version() == catalog.version && catalog.version != 0 {
            return;
        }
        self.nodes.update(
            catalog.version,
            catalog.nodes.values().map(|n| (n.id, n.addr.as_str())),
        );
        let mut routes = self.write();
        if routes.map.version() == catalog.version && catalog.version != 0 {
            return;
        }
        let mut map = RangeMap::from_catalog(&catalog);
        routes
            .learned
            .retain(|id, (range, at)| match catalog.ranges.get(id) {
                Some(known) => known.epoch < range.epoch,
                None => at.elapsed() < UNKNOWN_RANGE_TTL,
            });
        for (range, _) in routes.learned.values() {
            map.learn(range.clone());
        }
        let learned: std::collections::HashSet<GroupId> =
            routes.learned.values().map(|(r, _)| r.group).collect();
        routes
            .members
            .retain(|group, _| !catalog.groups.contains_key(group) && learned.contains(group));
        routes.map = map;
    }
}

impl Routing for CatalogRouting {
    fn route(&self, anchor: &[u8]) -> Option<Route> {
        self.refresh();
        let range = self.read().map.lookup(anchor)?.clone();
        let leader = self.leader_of(range.group);
        Some(Route { range, leader })
    }

    fn members(&self, group: GroupId) -> Vec<NodeId> {
        let known = self
            .catalog
            .borrow()
            .groups
            .get(&group)
            .map(|g| g.members.clone());
        known
            .or_else(|| self.read().members.get(&group).cloned())
            .unwrap_or_default()
    }

    fn client(&self, node: NodeId) -> Option<Arc<NodeClient>> {
        self.refresh();
        self.nodes.client(node)
    }

    fn leader_found(&self, group: GroupId, node: NodeId) {
        if self.leader_of(group) != Some(node) {
            self.leaders.insert(group, node);
        }
    }

    fn leader_lost(&self, group: GroupId, node: NodeId) {
        self.leaders.remove_if(&group, |_, leader| *leader == node);
    }

    fn learn(&self, ranges: &[RangeDesc], members: &[NodeId]) {
        self.refresh();
        let unknown: Vec<GroupId> = {
            let catalog = self.catalog.borrow();
            let groups = ranges.iter().map(|r| r.group);
            groups.filter(|g| !catalog.groups.contains_key(g)).collect()
        };
        let mut routes = self.write();
        for range in ranges {
            if routes.map.learn(range.clone()) {
                routes
                    .learned
                    .insert(range.id, (range.clone(), Instant::now()));
            }
        }
        for group in unknown {
            routes.members.insert(group, members.to_vec());
        }
    }

    async fn wait_for_change(&self, until: Instant) {
        let version = self.catalog.borrow().version;
        let mut rx = self.catalog.clone();
        let wait = (Instant::now() + CATALOG_WAIT).min(until);
        let _ = tokio::time::timeout_at(wait, rx.wait_for(|c| c.version > version)).await;
    }
}
