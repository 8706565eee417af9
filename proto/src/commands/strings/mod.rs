//! String commands (Redis's `string` group).

mod append;
mod get;
mod getdel;
mod getex;
mod getrange;
mod incr;
mod incrbyfloat;
mod lcs;
mod mget;
mod mset;
mod set;
mod setrange;
mod strlen;

pub use append::Append;
pub use get::Get;
pub use getdel::GetDel;
pub use getex::GetEx;
pub use getrange::{GetRange, Substr};
pub use incr::{Decr, DecrBy, Incr, IncrBy};
pub use incrbyfloat::IncrByFloat;
pub use lcs::{Lcs, LcsOptions};
pub use mget::MGet;
pub use mset::{MSet, MSetNx};
pub use set::{GetSet, PSetEx, Set, SetCond, SetEx, SetNx, SetReply};
pub use setrange::SetRange;
pub use strlen::Strlen;
