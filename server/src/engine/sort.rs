//! `SORT` and `SORT_RO` over lists, sets and sorted sets, as Redis 7.0's
//! `sortCommandGeneric` does without patterns: numeric (ties by bytes) or `ALPHA` byte
//! order, `DESC`, `LIMIT`, `GET #`, and `STORE` into a list.

use super::collection::{checked, Meta};
use super::Engine;
use crate::value::{TYPE_LIST, TYPE_SET, TYPE_ZSET};
use std::cmp::Ordering;
use std::io;
use tessera_proto::commands::keyspace::Sort;
use tessera_proto::reply::Reply;

/// An element's numeric weight as Redis reads it (`strtod`: leading spaces allowed,
/// an empty string is 0; NaN and trailing bytes refused).
fn weight(element: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(element).ok()?.trim_start();
    if text.is_empty() {
        return Some(0.0);
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// The slice of `len` elements `LIMIT offset count` keeps, as Redis computes it.
fn limit_span(len: usize, (offset, count): (i64, i64)) -> std::ops::Range<usize> {
    let len = len as i64;
    let mut start = offset.max(0);
    let mut end = if count < 0 {
        len - 1
    } else {
        start.saturating_add(count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if start < 0 || end < start {
        return 0..0;
    }
    start as usize..end as usize + 1
}

impl Engine<'_> {
    pub(super) fn sort(&mut self, op: &Sort) -> io::Result<Reply> {
        let kind = self.live_ref(&op.key)?.map(|v| v.kind);
        let mut elements: Vec<Vec<u8>> = match kind {
            None => Vec::new(),
            Some(kind) if [TYPE_LIST, TYPE_SET, TYPE_ZSET].contains(&kind) => {
                let meta: Meta = checked!(self.collection(&op.key, kind)?).expect("live");
                match kind {
                    TYPE_LIST => self.elements(&op.key, &meta)?,
                    TYPE_ZSET => self.zset_members_by_score(&op.key, &meta)?,
                    _ => self
                        .members_of(&op.key, &meta)?
                        .into_iter()
                        .map(|(m, _)| m)
                        .collect(),
                }
            }
            Some(_) => return Ok(super::wrongtype()),
        };
        // A set stored without sorting is sorted by bytes, so the stored list does not
        // depend on the set's internal order (as Redis does).
        let (mut dont_sort, mut alpha) = (op.dont_sort, op.alpha);
        if dont_sort && kind == Some(TYPE_SET) && op.store.is_some() {
            (dont_sort, alpha) = (false, true);
        }
        if dont_sort {
            // The collection's own order; a list or sorted set honours DESC.
            if op.desc && kind != Some(TYPE_SET) {
                elements.reverse();
            }
        } else if alpha {
            elements.sort();
            if op.desc {
                elements.reverse();
            }
        } else {
            let mut weighted = Vec::with_capacity(elements.len());
            for element in elements {
                match weight(&element) {
                    Some(w) => weighted.push((w, element)),
                    None => {
                        return Ok(Reply::err(
                            "One or more scores can't be converted into double",
                        ))
                    }
                }
            }
            weighted.sort_by(|a, b| {
                let order = a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal);
                let order = order.then_with(|| a.1.cmp(&b.1));
                if op.desc {
                    order.reverse()
                } else {
                    order
                }
            });
            elements = weighted.into_iter().map(|(_, e)| e).collect();
        }
        let span = limit_span(elements.len(), op.limit);
        let repeat = op.gets.max(1);
        let output: Vec<Vec<u8>> = elements[span]
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.clone(), repeat))
            .collect();
        let Some(dest) = &op.store else {
            return Ok(Reply::Array(output.into_iter().map(Reply::bulk).collect()));
        };
        let stored = output.len() as i64;
        self.store_list(dest, output)?;
        Ok(Reply::Int(stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_redis() {
        assert_eq!(limit_span(5, (0, -1)), 0..5);
        assert_eq!(limit_span(5, (1, 2)), 1..3);
        assert_eq!(limit_span(5, (-3, 2)), 0..2);
        assert_eq!(limit_span(5, (7, 2)), 0..0);
        assert_eq!(limit_span(5, (3, 100)), 3..5);
        assert_eq!(limit_span(5, (0, 0)), 0..0);
        assert_eq!(limit_span(0, (0, -1)), 0..0);
    }
}
