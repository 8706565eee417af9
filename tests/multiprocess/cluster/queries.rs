//! What a test asks a running [`Cluster`]: who leads, the catalog, replica digests.

use super::Cluster;
use crate::harness::wait_for;
use std::collections::BTreeMap;
use std::time::Duration;
use tessera_common::ServiceClient;
use tessera_proto::catalog::{Catalog, GroupId, NodeId};
use tessera_proto::meta_api::{MetaRequest, MetaResponse};
use tessera_proto::ReplicaDigest;
use tessera_proto::{NodeClient, NodeRequest, NodeResponse};

impl Cluster {
    /// The id of the meta member that currently leads, if one answers as leader.
    pub async fn meta_leader(&self) -> Option<u64> {
        for (i, addr) in self.meta_list.iter().enumerate() {
            if self.meta[i].1.is_none() {
                continue;
            }
            let client = ServiceClient::<MetaRequest, MetaResponse>::new(addr.clone());
            if let Ok(MetaResponse::Nodes(_)) = client
                .call(&MetaRequest::Nodes, Duration::from_secs(2))
                .await
            {
                return Some(i as u64 + 1);
            }
        }
        None
    }

    /// The catalog as a live meta member has it.
    pub async fn catalog(&self) -> Option<std::sync::Arc<Catalog>> {
        let live: Vec<String> = self
            .meta_list
            .iter()
            .enumerate()
            .filter(|(i, _)| self.meta[*i].1.is_some())
            .map(|(_, a)| a.clone())
            .collect();
        let meta = tessera_proto::MetaClient::new(live);
        meta.full_catalog().await.ok()
    }

    /// The default table's group and its members, once the table exists.
    pub async fn default_group(&self) -> (GroupId, Vec<NodeId>) {
        wait_for(Duration::from_secs(30), "the default table", || async {
            let catalog = self.catalog().await?;
            let range = catalog.ranges.values().find(|r| r.table == 0)?;
            let group = catalog.groups.get(&range.group)?;
            Some((group.id, group.members.clone()))
        })
        .await
    }

    /// The leader of `group` that a majority of the replicas that answer agree on.
    pub async fn leader_of(&self, group: GroupId) -> Option<NodeId> {
        let mut votes: BTreeMap<NodeId, usize> = BTreeMap::new();
        for (id, service) in &self.nodes {
            if service.is_none() {
                continue;
            }
            if let Some(leader) = self.digest(*id, group).await.and_then(|d| d.leader) {
                *votes.entry(leader).or_default() += 1;
            }
        }
        votes
            .into_iter()
            .find(|(_, n)| *n >= 2)
            .map(|(leader, _)| leader)
    }

    /// Node `id`'s digest of `group`, if it is up and hosts it.
    pub async fn digest(&self, id: NodeId, group: GroupId) -> Option<ReplicaDigest> {
        let catalog = self.catalog().await?;
        let addr = catalog.nodes.get(&id)?.addr.clone();
        let client = NodeClient::new(addr);
        match client
            .call(&NodeRequest::Digest { group }, Duration::from_secs(2))
            .await
        {
            Ok(NodeResponse::Digest(Ok(digest))) => Some(digest),
            _ => None,
        }
    }

    /// Whether all of `group`'s members in the catalog hold the same data at the same
    /// applied index (one look; `wait_replicas_agree` waits for it).
    pub async fn replicas_agree(&self, group: GroupId) -> bool {
        let Some(catalog) = self.catalog().await else {
            return false;
        };
        let Some(members) = catalog.groups.get(&group).map(|g| g.members.clone()) else {
            return false;
        };
        let mut digests = Vec::new();
        for m in &members {
            match self.digest(*m, group).await {
                Some(d) => digests.push(d),
                None => return false,
            }
        }
        let Some(first) = digests.first() else {
            return false;
        };
        digests
            .iter()
            .all(|d| d.applied == first.applied && d.digest == first.digest && d.keys == first.keys)
    }

    /// Waits until all of `group`'s members in the catalog hold the same data at the
    /// same applied index.
    pub async fn wait_replicas_agree(&self, group: GroupId, limit: Duration, what: &str) {
        wait_for(limit, what, || async {
            self.replicas_agree(group).await.then_some(())
        })
        .await
    }
}
