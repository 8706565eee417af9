//! openraft's storage conformance suite against the fjall log store and the data
//! group state machine, exactly as a node wires them (one database, shared keyspaces).

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;
use tessera_common::{FjallLogStore, Store};
use tessera_proto::keys::{table_end, table_start};
use tessera_server::state_machine::{DataKeyspaces, GroupStateMachine};
use tessera_server::DataTypes;

/// Kept alive by the suite while it uses a store; the store closes before its directory goes.
type Held = (Store, TempDir);

struct FjallBuilder;

impl StoreBuilder<DataTypes, FjallLogStore<DataTypes>, GroupStateMachine, Held> for FjallBuilder {
    async fn build(
        &self,
    ) -> Result<(Held, FjallLogStore<DataTypes>, GroupStateMachine), StorageError<DataTypes>> {
        let dir = TempDir::new().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let data = DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone())
            .expect("data keyspaces");
        let log = FjallLogStore::new(store.logs.clone(), 7);
        let range = tessera_proto::catalog::RangeDesc {
            start: table_start(0),
            end: table_end(0),
            ..Default::default()
        };
        let sm = GroupStateMachine::open(data, 7, &range).expect("sm");
        Ok(((store, dir), log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_log_store_and_group_state_machine_pass_openraft_suite() {
    Suite::test_all(FjallBuilder).await.expect("storage suite");
}
