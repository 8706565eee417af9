//! openraft's storage conformance suite against the fjall log store and the data
//! group state machine, exactly as a node wires them (one database, shared keyspaces).

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;
use tessera_common::raftlog::LogKeyspaces;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::{FjallLogStore, LogSyncer};
use tessera_meta::catalog::{table_end, table_start};
use tessera_server::state_machine::{DataKeyspaces, GroupStateMachine};
use tessera_server::DataTypes;

struct FjallBuilder;

impl StoreBuilder<DataTypes, FjallLogStore<DataTypes>, GroupStateMachine, TempDir>
    for FjallBuilder
{
    async fn build(
        &self,
    ) -> Result<(TempDir, FjallLogStore<DataTypes>, GroupStateMachine), StorageError<DataTypes>>
    {
        let dir = TempDir::new().expect("temp dir");
        let db = fjall::Database::builder(dir.path())
            .open()
            .expect("open fjall");
        let (syncer, _thread) = LogSyncer::start(db.clone()).expect("syncer");
        let logs = LogKeyspaces::open(&db, syncer.clone()).expect("log keyspaces");
        let snapshots = SnapshotDir::open(dir.path().join("snapshots")).expect("dir");
        let data = DataKeyspaces::open(&db, syncer, snapshots).expect("data keyspaces");
        let log = FjallLogStore::new(logs, 7);
        let sm = GroupStateMachine::open(data, 7, &table_start(0), &table_end(0)).expect("sm");
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_log_store_and_group_state_machine_pass_openraft_suite() {
    Suite::test_all(FjallBuilder).await.expect("storage suite");
}
