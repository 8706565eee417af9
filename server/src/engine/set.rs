//! Set commands, with Redis 7.0's replies and error texts. Members are member rows of
//! the set's collection with empty values; replies list them in byte order.

use super::collection::{checked, Meta, Typed};
use super::random::Picks;
use super::Engine;
use crate::value::TYPE_SET;
use bytes::Bytes;
use std::io;
use tessera_proto::commands::set::{SCombine, SMove, SPop, SRandMember};
use tessera_proto::reply::Reply;

/// A set's members, or a type error.
type Members = Result<Vec<Vec<u8>>, Reply>;

fn bulk_all(members: impl IntoIterator<Item = Vec<u8>>) -> Vec<Reply> {
    members.into_iter().map(Reply::bulk).collect()
}

impl Engine<'_> {
    fn set_at(&mut self, key: &[u8]) -> io::Result<Typed> {
        self.collection(key, TYPE_SET)
    }

    /// Every member of the set at `key` (none if absent).
    fn set_members(&mut self, key: &[u8]) -> io::Result<Members> {
        Ok(match self.set_at(key)? {
            Ok(Some(meta)) => Ok(self
                .members_of(key, &meta)?
                .into_iter()
                .map(|(m, _)| m)
                .collect()),
            Ok(None) => Ok(Vec::new()),
            Err(reply) => Err(reply),
        })
    }

    /// Adds `members` to the set at `key` (made if absent); answers how many were new.
    fn add_members<'m>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> io::Result<Result<i64, Reply>> {
        let mut meta = match self.collection_or_new(key, TYPE_SET)? {
            Ok(meta) => meta.expect("or new"),
            Err(reply) => return Ok(Err(reply)),
        };
        let mut added = 0;
        for member in members {
            added += i64::from(!self.set_member_of(key, &mut meta, member, Some(Vec::new()))?);
        }
        self.save_collection(key, &meta);
        Ok(Ok(added))
    }

    pub(super) fn sadd(&mut self, key: &[u8], members: &[Bytes]) -> io::Result<Reply> {
        let added = checked!(self.add_members(key, members.iter().map(|m| m.as_ref()))?);
        Ok(Reply::Int(added))
    }

    pub(super) fn smembers(&mut self, key: &[u8]) -> io::Result<Reply> {
        let members = checked!(self.set_members(key)?);
        Ok(Reply::Set(bulk_all(members)))
    }

    pub(super) fn sismember(
        &mut self,
        key: &[u8],
        members: &[Bytes],
        many: bool,
    ) -> io::Result<Reply> {
        let meta = checked!(self.set_at(key)?);
        let mut found = Vec::with_capacity(members.len());
        for member in members {
            let here = match &meta {
                Some(meta) => self.member_of(key, meta, member)?.is_some(),
                None => false,
            };
            found.push(Reply::Int(i64::from(here)));
        }
        Ok(if many {
            Reply::Array(found)
        } else {
            found.pop().unwrap_or(Reply::Int(0))
        })
    }

    pub(super) fn smove(&mut self, op: &SMove) -> io::Result<Reply> {
        let Some(mut from) = checked!(self.set_at(&op.from)?) else {
            return Ok(Reply::Int(0));
        };
        if let Err(reply) = self.set_at(&op.to)? {
            return Ok(reply);
        }
        if op.from == op.to {
            let here = self.member_of(&op.from, &from, &op.member)?.is_some();
            return Ok(Reply::Int(i64::from(here)));
        }
        if !self.set_member_of(&op.from, &mut from, &op.member, None)? {
            return Ok(Reply::Int(0));
        }
        self.rewrite_if_sparse(&op.from, &mut from)?;
        self.save_collection(&op.from, &from);
        checked!(self.add_members(&op.to, [op.member.as_ref()])?);
        Ok(Reply::Int(1))
    }

    pub(super) fn spop(&mut self, op: &SPop) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.set_at(&op.key)?) else {
            return Ok(match op.count {
                None => Reply::Nil,
                Some(_) => Reply::Set(Vec::new()),
            });
        };
        let mut rng = self.rng(&op.key);
        let picked = match op.count {
            // All of them: in member order, as Redis answers this case.
            Some(n) if n >= meta.len => self.members_of(&op.key, &meta)?,
            n => {
                let n = n.map_or(1, |n| i64::try_from(n).unwrap_or(i64::MAX));
                self.random_members(&op.key, &meta, &mut rng, n)?
            }
        };
        let mut popped = Vec::with_capacity(picked.len());
        for (member, _) in picked {
            self.set_member_of(&op.key, &mut meta, &member, None)?;
            popped.push(member);
        }
        self.rewrite_if_sparse(&op.key, &mut meta)?;
        self.save_collection(&op.key, &meta);
        Ok(match op.count {
            None => popped.pop().map_or(Reply::Nil, Reply::bulk),
            Some(_) => Reply::Set(bulk_all(popped)),
        })
    }

    pub(super) fn srandmember(&mut self, op: &SRandMember) -> io::Result<Reply> {
        let meta = checked!(self.set_at(&op.key)?);
        let whole = |engine: &mut Self, meta: &Meta| engine.members_of(&op.key, meta);
        Ok(
            match checked!(self.pick_random(&op.key, meta, op.count, whole)?) {
                Picks::One(picked) => picked.map_or(Reply::Nil, |(m, _)| Reply::bulk(m)),
                Picks::Many(members) => Reply::Array(bulk_all(members.into_iter().map(|(m, _)| m))),
            },
        )
    }

    pub(super) fn scombine(&mut self, op: &SCombine) -> io::Result<Reply> {
        let mut sets = Vec::with_capacity(op.keys.len());
        for key in &op.keys {
            sets.push(checked!(self.set_members(key)?));
        }
        let result = op.combine(sets);
        let Some(dest) = &op.store else {
            return Ok(op.reply(result));
        };
        // A STORE form overwrites its destination whatever it holds.
        let size = result.len() as i64;
        self.remove(dest);
        if size > 0 {
            let mut meta = Meta::new(TYPE_SET, self.new_version());
            for member in &result {
                self.set_member_of(dest, &mut meta, member, Some(Vec::new()))?;
            }
            self.save_collection(dest, &meta);
        }
        Ok(Reply::Int(size))
    }
}
