//! Crash points for recovery tests. A process started with `--failpoint NAME` aborts
//! (like `kill -9`: nothing flushed, nothing cleaned up) the first time it reaches the
//! point named `NAME`; without the flag every point is a no-op that costs one load.
//!
//! The points, in the order a range change reaches them:
//!
//! | name | where |
//! |---|---|
//! | `split-before-apply` | a node, before it applies a split |
//! | `split-after-apply` | a node, after the split's batch, before the new group starts |
//! | `split-before-election` | a node, the new group started, before it campaigns |
//! | `meta-split-before-record` | the meta leader, the split applied, before recording it |
//! | `meta-merge-after-freeze` | the meta leader, the source frozen, before the merge |
//! | `merge-after-apply` | a node, after the merge's batch, before the source retires |
//! | `meta-merge-before-record` | the meta leader, the merge applied, before recording it |

use std::sync::OnceLock;

static ARMED: OnceLock<String> = OnceLock::new();

/// Arms the point `name` for this process (once; later calls are ignored).
pub fn arm(name: String) {
    let _ = ARMED.set(name);
}

/// Aborts the process if `name` is the armed point.
pub fn hit(name: &str) {
    if ARMED.get().is_some_and(|armed| armed == name) {
        eprintln!("tessera: failpoint {name} reached: aborting");
        std::process::abort();
    }
}
