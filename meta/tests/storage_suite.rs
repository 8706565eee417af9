//! openraft's storage conformance suite against the fjall log store and the meta
//! state machine.

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;
use tessera_common::{FjallLogStore, Store};
use tessera_meta::{MetaStateMachine, MetaTypes};

/// Kept alive by the suite while it uses a store; the store closes before its directory goes.
type Held = (Store, TempDir);

struct FjallBuilder;

impl StoreBuilder<MetaTypes, FjallLogStore<MetaTypes>, MetaStateMachine, Held> for FjallBuilder {
    async fn build(
        &self,
    ) -> Result<(Held, FjallLogStore<MetaTypes>, MetaStateMachine), StorageError<MetaTypes>> {
        let dir = TempDir::new().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let sm = MetaStateMachine::open(&store.db, store.syncer.clone(), store.snapshots.clone())
            .expect("sm");
        let log = FjallLogStore::new(store.logs.clone(), 0);
        Ok(((store, dir), log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_log_store_and_meta_state_machine_pass_openraft_suite() {
    Suite::test_all(FjallBuilder).await.expect("storage suite");
}
