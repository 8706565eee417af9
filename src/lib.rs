//! The `tessera` binary's library side: assembling the services into the processes the
//! CLI starts. [`dev::DevCluster`] is the embedded default (`tessera dev`): one meta
//! member, three storage nodes and a router in one process, talking over real TCP.

pub mod cli;
pub mod config;
pub mod console;
pub mod dev;
pub mod http;
pub mod playground;
pub mod restore;
