//! `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`. A transaction whose keys all live
//! in one range is sent as one `Txn` op: one Raft entry, applied atomically, after
//! checking that every watched key still has the version (sequence number) it had when
//! watched. A transaction spanning ranges is refused at `EXEC` before anything applies.

mod discard;
mod exec;
mod multi;
mod unwatch;
mod watch;

pub use discard::Discard;
pub use exec::Exec;
pub use multi::Multi;
pub use unwatch::Unwatch;
pub use watch::Watch;
