//! Storage keys (DESIGN.md §3): `table id (4 bytes, big-endian)` ++ user key, so that
//! sorting storage keys sorts by table, then key.

use crate::ids::TableId;

/// The names `TYPE` answers, by the type tag in a stored value's header (Redis's own
/// type numbers: string 0, list 1, set 2, sorted set 3, hash 4).
pub const TYPE_NAMES: [&str; 5] = ["string", "list", "set", "zset", "hash"];

/// The type tag of a `TYPE` name (any case).
pub fn type_tag(name: &[u8]) -> Option<u8> {
    let at = TYPE_NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))?;
    u8::try_from(at).ok()
}

/// Longest user key: fjall's 64 KiB limit minus the 4-byte table prefix.
pub const MAX_KEY_BYTES: usize = 65_536 - 4;

/// The first storage key of `table`.
pub fn table_start(table: TableId) -> Vec<u8> {
    table.to_be_bytes().to_vec()
}

/// The first storage key after `table`.
pub fn table_end(table: TableId) -> Vec<u8> {
    match table.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    }
}

/// The storage key of `user_key` in `table`.
pub fn storage_key(table: TableId, user_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + user_key.len());
    key.extend_from_slice(&table.to_be_bytes());
    key.extend_from_slice(user_key);
    key
}

/// The first key after every key that starts with `prefix` (`None`: there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_sort_by_table_then_key() {
        assert!(storage_key(1, b"zzz") < storage_key(2, b""));
        assert!(storage_key(1, b"a") < table_end(1));
        assert_eq!(table_start(3), storage_key(3, b""));
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}
