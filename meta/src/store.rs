//! The meta group's state machine: the [`Catalog`] plus Raft's applied position and
//! membership, persisted in fjall as one value written in one batch per apply, so the
//! three never disagree after a crash.
//!
//! Every applied command's catalog changes are also kept, for a while, in the
//! [`CatalogLog`]: followers of the catalog get the changes after their version
//! rather than the whole catalog.

use crate::catalog::{Applied, CatalogRules, MetaCommand};
use crate::MetaTypes;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::Mutex;
use tessera_common::raftlog::io_err;
use tessera_common::raftnet::SnapshotBytes;
use tessera_common::snapshots::SnapshotDir;
use tessera_common::LogSyncer;
use tessera_proto::catalog::{Catalog, CatalogStep, CatalogUpdate};
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
pub type MetaReply = Result<Applied, String>;

/// Most recent catalog steps kept for followers; one further behind gets the whole
/// catalog.
const STEPS_KEPT: usize = 4096;

/// The newest catalog and the recent steps that led to it, shared by the state
/// machine (which appends) and the service (which answers followers).
pub struct CatalogLog {
    steps: Mutex<VecDeque<CatalogStep>>,
    published: watch::Sender<Arc<Catalog>>,
}

impl CatalogLog {
    fn new(catalog: Catalog) -> Self {
        let (published, _) = watch::channel(Arc::new(catalog));
        Self {
            steps: Mutex::default(),
            published,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CatalogStep>> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that always holds the latest applied catalog.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.published.subscribe()
    }

    /// What a follower at `known` needs: the steps after it if they are all kept,
    /// else the whole catalog.
    pub fn since(&self, known: u64) -> CatalogUpdate {
        let current = self.published.borrow().clone();
        if known >= current.version {
            return CatalogUpdate::Steps(Vec::new());
        }
        let steps = self.lock();
        let first_kept = steps.front().map_or(u64::MAX, |s| s.version);
        if known == 0 || known + 1 < first_kept {
            return CatalogUpdate::Full(current);
        }
        let after: Vec<CatalogStep> = steps
            .iter()
            .filter(|s| s.version > known)
            .cloned()
            .collect();
        CatalogUpdate::Steps(after)
    }

    fn push(&self, step: CatalogStep) {
        let mut steps = self.lock();
        steps.push_back(step);
        while steps.len() > STEPS_KEPT {
            steps.pop_front();
        }
    }

    /// Publishes `catalog`; `steps` led to it from the previous one (`None`: they are
    /// unknown, e.g. after installing a snapshot, and followers start over).
    fn publish(&self, catalog: &Catalog, steps: Option<Vec<CatalogStep>>) {
        match steps {
            Some(steps) => steps.into_iter().for_each(|s| self.push(s)),
            None => self.lock().clear(),
        }
        self.published.send_replace(Arc::new(catalog.clone()));
    }
}

/// The meta state machine. Publishes every new catalog on a watch channel.
pub struct MetaStateMachine {
    db: Database,
    keyspace: Keyspace,
    syncer: LogSyncer,
    snapshots: SnapshotDir,
    state: MetaState,
    log: Arc<CatalogLog>,
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
        let log = Arc::new(CatalogLog::new(state.catalog.clone()));
        Ok(Self {
            db: db.clone(),
            keyspace,
            syncer,
            snapshots,
            state,
            log,
        })
    }

    /// The catalog's publication, for the service.
    pub fn catalog_log(&self) -> Arc<CatalogLog> {
        self.log.clone()
    }

    fn persist(&self) -> io::Result<()> {
        let bytes = postcard::to_stdvec(&self.state).map_err(io_err)?;
        let mut batch = self.db.batch();
        batch.insert(&self.keyspace, STATE_KEY, bytes);
        batch.commit().map_err(io_err)
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

impl MetaStateMachine {
    /// Applies one command to the catalog, recording its step if it changed anything.
    fn apply_command(&mut self, cmd: &MetaCommand, steps: &mut Vec<CatalogStep>) -> MetaReply {
        let (changes, applied) = self.state.catalog.changes_for(cmd)?;
        if !changes.is_empty() {
            self.state.catalog.apply(&changes);
            steps.push(CatalogStep {
                version: self.state.catalog.version,
                changes,
            });
        }
        Ok(applied)
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
        let mut steps = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            self.state.applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Ok(Applied::Done),
                EntryPayload::Normal(cmd) => self.apply_command(&cmd, &mut steps),
                EntryPayload::Membership(m) => {
                    self.state.membership =
                        StoredMembershipOf::<MetaTypes>::new(Some(entry.log_id), m);
                    Ok(Applied::Done)
                }
            };
            if let Some(responder) = responder {
                replies.push((responder, reply));
            }
        }
        self.persist()?;
        if !steps.is_empty() {
            self.log.publish(&self.state.catalog, Some(steps));
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
        self.log.publish(&self.state.catalog, None);
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
