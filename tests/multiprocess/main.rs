//! Clusters of separate `tessera meta|node|router` processes, killed with SIGKILL. Own
//! test binary: failover is timed, so nothing else should compete for the CPU.

#[path = "../harness/mod.rs"]
mod harness;

mod cluster;
mod elastic;
mod healing;
mod load;
mod meta_identity;
mod metrics;
mod partition;
mod playground;
mod reshape;
mod sigkill;
