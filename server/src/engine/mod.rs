//! How a group evaluates ops, with Redis 7.0's semantics: one file per command group
//! (`strings`, `keyspace`, ...) on top of [`Engine`]'s storage overlay. Writes run
//! inside the state machine (so the leader's clock and sequence number carried in the
//! Raft entry decide expiry and versions, identically on every replica); reads run on
//! the leader against a consistent view after a ReadIndex confirmation. A transaction
//! is one [`Txn`] op: one Raft entry.

mod bitmap;
pub mod collection;
mod core;
mod hash;
mod keyspace;
mod list;
mod random;
mod rng;
mod set;
mod sort;
mod strings;
mod zindex;
mod zset;

pub use self::core::{Change, Engine, Found, MemberChange, Reader, Source};
pub use self::strings::get_stored;

use crate::value::{split_expiry_key, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_ZSET};
use bytes::Bytes;
use std::io;
use tessera_proto::op::Op;
use tessera_proto::op::Txn;
use tessera_proto::reply::Reply;

/// Redis's reply to a command on a key of another type.
fn wrongtype() -> Reply {
    Reply::Error(tessera_proto::reply::WRONGTYPE.into())
}

impl Engine<'_> {
    /// Evaluates one op.
    ///
    /// # Errors
    /// Storage errors while reading keys.
    pub fn run(&mut self, op: &Op) -> io::Result<Reply> {
        match op {
            Op::Get(op) => self.get(&op.key),
            Op::Set(op) => self.set(op),
            Op::GetDel(op) => self.getdel(&op.key),
            Op::GetEx(op) => self.getex(op),
            Op::MGet(op) => self.mget(&op.keys),
            Op::MSet(op) => self.mset(&op.pairs),
            Op::MSetNx(op) => self.msetnx(&op.pairs),
            Op::Append(op) => self.append(op),
            Op::Strlen(op) => self.strlen(&op.key),
            Op::IncrBy(op) => self.incr_by(&op.key, op.by),
            Op::IncrByFloat(op) => self.incr_by_float(&op.key, op.by),
            Op::GetRange(op) => self.getrange(op),
            Op::SetRange(op) => self.setrange(op),
            Op::Lcs(op) => self.lcs(op),
            Op::Del(op) => self.del(&op.keys),
            Op::Exists(op) => self.exists(&op.keys),
            Op::Type(op) => self.type_of(&op.key),
            Op::Rename(op) => self.rename(op),
            Op::Copy(op) => self.copy(op),
            Op::Expire(op) => self.expire(op),
            Op::Persist(op) => self.persist(&op.key),
            Op::Ttl(op) => self.ttl(op),
            Op::SetBit(op) => self.setbit(&op.key, op.offset, op.bit),
            Op::GetBit(op) => self.getbit(&op.key, op.offset),
            Op::BitCount(op) => self.bitcount(op),
            Op::BitPos(op) => self.bitpos(op),
            Op::BitOp(op) => self.bitop(op),
            Op::BitField(op) => self.bitfield(op),
            Op::Version(op) => Ok(self
                .live(&op.key)?
                .map_or(Reply::Nil, |v| Reply::bulk(v.seq.to_bytes().to_vec()))),
            Op::Txn(txn) => self.txn(txn),
            Op::HSet(op) => self.hset(op),
            Op::HGet(op) => self.hget(op),
            Op::HMGet(op) => self.hmget(&op.key, &op.fields),
            Op::HDel(op) => self.remove_members(&op.key, TYPE_HASH, &op.fields),
            Op::HLen(op) => self.collection_len(&op.key, TYPE_HASH),
            Op::HGetAll(op) => self.hgetall(op),
            Op::HIncrBy(op) => self.hincrby(op),
            Op::HIncrByFloat(op) => self.hincrbyfloat(op),
            Op::HRandField(op) => self.hrandfield(op),
            Op::ScanMembers(op) => self.scan_members(op),
            Op::SAdd(op) => self.sadd(&op.key, &op.members),
            Op::SRem(op) => self.remove_members(&op.key, TYPE_SET, &op.members),
            Op::SCard(op) => self.collection_len(&op.key, TYPE_SET),
            Op::SMembers(op) => self.smembers(&op.key),
            Op::SIsMember(op) => self.sismember(&op.key, &op.members, op.many),
            Op::SMove(op) => self.smove(op),
            Op::SPop(op) => self.spop(op),
            Op::SRandMember(op) => self.srandmember(op),
            Op::SCombine(op) => self.scombine(op),
            Op::LPush(op) => self.lpush(op),
            Op::LPop(op) => self.lpop(op),
            Op::LLen(op) => self.collection_len(&op.key, TYPE_LIST),
            Op::LRange(op) => self.lrange(op),
            Op::LIndex(op) => self.lindex(&op.key, op.index),
            Op::LSet(op) => self.lset(op),
            Op::LRem(op) => self.lrem(op),
            Op::LInsert(op) => self.linsert(op),
            Op::LPos(op) => self.lpos(op),
            Op::LMove(op) => self.lmove(op),
            Op::LMPop(op) => self.lmpop(op),
            Op::BPop(op) => self.bpop(op),
            Op::ZAdd(op) => self.zadd(op),
            Op::ZRem(op) => self.zrem(&op.key, &op.members),
            Op::ZCard(op) => self.collection_len(&op.key, TYPE_ZSET),
            Op::ZScore(op) => self.zscore(&op.key, &op.members, op.many),
            Op::ZRank(op) => self.zrank(op),
            Op::ZRange(op) => self.zrange(op),
            Op::ZPop(op) => self.zpop(op),
            Op::ZRandMember(op) => self.zrandmember(op),
            Op::ZCombine(op) => self.zcombine(op),
            Op::Sort(op) => self.sort(op),
            Op::Object(op) => self.object(op),
        }
    }

    fn txn(&mut self, txn: &Txn) -> io::Result<Reply> {
        for (key, version) in &txn.watches {
            let now = self
                .live(key)?
                .map(|v| Bytes::from(v.seq.to_bytes().to_vec()));
            if &now != version {
                return Ok(Reply::NilArray);
            }
        }
        let mut replies = Vec::with_capacity(txn.ops.len());
        for op in &txn.ops {
            replies.push(self.run(op)?);
        }
        Ok(Reply::Array(replies))
    }

    /// Deletes the keys that have expired by the entry's time (the expiry sweeper),
    /// given by their expiry-index entries. An entry that no longer matches its key's
    /// expiry (a blind write replaced the value) is deleted on its own.
    ///
    /// # Errors
    /// Storage errors while reading keys.
    pub fn sweep(&mut self, index_keys: &[Bytes]) -> io::Result<Reply> {
        let mut removed = 0;
        for index_key in index_keys {
            let Some((at, key)) = split_expiry_key(index_key) else {
                continue;
            };
            let expiry = self.expiry_of(key)?;
            if expiry.is_some_and(|e| e <= self.now_ms) {
                self.remove(key);
                removed += 1;
            }
            if expiry != Some(at) {
                self.drop_index_entry(index_key);
            }
        }
        Ok(Reply::Int(removed))
    }
}
