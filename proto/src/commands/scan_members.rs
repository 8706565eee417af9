//! What `HSCAN`, `SSCAN` (and `ZSCAN`) share: one collection's members after a cursor.

use crate::args::Args;
use crate::op::OpKind;
use crate::reply::Reply;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Iterates one collection's members in byte order. A call returns every member after
/// the cursor position up to a bound far above `COUNT` (which Redis treats as a hint
/// too), so a collection of ordinary size comes back whole with cursor 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanMembers {
    /// The key.
    pub key: Bytes,
    /// The type the key must hold (a type tag: 2 set, 4 hash).
    pub kind: u8,
    /// Where to go on from: 0, or a cursor an earlier call returned.
    pub cursor: u64,
    /// Only members matching this glob-style pattern.
    pub pattern: Option<Bytes>,
    /// The `COUNT` hint.
    pub count: u64,
}

impl OpKind for ScanMembers {
    fn is_write(&self) -> bool {
        false
    }
    fn keys(&self) -> Vec<&Bytes> {
        vec![&self.key]
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        vec![&mut self.key]
    }
}

/// Parses `key cursor [MATCH pattern] [COUNT count]` of a collection of type `kind`.
///
/// # Errors
/// Redis's cursor, syntax and integer errors.
pub fn parse(args: &mut Args, kind: u8) -> Result<ScanMembers, Reply> {
    let key = args.key()?;
    let cursor = args.cursor()?;
    let options = args.scan_options(false)?;
    Ok(ScanMembers {
        key,
        kind,
        cursor,
        pattern: options.pattern,
        count: options.count,
    })
}
