//! The data commands, one file per op type (with the commands that become it), by
//! Redis's command groups. Each file holds the type, its parser and its spec; the
//! node's evaluation of a group lives in the server's engine, one file per group.

pub mod bitmap;
pub mod expiry;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod scan_members;
pub mod set;
pub mod strings;
pub mod txn;
pub mod zset;
