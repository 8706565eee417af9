//! Following the catalog: every new version may assign replicas to this node or drop
//! groups it hosts.

use crate::node::Node;
use std::sync::Arc;
use tessera_proto::catalog::Catalog;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Adopts the groups of every new catalog until `shutdown`.
pub(crate) async fn run(
    node: Arc<Node>,
    mut catalog: watch::Receiver<Arc<Catalog>>,
    shutdown: CancellationToken,
) {
    loop {
        let current = catalog.borrow_and_update().clone();
        node.adopt_groups(&current).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = catalog.changed() => if changed.is_err() { return },
        }
    }
}
