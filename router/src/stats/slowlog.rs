//! `SLOWLOG`: the slowest recent commands, as Redis keeps them (`slowlog-log-slower-than`
//! microseconds, the newest `slowlog-max-len` entries, long arguments shortened).

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use tessera_proto::reply::Reply;

/// Redis keeps at most this many arguments of a command.
const MAX_ARGS: usize = 32;
/// ... and this many bytes of each.
const MAX_ARG_BYTES: usize = 128;

/// One slow command.
struct Entry {
    id: u64,
    unix_secs: i64,
    micros: u64,
    args: Vec<Bytes>,
    addr: String,
    name: Bytes,
}

/// The log and its two settings.
pub struct SlowLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
    /// `slowlog-log-slower-than` (µs; negative: off).
    pub slower_than: AtomicI64,
    /// `slowlog-max-len`.
    pub max_len: AtomicUsize,
}

impl Default for SlowLog {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            next_id: AtomicU64::new(0),
            slower_than: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
        }
    }
}

fn shorten(args: &[Bytes]) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGS);
    let mut out: Vec<Bytes> = args[..kept]
        .iter()
        .map(|a| {
            if a.len() > MAX_ARG_BYTES {
                let more = a.len() - MAX_ARG_BYTES;
                let mut s = a[..MAX_ARG_BYTES].to_vec();
                s.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                Bytes::from(s)
            } else {
                a.clone()
            }
        })
        .collect();
    if args.len() > MAX_ARGS {
        let more = args.len() - MAX_ARGS + 1;
        out[MAX_ARGS - 1] = Bytes::from(format!("... ({more} more arguments)"));
    }
    out
}

impl SlowLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a command that took `micros` belongs in the log.
    pub fn wants(&self, micros: u64) -> bool {
        let limit = self.slower_than.load(Ordering::Relaxed);
        limit >= 0 && micros >= limit as u64
    }

    /// Logs a command that [`Self::wants`].
    pub fn push(&self, micros: u64, args: &[Bytes], addr: String, name: Bytes, unix_secs: i64) {
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs,
            micros,
            args: shorten(args),
            addr,
            name,
        };
        let max = self.max_len.load(Ordering::Relaxed);
        let mut entries = self.lock();
        entries.push_front(entry);
        entries.truncate(max);
    }

    /// `SLOWLOG LEN`.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// `SLOWLOG RESET`.
    pub fn reset(&self) {
        self.lock().clear();
    }

    /// `SLOWLOG GET [count]`: the newest entries first (`None`: all of them).
    pub fn get(&self, count: Option<usize>) -> Reply {
        let entries = self.lock();
        let n = count.unwrap_or(usize::MAX).min(entries.len());
        Reply::Array(
            entries
                .iter()
                .take(n)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.unix_secs),
                        Reply::Int(e.micros as i64),
                        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
                        Reply::bulk(e.addr.clone()),
                        Reply::Bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened_like_redis() {
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        let short = shorten(&args);
        assert_eq!(short.len(), 32);
        assert_eq!(short[31], "... (9 more arguments)");
        let long = shorten(&[Bytes::from(vec![b'x'; 130])]);
        assert!(long[0].ends_with(b"x... (2 more bytes)"));
        let log = SlowLog::default();
        log.max_len.store(2, Ordering::Relaxed);
        for i in 0..3 {
            log.push(i, &args[..1], "1.2.3.4:5".into(), Bytes::new(), 0);
        }
        assert_eq!(log.len(), 2);
        assert!(log.wants(10_000) && !log.wants(9_999));
    }
}
