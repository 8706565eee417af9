//! Tests that run the real `tessera` binary as a child process and kill it.

#[path = "../harness/mod.rs"]
mod harness;

mod durability;
mod restore;
