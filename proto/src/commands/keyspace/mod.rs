//! Keyspace and expiry commands (Redis's `generic` group) that work on given keys.

mod copy;
mod del;
mod exists;
mod expire;
mod object;
mod persist;
mod rename;
mod sort;
mod ttl;
mod type_of;

pub use copy::Copy;
pub use del::{Del, Unlink};
pub use exists::{Exists, Touch};
pub use expire::{Expire, ExpireAt, ExpireCond, PExpire, PExpireAt};
pub use object::{parse as parse_object, Object, ObjectInfo, HELP as OBJECT_HELP};
pub use persist::Persist;
pub use rename::{Rename, RenameNx};
pub use sort::{Sort, SortRo};
pub use ttl::{ExpireTime, PExpireTime, PTtl, Ttl, TtlForm};
pub use type_of::Type;
