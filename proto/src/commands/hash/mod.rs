//! The hash commands (Redis's `hash` group). A hash is one metadata row and one row per
//! field (docs/storage.md).

mod hdel;
mod hget;
mod hgetall;
mod hincrby;
mod hlen;
mod hmget;
mod hrandfield;
mod hscan;
mod hset;

pub use crate::commands::scan_members::ScanMembers;
pub use hdel::HDel;
pub use hget::{FieldForm, HExists, HGet, HStrlen};
pub use hgetall::{HGetAll, HKeys, HVals, Listing};
pub use hincrby::{HIncrBy, HIncrByFloat};
pub use hlen::HLen;
pub use hmget::HMGet;
pub use hrandfield::HRandField;
pub use hscan::HScan;
pub use hset::{HMSet, HSet, HSetForm, HSetNx};

use crate::args::Args;
use crate::reply::{wrong_arity, Reply};
use bytes::Bytes;

/// Field/value pairs, in request order.
pub type FieldValues = Vec<(Bytes, Bytes)>;

/// The rest of the arguments as field/value pairs (values within the size limit).
fn field_values(args: &mut Args, name: &str) -> Result<FieldValues, Reply> {
    if !args.remaining().is_multiple_of(2) {
        return Err(wrong_arity(name));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.value()?, args.value()?));
    }
    Ok(pairs)
}
