//! Commands over the whole key space: `SCAN`, `KEYS`, `RANDOMKEY`, `DBSIZE`,
//! `FLUSHALL`/`FLUSHDB`, `INFO`. Ranges are visited in key order; each is read
//! linearizably from its leader, in pages ([`listing`]).

mod dbsize;
mod flush;
mod info;
mod keys;
mod listing;
mod randomkey;
mod scan;

pub use dbsize::DbSize;
pub use flush::{FlushAll, FlushDb};
pub use info::Info;
pub use keys::Keys;
pub use randomkey::RandomKey;
pub use scan::Scan;

pub(crate) use listing::count;
