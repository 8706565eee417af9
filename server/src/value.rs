//! Stored values and sequence numbers (DESIGN.md §3).
//!
//! A stored value is a 25-byte header — value type (1), sequence number (16), absolute
//! expiry in ms since the epoch or 0 for none (8) — followed by the payload.

use serde::{Deserialize, Serialize};

/// A write's 16-byte sequence number: wall-clock ns (8) ++ counter (4) ++ node id (4),
/// compared as one big-endian number. Strictly increasing within a group, assigned by
/// the leader and carried in the Raft entry, so every replica stores the same one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Seq(pub u128);

impl Seq {
    /// Builds a sequence number from its parts.
    pub fn new(nanos: u64, counter: u32, node: u32) -> Self {
        Seq((u128::from(nanos) << 64) | (u128::from(counter) << 32) | u128::from(node))
    }

    /// The wall-clock part.
    pub fn nanos(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// The counter part.
    pub fn counter(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The `i`-th sequence number of a batch that starts at `self`.
    pub fn nth(self, i: usize) -> Self {
        Seq(self.0 + ((i as u128) << 32))
    }

    /// Big-endian bytes, as stored.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

/// Hands out strictly increasing sequence numbers on a group leader.
#[derive(Debug)]
pub struct SeqGen {
    node: u32,
    last: Seq,
}

impl SeqGen {
    /// A generator for `node`.
    pub fn new(node: u32) -> Self {
        Self {
            node,
            last: Seq::default(),
        }
    }

    /// Reserves `n` consecutive numbers above both the last one handed out and
    /// `floor` (the highest sequence the group has applied), returning the first.
    pub fn reserve(&mut self, now_nanos: u64, n: usize, floor: Seq) -> Seq {
        let prev = self.last.max(floor);
        let first = if now_nanos > prev.nanos() {
            Seq::new(now_nanos, 0, self.node)
        } else {
            Seq::new(prev.nanos(), prev.counter().saturating_add(1), self.node)
        };
        self.last = first.nth(n.saturating_sub(1));
        first
    }
}

/// The expiry-index key of `key` expiring at `at_ms`: time first, so that everything
/// due by a given time is one range read.
pub fn expiry_key(at_ms: u64, key: &[u8]) -> Vec<u8> {
    [&at_ms.to_be_bytes()[..], key].concat()
}

/// The time and the key of an expiry-index key; `None` if it is too short.
pub fn split_expiry_key(index_key: &[u8]) -> Option<(u64, &[u8])> {
    let (at, key) = index_key.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*at), key))
}

/// The type tag of a string (Redis's type numbers: `OBJ_STRING`).
pub const TYPE_STRING: u8 = 0;
/// The type tag of a list's metadata (`OBJ_LIST`).
pub const TYPE_LIST: u8 = 1;
/// The type tag of a set's metadata (`OBJ_SET`).
pub const TYPE_SET: u8 = 2;
/// The type tag of a sorted set's metadata (`OBJ_ZSET`).
pub const TYPE_ZSET: u8 = tessera_proto::commands::zset::TYPE_ZSET;
/// The type tag of a hash's metadata (`OBJ_HASH`).
pub const TYPE_HASH: u8 = 4;

/// The name `TYPE` answers for a type tag.
pub fn type_name(kind: u8) -> &'static str {
    tessera_proto::keys::TYPE_NAMES
        .get(usize::from(kind))
        .copied()
        .unwrap_or("none")
}
/// Bytes of header in front of every payload.
pub const HEADER_LEN: usize = 25;

/// A decoded stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredValue {
    /// The value type tag.
    pub kind: u8,
    /// The sequence number of the write that produced it.
    pub seq: Seq,
    /// Absolute expiry (ms since the epoch), if any.
    pub expires_at_ms: Option<u64>,
    /// The user's bytes.
    pub payload: Vec<u8>,
}

impl StoredValue {
    /// Bytes of the encoded value.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Whether it has not expired at `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|at| at > now_ms)
    }

    /// Encodes header and payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.push(self.kind);
        out.extend_from_slice(&self.seq.to_bytes());
        out.extend_from_slice(&self.expires_at_ms.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a stored value; `None` if the bytes are too short to hold a header.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..HEADER_LEN)?;
        let seq = u128::from_be_bytes(header[1..17].try_into().ok()?);
        let expiry = u64::from_be_bytes(header[17..25].try_into().ok()?);
        Some(Self {
            kind: header[0],
            seq: Seq(seq),
            expires_at_ms: (expiry != 0).then_some(expiry),
            payload: bytes[HEADER_LEN..].to_vec(),
        })
    }

    /// Whether the header of `bytes` says the value has expired at `now_ms`.
    pub fn is_expired_raw(bytes: &[u8], now_ms: u64) -> bool {
        bytes
            .get(17..25)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .is_some_and(|at| at != 0 && at <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_strictly_increasing_even_when_the_clock_goes_back() {
        let mut gen = SeqGen::new(7);
        let a = gen.reserve(1_000, 3, Seq::default());
        let b = gen.reserve(900, 1, Seq::default());
        assert!(b > a.nth(2), "{b:?} after {a:?}");
        let floor = Seq::new(5_000, 9, 1);
        let c = gen.reserve(1_000, 1, floor);
        assert!(c > floor);
        assert_eq!(c.to_bytes()[12..], 7u32.to_be_bytes());
    }

    #[test]
    fn stored_value_round_trips() {
        let v = StoredValue {
            kind: TYPE_STRING,
            seq: Seq::new(1, 2, 3),
            expires_at_ms: Some(99),
            payload: b"hello".to_vec(),
        };
        let bytes = v.encode();
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        assert_eq!(StoredValue::decode(&bytes), Some(v));
        assert!(StoredValue::is_expired_raw(&bytes, 99));
        assert!(!StoredValue::is_expired_raw(&bytes, 98));
        assert_eq!(StoredValue::decode(&bytes[..10]), None);
    }
}
