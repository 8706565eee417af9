//! Pieces shared by Tessera's services: the internal RPC transport (length-delimited
//! postcard frames over TCP, one multiplexed connection per peer) and the fjall-backed
//! Raft log store used by both the metadata group and the data groups.

pub mod clock;
pub mod directory;
pub mod failpoint;
pub mod frame;
pub mod glob;
pub mod hash;
pub mod identity;
pub mod raftlog;
pub mod raftnet;
pub mod rpc;
pub mod secret;
pub mod snapshots;
pub mod store;
pub mod syncer;
pub mod tasks;
pub mod ticker;
pub mod wire_bytes;

pub use clock::Clock;
pub use raftlog::{FjallLogStore, LogKeyspaces};
pub use rpc::{PeerClient, RpcClient, RpcError, RpcService, ServiceClient};
pub use store::Store;
pub use syncer::LogSyncer;
