//! Keyspace and expiry commands (Redis's `generic` group) that work on given keys.

mod copy;
mod del;
mod exists;
mod expire;
mod persist;
mod rename;
mod ttl;
mod type_of;

pub use copy::Copy;
pub use del::{Del, Unlink};
pub use exists::{Exists, Touch};
pub use expire::{Expire, ExpireAt, ExpireCond, PExpire, PExpireAt};
pub use persist::Persist;
pub use rename::{Rename, RenameNx};
pub use ttl::{ExpireTime, PExpireTime, PTtl, Ttl, TtlForm};
pub use type_of::Type;
