//! List commands, with Redis 7.0's replies and error texts. A list's elements are
//! member rows keyed by their position (8 bytes, big-endian): the metadata keeps the
//! first position, so a push at either end, an index and a pop are one row each.

use super::collection::{checked, Meta, Typed};
use super::Engine;
use crate::value::TYPE_LIST;
use std::io;
use tessera_proto::commands::list::{
    BPop, BlockingForm, LInsert, LMPop, LMove, LPop, LPos, LPush, LRange, LRem, LSet,
};
use tessera_proto::commands::zset::ZPop;
use tessera_proto::reply::Reply;

/// A list looked up for an update: the list (new if absent), or the reply.
type ForUpdate = Result<Meta, Reply>;

/// The index `index` (negative: from the end) of a list of `len`, if inside it.
fn normalize(index: i64, len: u64) -> Option<u64> {
    let len = len as i64;
    let at = if index < 0 { index + len } else { index };
    (0..len).contains(&at).then_some(at as u64)
}

/// The inclusive span `start..=stop` of `LRANGE`/`LTRIM` over a list of `len`, if any.
fn span(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as u64, stop as u64))
}

impl Engine<'_> {
    fn list(&mut self, key: &[u8]) -> io::Result<Typed> {
        self.collection(key, TYPE_LIST)
    }

    fn list_for_update(&mut self, key: &[u8]) -> io::Result<ForUpdate> {
        Ok(self
            .collection_or_new(key, TYPE_LIST)?
            .map(|m| m.expect("or new")))
    }

    /// The element at position `index` (0 = head) of `meta`'s list.
    fn element(&mut self, key: &[u8], meta: &Meta, index: u64) -> io::Result<Option<Vec<u8>>> {
        let pos = meta.head.wrapping_add(index);
        self.member_of(key, meta, &pos.to_be_bytes())
    }

    fn set_element(
        &mut self,
        key: &[u8],
        meta: &mut Meta,
        index: u64,
        value: Option<Vec<u8>>,
    ) -> io::Result<()> {
        let pos = meta.head.wrapping_add(index);
        self.set_member_of(key, meta, &pos.to_be_bytes(), value)
            .map(drop)
    }

    fn push(
        &mut self,
        key: &[u8],
        meta: &mut Meta,
        element: Vec<u8>,
        left: bool,
    ) -> io::Result<()> {
        if left {
            meta.head = meta.head.wrapping_sub(1);
            self.set_element(key, meta, 0, Some(element))
        } else {
            let len = meta.len;
            self.set_element(key, meta, len, Some(element))
        }
    }

    fn pop(&mut self, key: &[u8], meta: &mut Meta, left: bool) -> io::Result<Option<Vec<u8>>> {
        if meta.len == 0 {
            return Ok(None);
        }
        let index = if left { 0 } else { meta.len - 1 };
        let element = self.element(key, meta, index)?;
        self.set_element(key, meta, index, None)?;
        if left {
            meta.head = meta.head.wrapping_add(1);
        }
        Ok(element)
    }

    /// Replaces `dest` with a list of `elements`, head first (deleting it if there are
    /// none): `SORT ... STORE`.
    pub(super) fn store_list(&mut self, dest: &[u8], elements: Vec<Vec<u8>>) -> io::Result<()> {
        self.remove(dest);
        if elements.is_empty() {
            return Ok(());
        }
        let mut meta = Meta::new(TYPE_LIST, self.new_version());
        for element in elements {
            self.push(dest, &mut meta, element, false)?;
        }
        self.save_collection(dest, &meta);
        Ok(())
    }

    /// Every element, head first.
    pub(super) fn elements(&mut self, key: &[u8], meta: &Meta) -> io::Result<Vec<Vec<u8>>> {
        (0..meta.len)
            .map(|i| Ok(self.element(key, meta, i)?.unwrap_or_default()))
            .collect()
    }

    /// Replaces the whole list with `elements` (same version, same head).
    fn rewrite(&mut self, key: &[u8], meta: &mut Meta, elements: Vec<Vec<u8>>) -> io::Result<()> {
        for i in (elements.len() as u64..meta.len).rev() {
            self.set_element(key, meta, i, None)?;
        }
        for (i, element) in elements.into_iter().enumerate() {
            self.set_element(key, meta, i as u64, Some(element))?;
        }
        self.save_collection(key, meta);
        Ok(())
    }

    pub(super) fn lpush(&mut self, op: &LPush) -> io::Result<Reply> {
        if op.only_existing && checked!(self.list(&op.key)?).is_none() {
            return Ok(Reply::Int(0));
        }
        let mut meta = checked!(self.list_for_update(&op.key)?);
        for element in &op.elements {
            self.push(&op.key, &mut meta, element.to_vec(), op.left)?;
        }
        self.save_collection(&op.key, &meta);
        Ok(Reply::Int(meta.len as i64))
    }

    pub(super) fn lpop(&mut self, op: &LPop) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.list(&op.key)?) else {
            return Ok(if op.count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            });
        };
        let Some(count) = op.count else {
            let element = self.pop(&op.key, &mut meta, op.left)?;
            self.save_collection(&op.key, &meta);
            return Ok(element.map_or(Reply::Nil, Reply::bulk));
        };
        let mut popped = Vec::new();
        while (popped.len() as u64) < count {
            match self.pop(&op.key, &mut meta, op.left)? {
                Some(element) => popped.push(Reply::bulk(element)),
                None => break,
            }
        }
        self.save_collection(&op.key, &meta);
        Ok(Reply::Array(popped))
    }

    pub(super) fn lrange(&mut self, op: &LRange) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.list(&op.key)?) else {
            return Ok(if op.trim {
                Reply::Ok
            } else {
                Reply::Array(Vec::new())
            });
        };
        let span = span(op.start, op.stop, meta.len);
        if op.trim {
            let (keep_from, keep_to) = span.map_or((meta.len, meta.len), |(a, b)| (a, b + 1));
            for i in (keep_to..meta.len).rev() {
                self.set_element(&op.key, &mut meta, i, None)?;
            }
            for _ in 0..keep_from {
                self.pop(&op.key, &mut meta, true)?;
            }
            self.save_collection(&op.key, &meta);
            return Ok(Reply::Ok);
        }
        let mut out = Vec::new();
        if let Some((start, stop)) = span {
            for i in start..=stop {
                let element = self.element(&op.key, &meta, i)?.unwrap_or_default();
                out.push(Reply::bulk(element));
            }
        }
        Ok(Reply::Array(out))
    }

    pub(super) fn lindex(&mut self, key: &[u8], index: i64) -> io::Result<Reply> {
        let Some(meta) = checked!(self.list(key)?) else {
            return Ok(Reply::Nil);
        };
        let Some(at) = normalize(index, meta.len) else {
            return Ok(Reply::Nil);
        };
        Ok(self
            .element(key, &meta, at)?
            .map_or(Reply::Nil, Reply::bulk))
    }

    pub(super) fn lset(&mut self, op: &LSet) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.list(&op.key)?) else {
            return Ok(Reply::err("no such key"));
        };
        let Some(at) = normalize(op.index, meta.len) else {
            return Ok(Reply::err("index out of range"));
        };
        self.set_element(&op.key, &mut meta, at, Some(op.element.to_vec()))?;
        self.save_collection(&op.key, &meta);
        Ok(Reply::Ok)
    }

    pub(super) fn lrem(&mut self, op: &LRem) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.list(&op.key)?) else {
            return Ok(Reply::Int(0));
        };
        let mut elements = self.elements(&op.key, &meta)?;
        let limit = if op.count == 0 {
            u64::MAX
        } else {
            op.count.unsigned_abs()
        };
        let mut removed = 0u64;
        let mut keep = |e: &Vec<u8>| {
            let hit = removed < limit && e.as_slice() == op.element.as_ref();
            removed += u64::from(hit);
            !hit
        };
        if op.count < 0 {
            elements.reverse();
            elements.retain(|e| keep(e));
            elements.reverse();
        } else {
            elements.retain(|e| keep(e));
        }
        if removed > 0 {
            self.rewrite(&op.key, &mut meta, elements)?;
        }
        Ok(Reply::Int(removed as i64))
    }

    pub(super) fn linsert(&mut self, op: &LInsert) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.list(&op.key)?) else {
            return Ok(Reply::Int(0));
        };
        let mut elements = self.elements(&op.key, &meta)?;
        let Some(at) = elements
            .iter()
            .position(|e| e.as_slice() == op.pivot.as_ref())
        else {
            return Ok(Reply::Int(-1));
        };
        let at = if op.before { at } else { at + 1 };
        elements.insert(at, op.element.to_vec());
        let len = elements.len() as i64;
        self.rewrite(&op.key, &mut meta, elements)?;
        Ok(Reply::Int(len))
    }

    pub(super) fn lpos(&mut self, op: &LPos) -> io::Result<Reply> {
        let meta = checked!(self.list(&op.key)?);
        let none = || {
            if op.count.is_some() {
                Reply::Array(Vec::new())
            } else {
                Reply::Nil
            }
        };
        let Some(meta) = meta else {
            return Ok(none());
        };
        let wanted = match op.count {
            None => 1,
            Some(0) => u64::MAX,
            Some(n) => n,
        };
        let mut skip = op.rank.unsigned_abs() - 1;
        let scan = if op.maxlen == 0 {
            meta.len
        } else {
            op.maxlen.min(meta.len)
        };
        let mut found = Vec::new();
        for step in 0..scan {
            let index = if op.rank > 0 {
                step
            } else {
                meta.len - 1 - step
            };
            if self.element(&op.key, &meta, index)?.as_deref() != Some(op.element.as_ref()) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(Reply::Int(index as i64));
            if found.len() as u64 >= wanted {
                break;
            }
        }
        Ok(match op.count {
            Some(_) => Reply::Array(found),
            None => found.pop().unwrap_or_else(none),
        })
    }

    pub(super) fn lmove(&mut self, op: &LMove) -> io::Result<Reply> {
        let Some(mut from) = checked!(self.list(&op.from)?) else {
            return Ok(Reply::Nil);
        };
        let mut to = checked!(self.list_for_update(&op.to)?);
        let Some(element) = self.pop(&op.from, &mut from, op.from_left)? else {
            return Ok(Reply::Nil);
        };
        self.save_collection(&op.from, &from);
        if op.from == op.to {
            to = from;
        }
        self.push(&op.to, &mut to, element.clone(), op.to_left)?;
        self.save_collection(&op.to, &to);
        Ok(Reply::bulk(element))
    }

    pub(super) fn lmpop(&mut self, op: &LMPop) -> io::Result<Reply> {
        for (key, name) in op.keys.iter().zip(&op.names) {
            let Some(mut meta) = checked!(self.list(key)?) else {
                continue;
            };
            let mut popped = Vec::new();
            while (popped.len() as u64) < op.count {
                match self.pop(key, &mut meta, op.left)? {
                    Some(element) => popped.push(Reply::bulk(element)),
                    None => break,
                }
            }
            self.save_collection(key, &meta);
            return Ok(Reply::Array(vec![
                Reply::Bulk(name.clone()),
                Reply::Array(popped),
            ]));
        }
        Ok(Reply::NilArray)
    }
}

impl Engine<'_> {
    /// One try of a blocking pop: what the non-blocking form answers.
    pub(super) fn bpop(&mut self, op: &BPop) -> io::Result<Reply> {
        let multi = |count| LMPop {
            keys: op.keys.clone(),
            names: op.names.clone(),
            left: op.left,
            count,
        };
        match (op.form, &op.dest) {
            (BlockingForm::ZPair { max }, _) => self.bzpop_pair(&op.keys, &op.names, max),
            (BlockingForm::ZMulti { max, count }, _) => self.zpop(&ZPop {
                keys: op.keys.clone(),
                names: op.names.clone(),
                max,
                count: Some(count),
                multi: true,
            }),
            (BlockingForm::Move { to_left }, Some(dest)) => self.lmove(&LMove {
                from: op.keys[0].clone(),
                to: dest.clone(),
                from_left: op.left,
                to_left,
            }),
            (BlockingForm::Multi { count }, _) => self.lmpop(&multi(count)),
            _ => Ok(match self.lmpop(&multi(1))? {
                // `[key, [element]]` becomes `[key, element]`.
                Reply::Array(mut pair) if pair.len() == 2 => match pair.pop() {
                    Some(Reply::Array(mut one)) if one.len() == 1 => {
                        pair.push(one.pop().expect("one"));
                        Reply::Array(pair)
                    }
                    _ => Reply::NilArray,
                },
                other => other,
            }),
        }
    }
}
