//! Hash commands, with Redis 7.0's replies and error texts. Fields are member rows of
//! the hash's collection; replies list them in field byte order.

use super::collection::{checked, Meta};
use super::random::Picks;
use super::Engine;
use crate::value::TYPE_HASH;
use bytes::Bytes;
use std::io;
use tessera_proto::commands::hash::{
    FieldForm, HGet, HGetAll, HIncrBy, HIncrByFloat, HRandField, HSet, HSetForm, Listing,
};
use tessera_proto::number::{format_float, parse_redis_float, parse_redis_int};
use tessera_proto::reply::Reply;

/// A stored field value.
type FieldValue = Vec<u8>;

impl Engine<'_> {
    fn hash(&mut self, key: &[u8]) -> io::Result<super::collection::Typed> {
        self.collection(key, TYPE_HASH)
    }

    pub(super) fn hset(&mut self, op: &HSet) -> io::Result<Reply> {
        let mut meta = checked!(self.collection_or_new(&op.key, TYPE_HASH)?).expect("or new");
        if op.form == HSetForm::IfAbsent {
            let (field, value) = &op.pairs[0];
            if self.member_of(&op.key, &meta, field)?.is_some() {
                return Ok(Reply::Int(0));
            }
            self.set_member_of(&op.key, &mut meta, field, Some(value.to_vec()))?;
            self.save_collection(&op.key, &meta);
            return Ok(Reply::Int(1));
        }
        let mut added = 0;
        for (field, value) in &op.pairs {
            let existed = self.set_member_of(&op.key, &mut meta, field, Some(value.to_vec()))?;
            added += i64::from(!existed);
        }
        self.save_collection(&op.key, &meta);
        Ok(match op.form {
            HSetForm::Ok => Reply::Ok,
            _ => Reply::Int(added),
        })
    }

    pub(super) fn hget(&mut self, op: &HGet) -> io::Result<Reply> {
        let value = match checked!(self.hash(&op.key)?) {
            Some(meta) => self.member_of(&op.key, &meta, &op.field)?,
            None => None,
        };
        Ok(match op.form {
            FieldForm::Value => value.map_or(Reply::Nil, Reply::bulk),
            FieldForm::Exists => Reply::Int(i64::from(value.is_some())),
            FieldForm::Strlen => Reply::Int(value.map_or(0, |v| v.len() as i64)),
        })
    }

    pub(super) fn hmget(&mut self, key: &[u8], fields: &[Bytes]) -> io::Result<Reply> {
        let meta = checked!(self.hash(key)?);
        let mut values = Vec::with_capacity(fields.len());
        for field in fields {
            let value = match &meta {
                Some(meta) => self.member_of(key, meta, field)?,
                None => None,
            };
            values.push(value.map_or(Reply::Nil, Reply::bulk));
        }
        Ok(Reply::Array(values))
    }

    pub(super) fn hgetall(&mut self, op: &HGetAll) -> io::Result<Reply> {
        let Some(meta) = checked!(self.hash(&op.key)?) else {
            return Ok(match op.listing {
                Listing::Pairs => Reply::Map(Vec::new()),
                _ => Reply::Array(Vec::new()),
            });
        };
        let fields = self.members_of(&op.key, &meta)?.into_iter();
        Ok(match op.listing {
            Listing::Pairs => Reply::Map(
                fields
                    .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
                    .collect(),
            ),
            Listing::Fields => Reply::Array(fields.map(|(f, _)| Reply::bulk(f)).collect()),
            Listing::Values => Reply::Array(fields.map(|(_, v)| Reply::bulk(v)).collect()),
        })
    }

    /// Reads `field` for an increment: the hash (new if absent) and the old value.
    fn field_for_update(
        &mut self,
        key: &[u8],
        field: &[u8],
    ) -> io::Result<Result<(Meta, Option<FieldValue>), Reply>> {
        let meta = match self.collection_or_new(key, TYPE_HASH)? {
            Ok(meta) => meta.expect("or new"),
            Err(reply) => return Ok(Err(reply)),
        };
        let old = self.member_of(key, &meta, field)?;
        Ok(Ok((meta, old)))
    }

    pub(super) fn hincrby(&mut self, op: &HIncrBy) -> io::Result<Reply> {
        let (mut meta, old) = checked!(self.field_for_update(&op.key, &op.field)?);
        let current = match old {
            None => 0,
            Some(v) => match parse_redis_int(&v) {
                Some(n) => n,
                None => return Ok(Reply::err("hash value is not an integer")),
            },
        };
        let Some(next) = current.checked_add(op.by) else {
            return Ok(Reply::err("increment or decrement would overflow"));
        };
        let text = next.to_string().into_bytes();
        self.set_member_of(&op.key, &mut meta, &op.field, Some(text))?;
        self.save_collection(&op.key, &meta);
        Ok(Reply::Int(next))
    }

    pub(super) fn hincrbyfloat(&mut self, op: &HIncrByFloat) -> io::Result<Reply> {
        if !op.by.is_finite() {
            return Ok(Reply::err("value is NaN or Infinity"));
        }
        let (mut meta, old) = checked!(self.field_for_update(&op.key, &op.field)?);
        let current = match old {
            None => 0.0,
            Some(v) => match parse_redis_float(&v) {
                Some(n) => n,
                None => return Ok(Reply::err("hash value is not a float")),
            },
        };
        let next = current + op.by;
        if !next.is_finite() {
            return Ok(Reply::err("increment would produce NaN or Infinity"));
        }
        let text = format_float(next).into_bytes();
        self.set_member_of(&op.key, &mut meta, &op.field, Some(text.clone()))?;
        self.save_collection(&op.key, &meta);
        Ok(Reply::bulk(text))
    }

    pub(super) fn hrandfield(&mut self, op: &HRandField) -> io::Result<Reply> {
        let meta = checked!(self.hash(&op.key)?);
        // The whole hash, in field order.
        let whole = |engine: &mut Self, meta: &Meta| engine.members_of(&op.key, meta);
        let fields = match checked!(self.pick_random(&op.key, meta, op.count, whole)?) {
            Picks::One(picked) => return Ok(picked.map_or(Reply::Nil, |(f, _)| Reply::bulk(f))),
            Picks::Many(fields) => fields.into_iter(),
        };
        Ok(if op.with_values {
            Reply::Pairs(
                fields
                    .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
                    .collect(),
            )
        } else {
            Reply::Array(fields.map(|(f, _)| Reply::bulk(f)).collect())
        })
    }
}
