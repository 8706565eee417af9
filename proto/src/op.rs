//! Ops: what a group executes. Every data command parses into one op (several
//! commands may share one: `SETNX` is a `SET` with a condition); the router routes it
//! by its keys and the node evaluates it. A transaction is one [`Txn`] op holding
//! the ops it queued: one Raft entry.
//!
//! The [`ops!`] table below is the list of op types; each type lives in its own file
//! under `commands/`, with its parser and the spec of the command(s) it serves.

use crate::args::Args;
use crate::commands::{bitmap, hash, keyspace, list, scan_members, set, strings, txn, zset};
use crate::reply::Reply;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A Redis command: its spec and how it parses into what the router runs.
pub trait Command {
    /// Its `COMMAND` data.
    const SPEC: CommandSpec;
    /// What it parses into (an op, for data commands).
    type Parsed;
    /// Parses the arguments after the name (arity already checked).
    ///
    /// # Errors
    /// The reply Redis gives for these arguments (syntax, integer, range errors).
    fn parse(args: &mut Args) -> Result<Self::Parsed, Reply>;
}

/// What the router and the node need to know of an op type.
pub trait OpKind {
    /// Whether it may change data (and must go through Raft).
    fn is_write(&self) -> bool;
    /// Every key it touches (user keys as parsed, storage keys once routed).
    fn keys(&self) -> Vec<&Bytes>;
    /// The same keys, for the router to map user keys to storage keys.
    fn keys_mut(&mut self) -> Vec<&mut Bytes>;
}

/// Implements [`OpKind`] for an op whose keys are fields (`key a, b`), one list field
/// (`list keys`), or the first elements of a list of pairs (`pairs pairs`).
#[macro_export]
macro_rules! op_kind {
    ($ty:ty, write: $write:expr, key $($field:ident),+) => {
        impl $crate::op::OpKind for $ty {
            fn is_write(&self) -> bool {
                $write
            }
            fn keys(&self) -> Vec<&bytes::Bytes> {
                vec![$(&self.$field),+]
            }
            fn keys_mut(&mut self) -> Vec<&mut bytes::Bytes> {
                vec![$(&mut self.$field),+]
            }
        }
    };
    // An optional destination (written when present) before a list of source keys.
    ($ty:ty, store $store:ident, list $field:ident) => {
        impl $crate::op::OpKind for $ty {
            fn is_write(&self) -> bool {
                self.$store.is_some()
            }
            fn keys(&self) -> Vec<&bytes::Bytes> {
                self.$store.iter().chain(&self.$field).collect()
            }
            fn keys_mut(&mut self) -> Vec<&mut bytes::Bytes> {
                self.$store.iter_mut().chain(&mut self.$field).collect()
            }
        }
    };
    ($ty:ty, write: $write:expr, list $field:ident) => {
        impl $crate::op::OpKind for $ty {
            fn is_write(&self) -> bool {
                $write
            }
            fn keys(&self) -> Vec<&bytes::Bytes> {
                self.$field.iter().collect()
            }
            fn keys_mut(&mut self) -> Vec<&mut bytes::Bytes> {
                self.$field.iter_mut().collect()
            }
        }
    };
}

#[macro_export]
macro_rules! op_kind_pairs {
    ($ty:ty, write: $write:expr, pairs $field:ident) => {
        impl $crate::op::OpKind for $ty {
            fn is_write(&self) -> bool {
                $write
            }
            fn keys(&self) -> Vec<&bytes::Bytes> {
                self.$field.iter().map(|(k, _)| k).collect()
            }
            fn keys_mut(&mut self) -> Vec<&mut bytes::Bytes> {
                self.$field.iter_mut().map(|(k, _)| k).collect()
            }
        }
    };
}

/// Declares an op on one key whose only argument is that key (`GET key`), with its
/// command.
#[macro_export]
macro_rules! key_command {
    ($(#[$doc:meta])* $name:ident, write: $write:expr, $spec:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            /// The key.
            pub key: bytes::Bytes,
        }

        $crate::op_kind!($name, write: $write, key key);

        impl $crate::op::Command for $name {
            const SPEC: $crate::spec::CommandSpec = $spec;
            type Parsed = $name;

            fn parse(args: &mut $crate::args::Args) -> Result<$name, $crate::reply::Reply> {
                Ok($name { key: args.key()? })
            }
        }
    };
}

/// Declares the [`Op`] enum over the op types, with conversions and dispatch.
macro_rules! ops {
    ($($(#[$doc:meta])* $variant:ident($ty:ty)),* $(,)?) => {
        /// One command for a group, in the form the node evaluates it.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub enum Op {
            $($(#[$doc])* $variant($ty),)*
        }

        $(impl From<$ty> for Op {
            fn from(op: $ty) -> Op {
                Op::$variant(op)
            }
        })*

        impl OpKind for Op {
            fn is_write(&self) -> bool {
                match self { $(Op::$variant(op) => op.is_write(),)* }
            }
            fn keys(&self) -> Vec<&Bytes> {
                match self { $(Op::$variant(op) => op.keys(),)* }
            }
            fn keys_mut(&mut self) -> Vec<&mut Bytes> {
                match self { $(Op::$variant(op) => op.keys_mut(),)* }
            }
        }
    };
}

ops! {
    /// `GET`.
    Get(strings::Get),
    /// `SET`, `SETNX`, `SETEX`, `PSETEX`, `GETSET`.
    Set(strings::Set),
    /// `GETDEL`.
    GetDel(strings::GetDel),
    /// `GETEX`.
    GetEx(strings::GetEx),
    /// `MGET`.
    MGet(strings::MGet),
    /// `MSET`.
    MSet(strings::MSet),
    /// `MSETNX`.
    MSetNx(strings::MSetNx),
    /// `APPEND`.
    Append(strings::Append),
    /// `STRLEN`.
    Strlen(strings::Strlen),
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`.
    IncrBy(strings::IncrBy),
    /// `INCRBYFLOAT`.
    IncrByFloat(strings::IncrByFloat),
    /// `GETRANGE`, `SUBSTR`.
    GetRange(strings::GetRange),
    /// `SETRANGE`.
    SetRange(strings::SetRange),
    /// `LCS`.
    Lcs(strings::Lcs),
    /// `DEL`, `UNLINK`.
    Del(keyspace::Del),
    /// `EXISTS`, `TOUCH`.
    Exists(keyspace::Exists),
    /// `TYPE`.
    Type(keyspace::Type),
    /// `RENAME`, `RENAMENX`.
    Rename(keyspace::Rename),
    /// `COPY`.
    Copy(keyspace::Copy),
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`.
    Expire(keyspace::Expire),
    /// `PERSIST`.
    Persist(keyspace::Persist),
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.
    Ttl(keyspace::Ttl),
    /// `SETBIT`.
    SetBit(bitmap::SetBit),
    /// `GETBIT`.
    GetBit(bitmap::GetBit),
    /// `BITCOUNT`.
    BitCount(bitmap::BitCount),
    /// `BITPOS`.
    BitPos(bitmap::BitPos),
    /// `BITOP`.
    BitOp(bitmap::BitOp),
    /// `BITFIELD`, `BITFIELD_RO`.
    BitField(bitmap::BitField),
    /// The version of a key, for `WATCH`.
    Version(txn::Version),
    /// `MULTI` ... `EXEC`.
    Txn(Txn),
    // New op types go last: an op's place is its number in stored Raft entries.
    /// `HSET`, `HMSET`, `HSETNX`.
    HSet(hash::HSet),
    /// `HGET`, `HEXISTS`, `HSTRLEN`.
    HGet(hash::HGet),
    /// `HMGET`.
    HMGet(hash::HMGet),
    /// `HDEL`.
    HDel(hash::HDel),
    /// `HLEN`.
    HLen(hash::HLen),
    /// `HGETALL`, `HKEYS`, `HVALS`.
    HGetAll(hash::HGetAll),
    /// `HINCRBY`.
    HIncrBy(hash::HIncrBy),
    /// `HINCRBYFLOAT`.
    HIncrByFloat(hash::HIncrByFloat),
    /// `HRANDFIELD`.
    HRandField(hash::HRandField),
    /// `HSCAN`, `SSCAN`.
    ScanMembers(scan_members::ScanMembers),
    /// `SADD`.
    SAdd(set::SAdd),
    /// `SREM`.
    SRem(set::SRem),
    /// `SCARD`.
    SCard(set::SCard),
    /// `SMEMBERS`.
    SMembers(set::SMembers),
    /// `SISMEMBER`, `SMISMEMBER`.
    SIsMember(set::SIsMember),
    /// `SMOVE`.
    SMove(set::SMove),
    /// `SPOP`.
    SPop(set::SPop),
    /// `SRANDMEMBER`.
    SRandMember(set::SRandMember),
    /// `SINTER`, `SUNION`, `SDIFF`, their `STORE` forms, `SINTERCARD`.
    SCombine(set::SCombine),
    /// `LPUSH`, `RPUSH`, `LPUSHX`, `RPUSHX`.
    LPush(list::LPush),
    /// `LPOP`, `RPOP`.
    LPop(list::LPop),
    /// `LLEN`.
    LLen(list::LLen),
    /// `LRANGE`, `LTRIM`.
    LRange(list::LRange),
    /// `LINDEX`.
    LIndex(list::LIndex),
    /// `LSET`.
    LSet(list::LSet),
    /// `LREM`.
    LRem(list::LRem),
    /// `LINSERT`.
    LInsert(list::LInsert),
    /// `LPOS`.
    LPos(list::LPos),
    /// `LMOVE`, `RPOPLPUSH`.
    LMove(list::LMove),
    /// `LMPOP`.
    LMPop(list::LMPop),
    /// `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`: one try of the pop.
    BPop(list::BPop),
    /// `ZADD`, `ZINCRBY`.
    ZAdd(zset::ZAdd),
    /// `ZREM`.
    ZRem(zset::ZRem),
    /// `ZCARD`.
    ZCard(zset::ZCard),
    /// `ZSCORE`, `ZMSCORE`.
    ZScore(zset::ZScore),
    /// `ZRANK`, `ZREVRANK`.
    ZRank(zset::ZRank),
    /// `ZRANGE` and the other range commands (`ZCOUNT`, `ZRANGESTORE`, `ZREMRANGEBY*`).
    ZRange(zset::ZRange),
    /// `ZPOPMIN`, `ZPOPMAX`, `ZMPOP`.
    ZPop(zset::ZPop),
    /// `ZRANDMEMBER`.
    ZRandMember(zset::ZRandMember),
    /// `ZUNION`, `ZINTER`, `ZDIFF`, their `STORE` forms, `ZINTERCARD`.
    ZCombine(zset::ZCombine),
    /// `SORT`, `SORT_RO`.
    Sort(keyspace::Sort),
    /// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ`.
    Object(keyspace::Object),
}

/// An op whose keys may live in different ranges: it is split into one op per range
/// (atomic per range, not across ranges) and the parts' replies are merged.
pub trait FanOut: Sized {
    /// The op restricted to the keys at `positions` (indexes into [`OpKind::keys`]).
    fn subset(&self, positions: &[usize]) -> Self;
    /// The reply for the whole op from the parts' replies, each with the positions
    /// of its keys; `keys` is the op's key count.
    fn merge(parts: Vec<(Vec<usize>, Reply)>, keys: usize) -> Reply;
}

impl Op {
    /// For ops that may span ranges: the op restricted to the keys at `positions`.
    pub fn subset(&self, positions: &[usize]) -> Option<Op> {
        Some(match self {
            Op::MGet(op) => Op::MGet(op.subset(positions)),
            Op::MSet(op) => Op::MSet(op.subset(positions)),
            Op::Del(op) => Op::Del(op.subset(positions)),
            Op::Exists(op) => Op::Exists(op.subset(positions)),
            _ => return None,
        })
    }

    /// Merges the replies of the parts [`Op::subset`] made.
    pub fn merge(&self, parts: Vec<(Vec<usize>, Reply)>) -> Reply {
        let keys = self.keys().len();
        match self {
            Op::MGet(_) => strings::MGet::merge(parts, keys),
            Op::MSet(_) => strings::MSet::merge(parts, keys),
            Op::Del(_) => keyspace::Del::merge(parts, keys),
            Op::Exists(_) => keyspace::Exists::merge(parts, keys),
            _ => parts
                .into_iter()
                .next()
                .map_or_else(|| Reply::err("empty reply"), |(_, r)| r),
        }
    }
}

/// Merges the integer replies of parts by summing them (the first error wins).
pub fn sum_replies(parts: Vec<(Vec<usize>, Reply)>) -> Reply {
    let mut total = 0;
    for (_, reply) in parts {
        match reply {
            Reply::Int(n) => total += n,
            other => return other,
        }
    }
    Reply::Int(total)
}

/// Declares a command type that parses into another command's op: a Redis command
/// that is the same op with fixed options (`SETNX` is a `SET NX`).
#[macro_export]
macro_rules! alias_command {
    ($(#[$doc:meta])* $name:ident: $spec:expr => $parsed:ty, $parse:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::op::Command for $name {
            const SPEC: $crate::spec::CommandSpec = $spec;
            type Parsed = $parsed;

            fn parse(args: &mut $crate::args::Args) -> Result<$parsed, $crate::reply::Reply> {
                let parse: fn(&mut $crate::args::Args) -> Result<$parsed, $crate::reply::Reply> =
                    $parse;
                parse(args)
            }
        }
    };
}

/// `MULTI` ... `EXEC`: if every watched key still has its version, run `ops` in order
/// and answer their replies as an array; otherwise run nothing and answer nil. One
/// Raft entry, so it applies atomically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Txn {
    /// Watched keys and the version each had when watched.
    pub watches: Vec<(Bytes, Option<Bytes>)>,
    /// The queued ops.
    pub ops: Vec<Op>,
}

impl OpKind for Txn {
    fn is_write(&self) -> bool {
        self.ops.iter().any(Op::is_write)
    }

    fn keys(&self) -> Vec<&Bytes> {
        let watched = self.watches.iter().map(|(k, _)| k);
        watched.chain(self.ops.iter().flat_map(Op::keys)).collect()
    }

    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        let watched = self.watches.iter_mut().map(|(k, _)| k);
        watched
            .chain(self.ops.iter_mut().flat_map(Op::keys_mut))
            .collect()
    }
}
