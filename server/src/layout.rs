//! Where a collection's members live (docs/storage.md).
//!
//! A collection's metadata is its key's one row in the `data` keyspace, like a string.
//! Its members are rows of the `members` keyspace, keyed by
//!
//! ```text
//! table (4) ++ escaped user key ++ 0x00 0x01 ++ version (16) ++ member
//! ```
//!
//! The escaping (`0x00` becomes `0x00 0xff`) and the terminator make the encoded key
//! prefix-free and keep its order, so the members of one key are one contiguous
//! interval, members of different keys sort like their keys, and a range `[start, end)`
//! of the `data` keyspace owns exactly the interval `[bound(start), bound(end))` here.
//! The version is the sequence number of the write that created the collection: a
//! deleted or overwritten collection's rows keep their old version, are invisible to
//! the new one, and are deleted later through Raft by the collector.

use crate::value::Seq;

/// Bytes of a version.
pub const VERSION_LEN: usize = 16;
/// Bytes of the table id at the front of every storage key.
const TABLE_LEN: usize = 4;

/// Appends the escaped, terminated form of `key` to `out`.
fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

/// The members-keyspace bound that corresponds to the data-keyspace bound `bound`.
pub fn bound(bound: &[u8]) -> Vec<u8> {
    if bound.len() < TABLE_LEN {
        return bound.to_vec();
    }
    let mut out = Vec::with_capacity(bound.len() + 2);
    out.extend_from_slice(&bound[..TABLE_LEN]);
    escape_into(&mut out, &bound[TABLE_LEN..]);
    // The bound's own escaped form sorts after a shorter key's rows, but the rows of
    // `bound` itself start with it: drop the terminator so they are inside.
    out.truncate(out.len() - 2);
    out
}

/// The prefix of every member row of the collection at storage key `key` with
/// `version`.
pub fn prefix(key: &[u8], version: Seq) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + VERSION_LEN);
    out.extend_from_slice(&key[..TABLE_LEN.min(key.len())]);
    escape_into(&mut out, key.get(TABLE_LEN..).unwrap_or_default());
    out.extend_from_slice(&version.to_bytes());
    out
}

/// The row key of `member` in the collection whose rows start with `prefix`.
pub fn row(prefix: &[u8], member: &[u8]) -> Vec<u8> {
    [prefix, member].concat()
}

/// The storage key and version of the collection a row (or a prefix) belongs to, and
/// the length of its prefix; `None` if the bytes are not a member row.
pub fn split(row: &[u8]) -> Option<(Vec<u8>, Seq, usize)> {
    let table = row.get(..TABLE_LEN)?;
    let mut key = table.to_vec();
    let mut i = TABLE_LEN;
    loop {
        match (row.get(i)?, row.get(i + 1)) {
            (0, Some(0xff)) => {
                key.push(0);
                i += 2;
            }
            (0, Some(1)) => {
                i += 2;
                break;
            }
            (0, _) => return None,
            (&b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    let version = row.get(i..i + VERSION_LEN)?;
    let version = Seq(u128::from_be_bytes(version.try_into().ok()?));
    Some((key, version, i + VERSION_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &[u8]) -> Vec<u8> {
        [&7u32.to_be_bytes()[..], user].concat()
    }

    #[test]
    fn rows_sort_like_their_keys_and_never_overlap() {
        let users: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"\0\x01", b"a", b"a\0", b"ab"];
        let v = Seq(5);
        let rows: Vec<Vec<u8>> = users
            .iter()
            .flat_map(|u| {
                let p = prefix(&key(u), v);
                [row(&p, b""), row(&p, b"\xff\xff")]
            })
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(rows, sorted, "a key's rows are contiguous, in key order");
        for (i, u) in users.iter().enumerate() {
            let rows_of = &rows[2 * i..2 * i + 2];
            let b = bound(&key(u));
            assert!(rows_of.iter().all(|r| r.as_slice() >= b.as_slice()));
            assert!(rows[..2 * i].iter().all(|r| r.as_slice() < b.as_slice()));
            let (k, version, len) = split(&rows_of[1]).unwrap();
            assert_eq!((k, version), (key(u), v));
            assert_eq!(&rows_of[1][len..], b"\xff\xff");
        }
    }

    #[test]
    fn a_short_bound_is_kept_and_garbage_does_not_split() {
        assert_eq!(bound(&[0xff]), vec![0xff]);
        assert_eq!(bound(&7u32.to_be_bytes()), 7u32.to_be_bytes().to_vec());
        assert!(split(b"\0\0\0\x07ab").is_none());
        assert!(split(b"\0\0\0\x07a\0\x02").is_none());
    }
}
