//! Snapshots of one group: built as a marker of the applied position (the state
//! machine *is* the data keyspace), read as the group's record and every key of its
//! range from a consistent fjall view when a follower needs one.

use super::{GroupRecord, GroupStateMachine};
use crate::layout;
use crate::state_machine::DataKeyspaces;
use crate::DataTypes;
use fjall::Readable;
use openraft::storage::Snapshot;
use openraft::type_config::alias::SnapshotOf;
use openraft::RaftSnapshotBuilder;
use serde::{Deserialize, Serialize};
use std::io;
use tessera_common::raftlog::io_err;
use tessera_common::raftnet::SnapshotBytes;
use tessera_proto::catalog::GroupId;

/// Snapshot contents: the record, then every key/value of the range. The record comes
/// first so that the snapshot's metadata can be read without decoding the data.
#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotPayload {
    pub(super) record: GroupRecord,
    #[serde(with = "tessera_common::wire_bytes::byte_pairs")]
    pub(super) entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every member row of the range (collections' members).
    #[serde(with = "tessera_common::wire_bytes::byte_pairs")]
    pub(super) members: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Wraps stored snapshot bytes with the metadata their record describes.
pub(super) fn snapshot_of(bytes: Vec<u8>) -> io::Result<SnapshotOf<DataTypes, SnapshotBytes>> {
    let (record, _) = postcard::take_from_bytes::<GroupRecord>(&bytes).map_err(io_err)?;
    let meta = GroupStateMachine::snapshot_meta(&record);
    Ok(Snapshot {
        meta,
        snapshot: SnapshotBytes::new(bytes),
    })
}

/// Builds a snapshot from a fjall snapshot taken between two applies.
pub struct GroupSnapshotBuilder {
    pub(super) ks: DataKeyspaces,
    pub(super) group: GroupId,
    pub(super) view: fjall::Snapshot,
}

impl RaftSnapshotBuilder<DataTypes> for GroupSnapshotBuilder {
    type SnapshotData = SnapshotBytes;

    /// Records the snapshot point only. openraft keeps just the metadata of a built
    /// snapshot (to decide what log it may purge) and asks `get_current_snapshot` for
    /// the data when a follower needs it, so copying the whole range here would only
    /// double the disk used. The returned data is empty: it is never installed.
    async fn build_snapshot(&mut self) -> Result<SnapshotOf<DataTypes, SnapshotBytes>, io::Error> {
        let record = read_record(&self.ks, self.group, &self.view)?;
        metrics::counter!("tessera_node_snapshots_built_total").increment(1);
        let marker = postcard::to_stdvec(&record).map_err(io_err)?;
        let (ks, group) = (self.ks.clone(), self.group);
        tokio::task::spawn_blocking(move || ks.snapshots.save(group, &marker))
            .await
            .map_err(io_err)??;
        let meta = GroupStateMachine::snapshot_meta(&record);
        Ok(Snapshot {
            meta,
            snapshot: SnapshotBytes::new(Vec::new()),
        })
    }
}

/// The group's record as of `view`.
pub(super) fn read_record(
    ks: &DataKeyspaces,
    group: GroupId,
    view: &fjall::Snapshot,
) -> io::Result<GroupRecord> {
    match view.get(&ks.groups, group.to_be_bytes()).map_err(io_err)? {
        Some(bytes) => postcard::from_bytes(&bytes).map_err(io_err),
        None => Ok(GroupRecord::default()),
    }
}

/// Serializes the group's record and range from a consistent fjall view.
pub(super) fn read_snapshot(
    ks: &DataKeyspaces,
    group: GroupId,
    view: &fjall::Snapshot,
) -> io::Result<Vec<u8>> {
    let record = read_record(ks, group, view)?;
    let mut entries = Vec::new();
    let range = record.range.start.as_slice()..record.range.end.as_slice();
    for kv in view.range(&ks.data, range) {
        let (k, v) = kv.into_inner().map_err(io_err)?;
        entries.push((k.to_vec(), v.to_vec()));
    }
    let mut members = Vec::new();
    let rows = layout::bound(&record.range.start)..layout::bound(&record.range.end);
    for kv in view.range(&ks.members, rows) {
        let (k, v) = kv.into_inner().map_err(io_err)?;
        members.push((k.to_vec(), v.to_vec()));
    }
    let payload = SnapshotPayload {
        record,
        entries,
        members,
    };
    postcard::to_stdvec(&payload).map_err(io_err)
}
