//! Sorted-set commands, with Redis 7.0's replies and error texts. A sorted set's
//! members are member rows holding their score (the collection's prefix, then `0x00`),
//! and each member also has a score-index row (the prefix, then `0x01`, the score in
//! an order-preserving 8-byte form, the member) with an empty value, so ranges by score
//! or rank read the index in order and ranges by member read the member rows.

use super::collection::{checked, Meta, Typed};
use super::random::Picks;
use super::zindex::{score_key, score_of_value, score_value, Scored, Step};
use super::Engine;
use crate::value::{TYPE_SET, TYPE_ZSET};
use bytes::Bytes;
use std::io;
use tessera_proto::commands::zset::{
    scored_reply, ZAdd, ZBy, ZCombine, ZPop, ZRandMember, ZRange, ZRangeAct, ZRank,
};
use tessera_proto::reply::Reply;

impl Engine<'_> {
    fn zset_at(&mut self, key: &[u8]) -> io::Result<Typed> {
        self.collection(key, TYPE_ZSET)
    }

    /// Replaces `dest` with a sorted set of `items` (deleting it if there are none).
    fn store_zset(&mut self, dest: &[u8], items: &[(Vec<u8>, f64)]) -> io::Result<()> {
        self.remove(dest);
        if items.is_empty() {
            return Ok(());
        }
        let mut meta = Meta::new(TYPE_ZSET, self.new_version());
        for (member, score) in items {
            self.put_zmember(dest, &mut meta, member, Some(*score))?;
        }
        self.save_collection(dest, &meta);
        Ok(())
    }

    pub(super) fn zadd(&mut self, op: &ZAdd) -> io::Result<Reply> {
        let found = checked!(self.zset_at(&op.key)?);
        let nothing = || {
            if op.incr {
                Reply::Nil
            } else {
                Reply::Int(0)
            }
        };
        let mut meta = match found {
            Some(meta) => meta,
            None if op.xx => return Ok(nothing()),
            None => Meta::new(TYPE_ZSET, self.new_version()),
        };
        let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
        for (score, member) in &op.pairs {
            let new = match self.zscore_of(&op.key, &meta, member)? {
                Some(_) if op.nx => continue,
                Some(current) => {
                    let new = if op.incr { current + score } else { *score };
                    if new.is_nan() {
                        return Ok(Reply::err("resulting score is not a number (NaN)"));
                    }
                    if (op.lt && new >= current) || (op.gt && new <= current) {
                        continue;
                    }
                    if new != current {
                        updated += 1;
                        self.put_zmember(&op.key, &mut meta, member, Some(new))?;
                    }
                    new
                }
                None if op.xx => continue,
                None => {
                    added += 1;
                    self.put_zmember(&op.key, &mut meta, member, Some(*score))?;
                    *score
                }
            };
            processed += 1;
            last = new;
        }
        if added + updated > 0 {
            self.save_collection(&op.key, &meta);
        }
        Ok(match (op.incr, processed) {
            (true, 0) => Reply::Nil,
            (true, _) => Reply::Double(last),
            (false, _) if op.ch => Reply::Int(added + updated),
            (false, _) => Reply::Int(added),
        })
    }

    pub(super) fn zrem(&mut self, key: &[u8], members: &[Bytes]) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.zset_at(key)?) else {
            return Ok(Reply::Int(0));
        };
        let mut removed = 0;
        for member in members {
            removed += i64::from(self.put_zmember(key, &mut meta, member, None)?.is_some());
        }
        if removed > 0 {
            self.save_collection(key, &meta);
        }
        Ok(Reply::Int(removed))
    }

    pub(super) fn zscore(
        &mut self,
        key: &[u8],
        members: &[Bytes],
        many: bool,
    ) -> io::Result<Reply> {
        let meta = checked!(self.zset_at(key)?);
        let mut scores = Vec::with_capacity(members.len());
        for member in members {
            let score = match &meta {
                Some(meta) => self.zscore_of(key, meta, member)?,
                None => None,
            };
            scores.push(score.map_or(Reply::Nil, Reply::Double));
        }
        Ok(if many {
            Reply::Array(scores)
        } else {
            scores.pop().unwrap_or(Reply::Nil)
        })
    }

    pub(super) fn zrank(&mut self, op: &ZRank) -> io::Result<Reply> {
        let Some(meta) = checked!(self.zset_at(&op.key)?) else {
            return Ok(Reply::Nil);
        };
        let Some(score) = self.zscore_of(&op.key, &meta, &op.member)? else {
            return Ok(Reply::Nil);
        };
        let target = (score_key(score), op.member.as_ref());
        let mut rank = 0i64;
        self.walk_scores(&op.key, &meta, op.rev, None, |member, s| {
            if (score_key(s), member) == target {
                return Step::Stop;
            }
            rank += 1;
            Step::Next
        })?;
        Ok(Reply::Int(rank))
    }

    pub(super) fn zrange(&mut self, op: &ZRange) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.zset_at(&op.key)?) else {
            return Ok(match &op.act {
                ZRangeAct::Read { .. } => Reply::Array(Vec::new()),
                ZRangeAct::Store { dest } => {
                    self.remove(dest);
                    Reply::Int(0)
                }
                ZRangeAct::Count | ZRangeAct::Remove => Reply::Int(0),
            });
        };
        let items = self.zselect(&op.key, &meta, op)?;
        let n = items.len() as i64;
        Ok(match &op.act {
            ZRangeAct::Read { withscores } => scored_reply(items, *withscores),
            ZRangeAct::Count => Reply::Int(n),
            ZRangeAct::Store { dest } => {
                self.store_zset(dest, &items)?;
                Reply::Int(n)
            }
            ZRangeAct::Remove => {
                // Removing a run from the first row on raises the floor past it.
                let mut first = None;
                self.walk_scores(&op.key, &meta, false, None, |member, _| {
                    first = Some(member.to_vec());
                    Step::Stop
                })?;
                // (A member range is in member order, not score order.)
                let in_order = !op.rev && !matches!(op.by, ZBy::Lex { .. });
                let from_first = in_order && items.first().map(|(m, _)| m) == first.as_ref();
                for (member, _) in &items {
                    self.put_zmember(&op.key, &mut meta, member, None)?;
                }
                if let (true, Some((_, last))) = (from_first, items.last()) {
                    meta.head = meta.head.max(u64::from_be_bytes(score_key(*last)));
                }
                if n > 0 {
                    self.save_collection(&op.key, &meta);
                }
                Reply::Int(n)
            }
        })
    }

    /// Pops up to `count` members from the first existing sorted set of `keys`:
    /// `Ok(None)` if there is none, else the index of the key and the members.
    fn zpop_from(
        &mut self,
        keys: &[Bytes],
        max: bool,
        count: u64,
    ) -> io::Result<Result<Option<(usize, Scored)>, Reply>> {
        for (i, key) in keys.iter().enumerate() {
            let mut meta = match self.zset_at(key)? {
                Ok(Some(meta)) => meta,
                Ok(None) => continue,
                Err(reply) => return Ok(Err(reply)),
            };
            let mut popped = Vec::new();
            if count > 0 {
                self.walk_scores(key, &meta, max, None, |member, score| {
                    popped.push((member.to_vec(), score));
                    if popped.len() as u64 >= count {
                        Step::Stop
                    } else {
                        Step::Next
                    }
                })?;
            }
            for (member, _) in &popped {
                self.put_zmember(key, &mut meta, member, None)?;
            }
            if let (false, Some((_, last))) = (max, popped.last()) {
                // Every row up to the last popped one is gone.
                meta.head = meta.head.max(u64::from_be_bytes(score_key(*last)));
            }
            if !popped.is_empty() {
                self.save_collection(key, &meta);
            }
            return Ok(Ok(Some((i, popped))));
        }
        Ok(Ok(None))
    }

    pub(super) fn zpop(&mut self, op: &ZPop) -> io::Result<Reply> {
        let count = op.count.unwrap_or(1);
        let found = checked!(self.zpop_from(&op.keys, op.max, count)?);
        let Some((at, popped)) = found else {
            return Ok(if op.multi {
                Reply::NilArray
            } else {
                Reply::Array(Vec::new())
            });
        };
        Ok(if op.multi {
            let pairs = popped
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
                .collect();
            Reply::Array(vec![Reply::Bulk(op.names[at].clone()), Reply::Array(pairs)])
        } else if op.count.is_none() {
            let flat = popped
                .into_iter()
                .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
                .collect();
            Reply::Array(flat)
        } else {
            scored_reply(popped, true)
        })
    }

    /// One try of `BZPOPMIN`/`BZPOPMAX`: `[key, member, score]`, or nil.
    pub(super) fn bzpop_pair(
        &mut self,
        keys: &[Bytes],
        names: &[Bytes],
        max: bool,
    ) -> io::Result<Reply> {
        let found = checked!(self.zpop_from(keys, max, 1)?);
        Ok(match found {
            Some((at, mut popped)) => match popped.pop() {
                Some((member, score)) => Reply::Array(vec![
                    Reply::Bulk(names[at].clone()),
                    Reply::bulk(member),
                    Reply::Double(score),
                ]),
                None => Reply::NilArray,
            },
            None => Reply::NilArray,
        })
    }

    pub(super) fn zrandmember(&mut self, op: &ZRandMember) -> io::Result<Reply> {
        let meta = checked!(self.zset_at(&op.key)?);
        // The whole set, from the highest score down, as Redis answers this case.
        let whole = |engine: &mut Self, meta: &Meta| {
            let mut all = Vec::new();
            engine.walk_scores(&op.key, meta, true, None, |m, s| {
                all.push((m.to_vec(), score_value(s)));
                Step::Next
            })?;
            Ok(all)
        };
        let items = match checked!(self.pick_random(&op.key, meta, op.count, whole)?) {
            Picks::One(picked) => return Ok(picked.map_or(Reply::Nil, |(m, _)| Reply::bulk(m))),
            Picks::Many(items) => items,
        };
        let items = items
            .into_iter()
            .map(|(m, v)| (m, score_of_value(&v)))
            .collect();
        Ok(scored_reply(items, op.withscores))
    }

    /// A sorted set's (or a set's, all scores 1) members with scores; none if absent.
    fn scored_members(&mut self, key: &[u8]) -> io::Result<Result<Scored, Reply>> {
        let kind = self.live_ref(key)?.map(|v| v.kind);
        let Some(kind) = kind else {
            return Ok(Ok(Vec::new()));
        };
        if kind != TYPE_ZSET && kind != TYPE_SET {
            return Ok(Err(super::wrongtype()));
        }
        let Ok(Some(meta)) = self.collection(key, kind)? else {
            return Ok(Ok(Vec::new()));
        };
        let rows = self.members_of(key, &meta)?;
        Ok(Ok(rows
            .into_iter()
            .map(|(m, v)| {
                let score = if kind == TYPE_ZSET {
                    score_of_value(&v)
                } else {
                    1.0
                };
                (m, score)
            })
            .collect()))
    }

    pub(super) fn zcombine(&mut self, op: &ZCombine) -> io::Result<Reply> {
        let mut inputs = Vec::with_capacity(op.keys.len());
        for key in &op.keys {
            inputs.push(checked!(self.scored_members(key)?));
        }
        let items = op.combine(inputs);
        match &op.store {
            Some(dest) => {
                self.store_zset(dest, &items)?;
                Ok(Reply::Int(items.len() as i64))
            }
            None => Ok(op.reply(items)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `ops` on one engine over an empty store, answering each reply.
    fn run_all(ops: &[tessera_proto::op::Op]) -> Vec<Reply> {
        let read = |_: &[u8]| -> io::Result<Option<Vec<u8>>> { Ok(None) };
        let mut engine = Engine::new(&read, 0, crate::value::Seq(1 << 40));
        ops.iter().map(|op| engine.run(op).unwrap()).collect()
    }

    #[test]
    fn the_floor_follows_pops_and_lower_scores() {
        use tessera_proto::commands::zset::ZScore;
        use tessera_proto::op::Op;
        let key = Bytes::from_static(b"\0\0\0\0z");
        let add = |pairs: &[(f64, &'static str)]| {
            Op::ZAdd(ZAdd {
                key: key.clone(),
                pairs: pairs
                    .iter()
                    .map(|(s, m)| (*s, Bytes::from_static(m.as_bytes())))
                    .collect(),
                nx: false,
                xx: false,
                gt: false,
                lt: false,
                ch: false,
                incr: false,
            })
        };
        let pop = |count| {
            Op::ZPop(ZPop {
                keys: vec![key.clone()],
                names: vec![key.clone()],
                max: false,
                count: Some(count),
                multi: false,
            })
        };
        let range = Op::ZRange(ZRange {
            key: key.clone(),
            by: ZBy::Rank { start: 0, stop: -1 },
            rev: false,
            limit: (0, -1),
            act: ZRangeAct::Read { withscores: false },
        });
        let members = |names: &[&'static str]| {
            Reply::Array(names.iter().map(|n| Reply::bulk(n.as_bytes())).collect())
        };
        let replies = run_all(&[
            add(&[(1.0, "a"), (2.0, "b"), (3.0, "c"), (3.0, "d")]),
            pop(3),
            range.clone(),
            // Below the floor the pops raised: the floor comes down with it.
            add(&[(-5.0, "low"), (3.0, "cc")]),
            range.clone(),
            pop(1),
            Op::ZScore(ZScore {
                key: key.clone(),
                members: vec![Bytes::from_static(b"low")],
                many: false,
            }),
            range,
        ]);
        assert_eq!(replies[2], members(&["d"]));
        assert_eq!(replies[4], members(&["low", "cc", "d"]));
        assert_eq!(replies[6], Reply::Nil);
        assert_eq!(replies[7], members(&["cc", "d"]));
    }
}
