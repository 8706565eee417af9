//! A sorted set's two kinds of rows and the reads over them: member rows (the
//! collection's prefix, then `0x00`, the member) holding the score, and score-index rows
//! (the prefix, then `0x01`, the score in an order-preserving 8-byte form, the member)
//! with an empty value, read in order by ranges over scores and ranks.

use super::collection::Meta;
use super::Engine;
use std::cmp::Ordering;
use std::io;
use tessera_proto::commands::zset::{LexBound, ScoreBound, ZBy, ZRange};

/// The byte after a sorted set's prefix that starts its member rows.
pub(crate) const ZSET_MEMBERS: u8 = 0;
/// The byte after a sorted set's prefix that starts its score-index rows.
pub(super) const ZSET_SCORES: u8 = 1;
/// Rows a walk reads first; it reads more (up to [`WALK_MAX_CHUNK`]) as it goes on.
pub(super) const WALK_CHUNK: usize = 64;
pub(super) const WALK_MAX_CHUNK: usize = 4_096;

/// A score in a form whose byte order is the numeric order (`-0` sorts as `0`).
pub(super) fn score_key(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

pub(super) fn score_from_key(key: [u8; 8]) -> f64 {
    let ordered = u64::from_be_bytes(key);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

/// A member row's value: the score's bits.
pub(super) fn score_value(score: f64) -> Vec<u8> {
    score.to_bits().to_be_bytes().to_vec()
}

pub(crate) fn score_of_value(value: &[u8]) -> f64 {
    let bits: [u8; 8] = value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 8]);
    f64::from_bits(u64::from_be_bytes(bits))
}

/// Members with their scores.
pub(super) type Scored = Vec<(Vec<u8>, f64)>;

/// What a walk's visitor says next.
pub(super) enum Step {
    /// Go on.
    Next,
    /// Stop here.
    Stop,
}

pub(super) fn above_min(score: f64, min: &ScoreBound) -> bool {
    if min.open {
        score > min.value
    } else {
        score >= min.value
    }
}

pub(super) fn below_max(score: f64, max: &ScoreBound) -> bool {
    if max.open {
        score < max.value
    } else {
        score <= max.value
    }
}

/// Orders two member bounds as Redis's `sdscmplex` does (`-` lowest, `+` highest).
pub(super) fn lex_cmp(a: &LexBound, b: &LexBound) -> Ordering {
    use LexBound::{Closed, Max, Min, Open};
    match (a, b) {
        (Min, Min) | (Max, Max) => Ordering::Equal,
        (Min, _) | (_, Max) => Ordering::Less,
        (_, Min) | (Max, _) => Ordering::Greater,
        (Closed(x) | Open(x), Closed(y) | Open(y)) => x.cmp(y),
    }
}

pub(super) fn lex_exclusive(bound: &LexBound) -> bool {
    !matches!(bound, LexBound::Closed(_))
}

pub(super) fn lex_above_min(member: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Closed(x) => member >= &x[..],
        LexBound::Open(x) => member > &x[..],
    }
}

pub(super) fn lex_below_max(member: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Max => true,
        LexBound::Min => false,
        LexBound::Closed(x) => member <= &x[..],
        LexBound::Open(x) => member < &x[..],
    }
}

impl Meta {
    /// The prefix of a sorted set's score-index rows when stored at `key`.
    pub(crate) fn score_prefix(&self, key: &[u8]) -> Vec<u8> {
        let mut prefix = crate::layout::prefix(key, self.version);
        prefix.push(ZSET_SCORES);
        prefix
    }
}

impl Engine<'_> {
    pub(super) fn zscore_of(
        &mut self,
        key: &[u8],
        meta: &Meta,
        member: &[u8],
    ) -> io::Result<Option<f64>> {
        Ok(self
            .member_of(key, meta, member)?
            .map(|v| score_of_value(&v)))
    }

    /// The score-index row of `member` with `score`.
    pub(super) fn index_row(key: &[u8], meta: &Meta, score: f64, member: &[u8]) -> Vec<u8> {
        let mut row = meta.score_prefix(key);
        row.extend_from_slice(&score_key(score));
        row.extend_from_slice(member);
        row
    }

    /// Sets `member`'s score (or with `None` removes it), keeping the count and the
    /// score index; answers its old score.
    pub(crate) fn put_zmember(
        &mut self,
        key: &[u8],
        meta: &mut Meta,
        member: &[u8],
        score: Option<f64>,
    ) -> io::Result<Option<f64>> {
        let old = self.zscore_of(key, meta, member)?;
        if let Some(old) = old {
            self.set_member(&Self::index_row(key, meta, old, member), None)?;
        }
        self.set_member_of(key, meta, member, score.map(score_value))?;
        if let Some(new) = score {
            meta.head = meta.head.min(u64::from_be_bytes(score_key(new)));
            self.set_member(&Self::index_row(key, meta, new, member), Some(Vec::new()))?;
        }
        Ok(old)
    }

    /// Writes the score-index row of a member copied with its score value.
    pub(crate) fn index_copied_member(
        &mut self,
        key: &[u8],
        meta: &Meta,
        member: &[u8],
        value: &[u8],
    ) -> io::Result<()> {
        let row = Self::index_row(key, meta, score_of_value(value), member);
        self.set_member(&row, Some(Vec::new()))?;
        Ok(())
    }

    /// Visits the rows with `prefix` in order (or, `rev`, in reverse) from the first
    /// at or after `prefix ++ from` (forwards only), as (row key after the prefix,
    /// value), reading them in growing chunks so a walk that stops early reads little.
    pub(super) fn walk_rows(
        &mut self,
        prefix: &[u8],
        from: &[u8],
        rev: bool,
        mut visit: impl FnMut(&[u8], &[u8]) -> Step,
    ) -> io::Result<()> {
        let mut chunk = WALK_CHUNK;
        if !rev {
            let mut at = [prefix, from].concat();
            loop {
                let rows = self.merged_rows(prefix, &at, chunk, false)?;
                let present: Vec<(Vec<u8>, Vec<u8>)> = rows
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?)))
                    .take(chunk)
                    .collect();
                for (row, value) in &present {
                    if let Step::Stop = visit(&row[prefix.len()..], value) {
                        return Ok(());
                    }
                }
                match present.last() {
                    Some((last, _)) if present.len() == chunk => {
                        at = [last.as_slice(), &[0]].concat();
                    }
                    _ => return Ok(()),
                }
                chunk = (chunk * 2).min(WALK_MAX_CHUNK);
            }
        }
        // Backwards: the last `chunk` rows, then more of them, skipping those seen.
        let mut seen: Option<Vec<u8>> = None;
        loop {
            let rows = self.merged_rows(prefix, prefix, chunk, true)?;
            let present: Vec<(Vec<u8>, Vec<u8>)> = rows
                .into_iter()
                .rev()
                .filter_map(|(k, v)| Some((k, v?)))
                .take(chunk)
                .collect();
            let exhausted = present.len() < chunk;
            for (row, value) in present {
                if seen.as_ref().is_some_and(|s| &row >= s) {
                    continue;
                }
                if let Step::Stop = visit(&row[prefix.len()..], &value) {
                    return Ok(());
                }
                seen = Some(row);
            }
            if exhausted {
                return Ok(());
            }
            chunk = chunk.saturating_mul(4);
        }
    }

    /// Visits members by score (ascending, or `rev` descending), from the first with
    /// a score of at least `from` (forwards only).
    pub(super) fn walk_scores(
        &mut self,
        key: &[u8],
        meta: &Meta,
        rev: bool,
        from: Option<f64>,
        mut visit: impl FnMut(&[u8], f64) -> Step,
    ) -> io::Result<()> {
        let prefix = meta.score_prefix(key);
        // No live row is below the floor: start there rather than step over the
        // tombstones of rows popped before it.
        let floor = meta.head.to_be_bytes();
        let start = from.map(score_key).unwrap_or_default().max(floor);
        self.walk_rows(&prefix, &start, rev, |rest, _| {
            let Some((score, member)) = rest.split_first_chunk::<8>() else {
                return Step::Next;
            };
            visit(member, score_from_key(*score))
        })
    }

    /// Every member, by ascending score (`SORT`).
    pub(super) fn zset_members_by_score(
        &mut self,
        key: &[u8],
        meta: &Meta,
    ) -> io::Result<Vec<Vec<u8>>> {
        let mut all = Vec::with_capacity(meta.len as usize);
        self.walk_scores(key, meta, false, None, |member, _| {
            all.push(member.to_vec());
            Step::Next
        })?;
        Ok(all)
    }

    /// The members a range selects, in the range's order, with their scores.
    pub(super) fn zselect(
        &mut self,
        key: &[u8],
        meta: &Meta,
        op: &ZRange,
    ) -> io::Result<Vec<(Vec<u8>, f64)>> {
        let mut out = Vec::new();
        let (offset, count) = op.limit;
        if offset < 0 {
            return Ok(out);
        }
        let mut skip = offset as u64;
        let mut left = u64::try_from(count).unwrap_or(u64::MAX);
        if left == 0 {
            return Ok(out);
        }
        // Takes an in-range member, honouring LIMIT; `Stop` once enough.
        let mut take = |member: &[u8], score: f64, out: &mut Vec<(Vec<u8>, f64)>| {
            if skip > 0 {
                skip -= 1;
                return Step::Next;
            }
            if left == 0 {
                return Step::Stop;
            }
            left -= 1;
            out.push((member.to_vec(), score));
            if left == 0 {
                Step::Stop
            } else {
                Step::Next
            }
        };
        match &op.by {
            ZBy::Rank { start, stop } => {
                let len = meta.len as i64;
                let (mut start, mut stop) = (*start, *stop);
                if start < 0 {
                    start += len;
                }
                if stop < 0 {
                    stop += len;
                }
                start = start.max(0);
                if start > stop || start >= len {
                    return Ok(out);
                }
                stop = stop.min(len - 1);
                let (mut skip, mut want) = (start, stop - start + 1);
                self.walk_scores(key, meta, op.rev, None, |member, score| {
                    if skip > 0 {
                        skip -= 1;
                        return Step::Next;
                    }
                    out.push((member.to_vec(), score));
                    want -= 1;
                    if want == 0 {
                        Step::Stop
                    } else {
                        Step::Next
                    }
                })?;
            }
            ZBy::Score { min, max } => {
                if min.value > max.value || (min.value == max.value && (min.open || max.open)) {
                    return Ok(out);
                }
                let from = (!op.rev).then_some(min.value);
                self.walk_scores(key, meta, op.rev, from, |member, score| {
                    if op.rev && !below_max(score, max) {
                        return Step::Next;
                    }
                    if !op.rev && !above_min(score, min) {
                        return Step::Next;
                    }
                    if !above_min(score, min) || !below_max(score, max) {
                        return Step::Stop;
                    }
                    take(member, score, &mut out)
                })?;
            }
            ZBy::Lex { min, max } => {
                let order = lex_cmp(min, max);
                if order == Ordering::Greater
                    || (order == Ordering::Equal && (lex_exclusive(min) || lex_exclusive(max)))
                {
                    return Ok(out);
                }
                let from = match (op.rev, min) {
                    (false, LexBound::Closed(m) | LexBound::Open(m)) => m.to_vec(),
                    _ => Vec::new(),
                };
                let prefix = meta.prefix(key);
                self.walk_rows(&prefix, &from, op.rev, |member, value| {
                    if op.rev && !lex_below_max(member, max) {
                        return Step::Next;
                    }
                    if !op.rev && !lex_above_min(member, min) {
                        return Step::Next;
                    }
                    if !lex_above_min(member, min) || !lex_below_max(member, max) {
                        return Step::Stop;
                    }
                    take(member, score_of_value(value), &mut out)
                })?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_keys_sort_like_scores() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1e-300,
            0.0,
            1e-300,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        let keys: Vec<[u8; 8]> = scores.iter().map(|s| score_key(*s)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for s in scores {
            assert_eq!(score_from_key(score_key(s)), s);
        }
        assert_eq!(score_key(-0.0), score_key(0.0));
    }
}
