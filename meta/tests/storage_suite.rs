//! openraft's storage conformance suite against the fjall log store and the meta
//! state machine.

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;
use tessera_common::raftlog::LogKeyspaces;
use tessera_common::{FjallLogStore, LogSyncer};
use tessera_meta::{MetaStateMachine, MetaTypes};

struct FjallBuilder;

impl StoreBuilder<MetaTypes, FjallLogStore<MetaTypes>, MetaStateMachine, TempDir> for FjallBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, FjallLogStore<MetaTypes>, MetaStateMachine), StorageError<MetaTypes>>
    {
        let dir = TempDir::new().expect("temp dir");
        let db = fjall::Database::builder(dir.path())
            .open()
            .expect("open fjall");
        let (syncer, _thread) = LogSyncer::start(db.clone()).expect("syncer");
        let logs = LogKeyspaces::open(&db, syncer.clone()).expect("log keyspaces");
        let snapshots = tessera_common::snapshots::SnapshotDir::open(dir.path().join("snapshots"))
            .expect("dir");
        let sm = MetaStateMachine::open(&db, syncer, snapshots).expect("sm");
        Ok((dir, FjallLogStore::new(logs, 0), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fjall_log_store_and_meta_state_machine_pass_openraft_suite() {
    Suite::test_all(FjallBuilder).await.expect("storage suite");
}
