//! In-process cluster tests: a real meta group, three storage nodes and a router over
//! loopback TCP, driven by a real Redis client.

#[path = "../harness/mod.rs"]
mod harness;

mod backup;
mod basic;
mod batching;
mod blocking;
mod browser;
mod bytes;
mod catch_up;
mod console;
mod elastic;
mod expiry;
mod hashes;
mod hibernation;
mod introspection;
mod multi_key;
mod read_cache;
mod table_lifecycle;
mod tables;
mod transactions;
mod zsets;
