//! The node's background loops. Each owns its state and runs until shutdown; `run`
//! (in the crate root) spawns them into one set and joins them.

pub(crate) mod catalog;
pub(crate) mod collector;
pub(crate) mod heartbeat;
pub(crate) mod ranges;
pub(crate) mod reconciler;
pub(crate) mod sleeper;
pub(crate) mod snapshotter;
pub(crate) mod sweeper;
pub(crate) mod watchman;
