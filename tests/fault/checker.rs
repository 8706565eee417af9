//! History checkers.
//!
//! - [`check_register`]: linearizability of a read/write register, key by key
//!   (Wing & Gong's search with Lowe's memoization of (linearized set, state)). A write
//!   whose outcome is unknown may take effect at any point after its invocation, or
//!   never; a failed read is dropped.
//! - [`check_appends`]: a list built by appending unique tokens, read whole: every read
//!   is a prefix of the final list, every acknowledged append is in it exactly once,
//!   nothing appears that was never attempted, and real-time order holds.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// What an operation did to a register.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `SET key value`.
    Write(u64),
    /// `GET key`, which returned this (`None`: no value).
    Read(Option<u64>),
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged (for reads: returned the value in [`Kind::Read`]).
    Ok,
    /// Timed out or an ambiguous error: it may or may not have taken effect.
    Unknown,
}

/// One operation of one client on one key, with monotonic times in microseconds.
#[derive(Clone, Debug)]
pub struct Op {
    pub client: usize,
    pub key: String,
    pub kind: Kind,
    pub outcome: Outcome,
    pub invoked: u64,
    /// Completion time; `u64::MAX` for [`Outcome::Unknown`].
    pub completed: u64,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.completed == u64::MAX {
            "?".to_string()
        } else {
            self.completed.to_string()
        };
        write!(
            f,
            "[{:>10} .. {:>10}] client {:>3} {} {:?} {:?}",
            self.invoked, end, self.client, self.key, self.kind, self.outcome
        )
    }
}

/// A key whose history is not linearizable, with the shortest prefix of it (by
/// invocation time) that already is not.
#[derive(Debug)]
pub struct Violation {
    pub key: String,
    pub history: Vec<Op>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {} is not linearizable; minimal offending history:",
            self.key
        )?;
        for op in &self.history {
            writeln!(f, "  {op}")?;
        }
        Ok(())
    }
}

/// Checks every key's history; the first violation found, if any.
pub fn check_register(history: &[Op]) -> Result<(), Violation> {
    let mut by_key: BTreeMap<&str, Vec<Op>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.key.as_str()).or_default().push(op.clone());
    }
    for (key, mut ops) in by_key {
        ops.sort_by_key(|o| o.invoked);
        if !linearizable(&ops) {
            return Err(Violation {
                key: key.to_string(),
                history: minimal_prefix(&ops),
            });
        }
    }
    Ok(())
}

/// The shortest prefix (ops sorted by invocation) that is not linearizable.
fn minimal_prefix(ops: &[Op]) -> Vec<Op> {
    let (mut lo, mut hi) = (1, ops.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if linearizable(&ops[..mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    ops[..hi].to_vec()
}

/// Whether one key's operations (sorted by invocation) have a linearization starting
/// from an absent value. Failed reads must have been removed; unknown writes may be
/// left out of the linearization.
fn linearizable(ops: &[Op]) -> bool {
    let n = ops.len();
    let words = n.div_ceil(64);
    let mut done = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    let must: usize = ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
    search(ops, &mut done, None, 0, must, &mut seen)
}

fn is_done(done: &[u64], i: usize) -> bool {
    done[i / 64] & (1 << (i % 64)) != 0
}

fn search(
    ops: &[Op],
    done: &mut Vec<u64>,
    state: Option<u64>,
    linearized_ok: usize,
    must: usize,
    seen: &mut HashSet<(Vec<u64>, Option<u64>)>,
) -> bool {
    if linearized_ok == must {
        return true; // Unknown writes still pending may simply never have happened.
    }
    if !seen.insert((done.clone(), state)) {
        return false;
    }
    // An op may go next only if no pending op completed before it was invoked.
    let earliest_end = ops
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_done(done, *i))
        .map(|(_, o)| o.completed)
        .min()
        .unwrap_or(u64::MAX);
    for (i, op) in ops.iter().enumerate() {
        if op.invoked > earliest_end {
            break; // Sorted by invocation: no later op can go next either.
        }
        if is_done(done, i) {
            continue;
        }
        let next = match &op.kind {
            Kind::Write(v) => Some(*v),
            Kind::Read(seen_value) if *seen_value == state => state,
            Kind::Read(_) => continue,
        };
        done[i / 64] |= 1 << (i % 64);
        let ok = usize::from(op.outcome == Outcome::Ok);
        if search(ops, done, next, linearized_ok + ok, must, seen) {
            return true;
        }
        done[i / 64] &= !(1 << (i % 64));
    }
    false
}

/// One append of a unique token, or a read of the whole list.
#[derive(Clone, Debug)]
pub enum ListOp {
    /// `APPEND key "token,"`.
    Append {
        token: u64,
        outcome: Outcome,
        invoked: u64,
        completed: u64,
    },
    /// `GET key`, parsed into tokens.
    Read {
        tokens: Vec<u64>,
        invoked: u64,
        completed: u64,
    },
}

/// Checks one list's history against its `final_tokens` (read after everything healed).
pub fn check_appends(ops: &[ListOp], final_tokens: &[u64]) -> Result<(), String> {
    let mut position: HashMap<u64, usize> = HashMap::new();
    for (i, t) in final_tokens.iter().enumerate() {
        if position.insert(*t, i).is_some() {
            return Err(format!(
                "token {t} appears more than once in the final list"
            ));
        }
    }
    let attempted: HashSet<u64> = ops
        .iter()
        .filter_map(|o| match o {
            ListOp::Append { token, .. } => Some(*token),
            ListOp::Read { .. } => None,
        })
        .collect();
    if let Some(t) = final_tokens.iter().find(|t| !attempted.contains(t)) {
        return Err(format!("token {t} is in the list but was never appended"));
    }
    let acked: Vec<(u64, u64, u64)> = ops
        .iter()
        .filter_map(|o| match o {
            ListOp::Append {
                token,
                outcome: Outcome::Ok,
                invoked,
                completed,
            } => Some((*token, *invoked, *completed)),
            _ => None,
        })
        .collect();
    for (token, invoked, completed) in &acked {
        if !position.contains_key(token) {
            return Err(format!(
                "acknowledged append of {token} (at {invoked}..{completed}) is lost"
            ));
        }
    }
    // Real time: an append acknowledged before another was invoked comes first.
    for (a, _, a_done) in &acked {
        for (b, b_start, _) in &acked {
            if a_done < b_start && position[a] > position[b] {
                return Err(format!(
                    "append {a} was acknowledged before append {b} began, but follows it"
                ));
            }
        }
    }
    for op in ops {
        let ListOp::Read {
            tokens,
            invoked,
            completed,
        } = op
        else {
            continue;
        };
        if tokens.len() > final_tokens.len() || tokens[..] != final_tokens[..tokens.len()] {
            return Err(format!(
                "read {tokens:?} (at {invoked}..{completed}) is not a prefix of the final list\n{}",
                divergence(ops, tokens, final_tokens)
            ));
        }
        // A read that began after an append was acknowledged must see it.
        for (token, _, done) in &acked {
            if done < invoked && !tokens.contains(token) {
                return Err(format!(
                    "read at {invoked} misses append {token} acknowledged at {done} (stale read)"
                ));
            }
        }
    }
    Ok(())
}

/// Where a read and the final list part, and how the appends around there ended.
fn divergence(ops: &[ListOp], read: &[u64], final_tokens: &[u64]) -> String {
    let at = read
        .iter()
        .zip(final_tokens)
        .position(|(a, b)| a != b)
        .unwrap_or(read.len().min(final_tokens.len()));
    let describe = |token: Option<&u64>| match token {
        None => "nothing".to_string(),
        Some(t) => {
            let append = ops.iter().find_map(|o| match o {
                ListOp::Append {
                    token,
                    outcome,
                    invoked,
                    completed,
                } if token == t => Some(format!("{outcome:?} at {invoked}..{completed}")),
                _ => None,
            });
            format!("{t} (append {})", append.unwrap_or("never made".into()))
        }
    };
    let window = |list: &[u64]| list[at.saturating_sub(2)..(at + 3).min(list.len())].to_vec();
    format!(
        "they part at index {at}: the read has {}, the final list has {}; \
         read around there {:?}, final around there {:?}; final length {}",
        describe(read.get(at)),
        describe(final_tokens.get(at)),
        window(read),
        window(final_tokens),
        final_tokens.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Acknowledged at `completed`, or unknown.
    fn ended(completed: Option<u64>) -> (Outcome, u64) {
        match completed {
            Some(at) => (Outcome::Ok, at),
            None => (Outcome::Unknown, u64::MAX),
        }
    }

    fn op(client: usize, kind: Kind, invoked: u64, completed: Option<u64>) -> Op {
        let (outcome, completed) = ended(completed);
        Op {
            client,
            key: "k".into(),
            kind,
            outcome,
            invoked,
            completed,
        }
    }

    #[test]
    fn sequential_and_concurrent_histories_are_linearizable() {
        let h = vec![
            op(0, Kind::Write(1), 0, Some(10)),
            op(1, Kind::Read(Some(1)), 20, Some(30)),
            // Concurrent write and reads may see either value.
            op(0, Kind::Write(2), 40, Some(60)),
            op(1, Kind::Read(Some(1)), 41, Some(45)),
            op(2, Kind::Read(Some(2)), 50, Some(55)),
            op(1, Kind::Read(Some(2)), 70, Some(80)),
        ];
        assert!(check_register(&h).is_ok());
    }

    #[test]
    fn a_stale_read_is_rejected() {
        let h = vec![
            op(0, Kind::Write(1), 0, Some(10)),
            op(0, Kind::Write(2), 20, Some(30)),
            op(1, Kind::Read(Some(1)), 40, Some(50)),
        ];
        let v = check_register(&h).unwrap_err();
        assert_eq!(v.history.len(), 3, "{v}");
    }

    #[test]
    fn a_lost_write_is_rejected() {
        let h = vec![
            op(0, Kind::Write(1), 0, Some(10)),
            op(1, Kind::Read(None), 20, Some(30)),
        ];
        assert!(check_register(&h).is_err());
    }

    #[test]
    fn a_value_never_written_is_rejected() {
        let h = vec![op(1, Kind::Read(Some(9)), 0, Some(5))];
        assert!(check_register(&h).is_err());
    }

    #[test]
    fn unknown_writes_may_apply_late_or_never() {
        let late = vec![
            op(0, Kind::Write(1), 0, Some(10)),
            op(0, Kind::Write(2), 20, None),
            op(1, Kind::Read(Some(1)), 30, Some(40)),
            op(1, Kind::Read(Some(2)), 500, Some(510)),
        ];
        assert!(check_register(&late).is_ok());
        let never = vec![
            op(0, Kind::Write(2), 20, None),
            op(1, Kind::Read(None), 500, Some(510)),
        ];
        assert!(check_register(&never).is_ok());
        // But not before it was invoked.
        let early = vec![
            op(1, Kind::Read(Some(2)), 0, Some(10)),
            op(0, Kind::Write(2), 20, None),
        ];
        assert!(check_register(&early).is_err());
    }

    #[test]
    fn a_value_cannot_come_back_after_being_overwritten() {
        let h = vec![
            op(0, Kind::Write(1), 0, Some(10)),
            op(0, Kind::Write(2), 20, Some(30)),
            op(1, Kind::Read(Some(2)), 40, Some(50)),
            op(1, Kind::Read(Some(1)), 60, Some(70)),
        ];
        let v = check_register(&h).unwrap_err();
        assert!(v.to_string().contains("minimal offending history"));
    }

    #[test]
    fn many_concurrent_ops_check_quickly() {
        // 8 clients, 300 overlapping ops on one key: the memo keeps this fast.
        let mut h = Vec::new();
        for i in 0..300u64 {
            let client = (i % 8) as usize;
            let kind = if i % 3 == 0 {
                Kind::Write(i)
            } else {
                Kind::Read(Some(i - i % 3))
            };
            h.push(op(client, kind, i * 10, Some(i * 10 + 25)));
        }
        assert!(check_register(&h).is_ok());
    }

    fn append(token: u64, invoked: u64, completed: Option<u64>) -> ListOp {
        let (outcome, completed) = ended(completed);
        ListOp::Append {
            token,
            outcome,
            invoked,
            completed,
        }
    }

    fn read(tokens: &[u64], invoked: u64, completed: u64) -> ListOp {
        ListOp::Read {
            tokens: tokens.to_vec(),
            invoked,
            completed,
        }
    }

    #[test]
    fn appends_in_order_pass() {
        let h = vec![
            append(1, 0, Some(10)),
            append(2, 5, Some(12)),
            read(&[1], 6, 8),
            append(3, 20, None),
            read(&[1, 2], 30, 40),
        ];
        assert!(check_appends(&h, &[1, 2, 3]).is_ok());
        assert!(
            check_appends(&h, &[1, 2]).is_ok(),
            "an unknown append may be lost"
        );
    }

    #[test]
    fn duplicated_lost_invented_and_reordered_appends_are_rejected() {
        let h = vec![append(1, 0, Some(10)), append(2, 20, Some(30))];
        assert!(check_appends(&h, &[1, 2, 2])
            .unwrap_err()
            .contains("more than once"));
        assert!(check_appends(&h, &[1]).unwrap_err().contains("lost"));
        assert!(check_appends(&h, &[1, 2, 7])
            .unwrap_err()
            .contains("never appended"));
        assert!(check_appends(&h, &[2, 1])
            .unwrap_err()
            .contains("follows it"));
    }

    #[test]
    fn stale_and_divergent_reads_are_rejected() {
        let stale = vec![append(1, 0, Some(10)), read(&[], 20, 30)];
        assert!(check_appends(&stale, &[1]).unwrap_err().contains("stale"));
        let divergent = vec![
            append(1, 0, Some(10)),
            append(2, 0, Some(10)),
            read(&[2], 5, 6),
        ];
        assert!(check_appends(&divergent, &[1, 2])
            .unwrap_err()
            .contains("not a prefix"));
    }
}
