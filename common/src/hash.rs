//! Hash maps keyed by what is ours — group, node and request ids, and the keys of one
//! apply batch — hash with FxHash (rustc-hash) instead of the standard SipHash: these
//! maps sit on every request's path and need no protection against chosen keys
//! (ids are assigned by us; a batch's keys are a bounded, short-lived set).

/// The hasher of [`FastMap`] and [`FastDashMap`].
pub use rustc_hash::FxBuildHasher as FastHasher;

/// A `HashMap` hashed with [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastHasher>;

/// A `HashSet` hashed with [`FastHasher`].
pub type FastSet<K> = std::collections::HashSet<K, FastHasher>;

/// A `DashMap` hashed with [`FastHasher`].
pub type FastDashMap<K, V> = dashmap::DashMap<K, V, FastHasher>;
