//! Clients by node id, following address changes: one multiplexed connection per
//! peer, shared by every caller on this process.

use crate::hash::FastDashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A client that can be made for an address.
pub trait AddressedClient: Send + Sync + 'static {
    /// A client for `addr` (connecting lazily).
    fn connect(addr: String) -> Self;
    /// Its address.
    fn address(&self) -> &str;
}

/// Node id → client.
pub struct Directory<C> {
    clients: FastDashMap<u64, Arc<C>>,
    /// The version of the address list last followed (addresses only change with it).
    version: AtomicU64,
}

impl<C> Default for Directory<C> {
    fn default() -> Self {
        Self {
            clients: FastDashMap::default(),
            version: AtomicU64::new(0),
        }
    }
}

impl<C: AddressedClient> Directory<C> {
    /// Points every node id of `nodes` at its address, replacing clients whose address
    /// changed. Cheap when `version` was already followed.
    pub fn update<'a>(&self, version: u64, nodes: impl IntoIterator<Item = (u64, &'a str)>) {
        // The version is recorded after the clients are in place, so a caller that
        // sees it up to date also sees the clients (concurrent updates are harmless).
        if version != 0 && self.version.load(Ordering::Acquire) == version {
            return;
        }
        for (id, addr) in nodes {
            let stale = self.clients.get(&id).is_none_or(|c| c.address() != addr);
            if stale {
                self.clients
                    .insert(id, Arc::new(C::connect(addr.to_string())));
            }
        }
        self.version.store(version, Ordering::Release);
    }

    /// The client for `node`, if its address is known.
    pub fn client(&self, node: u64) -> Option<Arc<C>> {
        self.clients.get(&node).map(|c| c.clone())
    }

    /// Every client, to close them on shutdown.
    pub fn all(&self) -> Vec<Arc<C>> {
        self.clients.iter().map(|c| c.clone()).collect()
    }
}
