//! The meta group's state machine: the [`Catalog`] plus Raft's applied position and
//! membership, persisted in fjall as one value written in one batch per apply, so the
//! three never disagree after a crash.

use crate::catalog::Catalog;
use crate::MetaTypes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use tessera_common::raftlog::io_err;
use tessera_common::raftnet::SnapshotBytes;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::LogSyncer;
use tokio::sync::watch;

const STATE_KEY: &str = "state";
/// The meta group's snapshot file id.
const SNAPSHOT_ID: u64 = 0;

/// What the meta state machine persists, and what a snapshot carries.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct MetaState {
    /// The last applied log id.
    pub applied: Option<LogIdOf<MetaTypes>>,
    /// The last applied membership.
    pub membership: StoredMembershipOf<MetaTypes>,
    /// The catalog.
    pub catalog: Catalog,
}

/// The result of applying one command: `Err` says why the catalog refused it.
pub type MetaReply = Result<(), String>;

/// The meta state machine. Publishes every new catalog on a watch channel.
pub struct MetaStateMachine {
    db: Database,
    keyspace: Keyspace,
    syncer: LogSyncer,
    snapshots: SnapshotDir,
    state: MetaState,
    published: watch::Sender<Arc<Catalog>>,
}

impl MetaStateMachine {
    /// Opens the state machine stored in `db`.
    ///
    /// # Errors
    /// fjall errors or a corrupt stored state.
    pub fn open(db: &Database, syncer: LogSyncer, snapshots: SnapshotDir) -> io::Result<Self> {
        let keyspace = db
            .keyspace("meta_sm", KeyspaceCreateOptions::default)
            .map_err(io_err)?;
        let state: MetaState = match keyspace.get(STATE_KEY).map_err(io_err)? {
            Some(bytes) => postcard::from_bytes(&bytes).map_err(io_err)?,
            None => MetaState::default(),
        };
        let (published, _) = watch::channel(Arc::new(state.catalog.clone()));
        Ok(Self {
            db: db.clone(),
            keyspace,
            syncer,
            snapshots,
            state,
            published,
        })
    }

    /// A receiver that always holds the latest applied catalog.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.published.subscribe()
    }

    fn persist(&self) -> io::Result<()> {
        let bytes = postcard::to_stdvec(&self.state).map_err(io_err)?;
        let mut batch = self.db.batch();
        batch.insert(&self.keyspace, STATE_KEY, bytes);
        batch.commit().map_err(io_err)
    }

    fn publish(&self) {
        self.published
            .send_replace(Arc::new(self.state.catalog.clone()));
    }
}

fn snapshot_of(bytes: Vec<u8>) -> io::Result<SnapshotOf<MetaTypes, SnapshotBytes>> {
    let state: MetaState = postcard::from_bytes(&bytes).map_err(io_err)?;
    let meta = SnapshotMetaOf::<MetaTypes> {
        last_log_id: state.applied,
        last_membership: state.membership,
    };
    Ok(Snapshot {
        meta,
        snapshot: SnapshotBytes::new(bytes),
    })
}

/// Builds a snapshot from a copy of the state taken when the builder was made.
pub struct MetaSnapshotBuilder {
    state: io::Result<Vec<u8>>,
    snapshots: SnapshotDir,
}

impl RaftSnapshotBuilder<MetaTypes> for MetaSnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<MetaTypes, SnapshotBytes>, io::Error> {
        let bytes = std::mem::replace(&mut self.state, Err(io::Error::other("already built")))?;
        self.snapshots.save(SNAPSHOT_ID, &bytes)?;
        snapshot_of(bytes)
    }
}

impl RaftStateMachine<MetaTypes> for MetaStateMachine {
    type SnapshotData = SnapshotBytes;
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<MetaTypes>>, StoredMembershipOf<MetaTypes>), io::Error> {
        Ok((self.state.applied, self.state.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<MetaTypes>, io::Error>> + Unpin + OptionalSend,
    {
        let mut replies = Vec::new();
        let version = self.state.catalog.version;
        while let Some((entry, responder)) = entries.try_next().await? {
            self.state.applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Ok(()),
                EntryPayload::Normal(cmd) => self.state.catalog.apply(&cmd),
                EntryPayload::Membership(m) => {
                    self.state.membership =
                        StoredMembershipOf::<MetaTypes>::new(Some(entry.log_id), m);
                    Ok(())
                }
            };
            if let Some(responder) = responder {
                replies.push((responder, reply));
            }
        }
        self.persist()?;
        if self.state.catalog.version != version {
            self.publish();
        }
        for (responder, reply) in replies {
            responder.send(reply);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        MetaSnapshotBuilder {
            state: postcard::to_stdvec(&self.state).map_err(io_err),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMetaOf<MetaTypes>,
        snapshot: SnapshotBytes,
    ) -> Result<(), io::Error> {
        self.state = postcard::from_bytes(snapshot.get_ref()).map_err(io_err)?;
        self.snapshots.save(SNAPSHOT_ID, snapshot.get_ref())?;
        self.persist()?;
        self.syncer.sync().await?;
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<MetaTypes, SnapshotBytes>>, io::Error> {
        self.snapshots
            .load(SNAPSHOT_ID)?
            .map(snapshot_of)
            .transpose()
    }
}
