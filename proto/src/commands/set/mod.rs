//! The set commands (Redis's `set` group). A set is one metadata row and one empty row
//! per member (docs/storage.md).

mod combine;
mod sadd;
mod scard;
mod sismember;
mod smembers;
mod smove;
mod spop;
mod srandmember;
mod sscan;

pub use combine::{
    Combine, SCombine, SDiff, SDiffStore, SInter, SInterCard, SInterStore, SUnion, SUnionStore,
};
pub use sadd::{SAdd, SRem};
pub use scard::SCard;
pub use sismember::{SIsMember, SMIsMember};
pub use smembers::SMembers;
pub use smove::SMove;
pub use spop::SPop;
pub use srandmember::SRandMember;
pub use sscan::SScan;
