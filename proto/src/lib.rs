//! The contract between Tessera's services. `router`, `server` (storage nodes) and
//! `meta` depend on this crate and on `common`, never on each other:
//!
//! - [`catalog`], [`keys`]: the catalog schema (nodes, tables, ranges with epochs,
//!   groups), storage keys, and the catalog's change stream;
//! - [`range_map`]: routing as a value (range lookup by key, [`range_map::Route`]);
//! - [`op`], [`commands`], [`args`], [`spec`]: every data command as a type that parses
//!   its arguments and becomes the op a node executes, with its `COMMAND` spec;
//! - [`reply`], [`number`]: replies as values and Redis's number formats;
//! - [`data`], [`node_api`]: requests to storage nodes and the errors they answer;
//! - [`meta_api`], [`meta_client`]: requests to the meta service and its client.

pub mod args;
pub mod backup;
pub mod call;
pub mod catalog;
pub mod commands;
pub mod data;
pub mod ids;
pub mod keys;
pub mod meta_api;
pub mod meta_client;
pub mod node_api;
pub mod number;
pub mod op;
pub mod range_map;
pub mod reply;
pub mod routing;
pub mod spec;

pub use args::{Args, Limits};
pub use catalog::{Catalog, GroupId, NodeId, RangeDesc, RangeId, TableId};
pub use data::{DataError, DataRequest, DataResponse};
pub use meta_client::{MetaClient, MetaError};
pub use node_api::{NodeClient, NodeRequest, NodeResponse, ReplicaDigest};
pub use op::{Command, Op, OpKind};
pub use reply::Reply;
pub use spec::CommandSpec;
