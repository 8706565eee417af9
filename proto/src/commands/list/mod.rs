//! The list commands (Redis's `list` group). A list is one metadata row and one row per
//! element, keyed by its position (docs/storage.md).

mod blocking;
mod lindex;
mod linsert;
mod lmove;
mod lmpop;
mod lpop;
mod lpos;
mod lpush;
mod lrange;
mod lrem;

pub(crate) use blocking::{pair, timeout};
pub use blocking::{
    popped_nothing, BLMPop, BLMove, BLPop, BPop, BRPop, BRPopLPush, BlockingForm, TIMED_OUT,
};
pub use lindex::{LIndex, LSet};
pub use linsert::LInsert;
pub use lmove::{LMove, RPopLPush};
pub use lmpop::LMPop;
pub use lpop::{LPop, RPop};
pub use lpos::LPos;
pub use lpush::{LPush, LPushX, RPush, RPushX};
pub use lrange::{LLen, LRange, LTrim};
pub use lrem::LRem;

use crate::args::Args;
use crate::reply::{syntax_error, Reply};

/// `LEFT` (true) or `RIGHT` (false).
fn side(args: &mut Args) -> Result<bool, Reply> {
    match args.option().as_deref() {
        Some("left") => Ok(true),
        Some("right") => Ok(false),
        _ => Err(syntax_error()),
    }
}
