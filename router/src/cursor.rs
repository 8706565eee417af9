//! SCAN cursors: a decimal number handed to the client, mapped on this router to the
//! storage key the scan resumes from. Cursors expire after a period of inactivity, and
//! the table is bounded so that abandoned scans cannot grow it without limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most live cursors kept; the least recently used one goes first beyond this.
const MAX_CURSORS: usize = 100_000;

/// The cursor table of one router.
pub struct CursorTable {
    ttl: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    next: u64,
    cursors: HashMap<u64, (Vec<u8>, Instant)>,
}

impl CursorTable {
    /// A table whose cursors expire after `ttl` without use.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                next: 1,
                cursors: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a resume position and returns its cursor number (never 0).
    pub fn insert(&self, resume: Vec<u8>) -> u64 {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner.cursors.len() >= MAX_CURSORS {
            let ttl = self.ttl;
            inner
                .cursors
                .retain(|_, (_, used)| now.duration_since(*used) < ttl);
            if inner.cursors.len() >= MAX_CURSORS {
                if let Some(oldest) = inner
                    .cursors
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| *k)
                {
                    inner.cursors.remove(&oldest);
                }
            }
        }
        let id = inner.next;
        inner.next += 1;
        inner.cursors.insert(id, (resume, now));
        id
    }

    /// The resume position of `cursor`; `None` if unknown or expired. A cursor stays
    /// valid after use, so a client may repeat a SCAN call (e.g. after a timeout).
    pub fn get(&self, cursor: u64) -> Option<Vec<u8>> {
        let mut inner = self.lock();
        let (resume, used) = inner.cursors.get_mut(&cursor)?;
        if used.elapsed() >= self.ttl {
            inner.cursors.remove(&cursor);
            return None;
        }
        *used = Instant::now();
        Some(resume.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_resume_repeatably_and_expire() {
        let table = CursorTable::new(Duration::from_secs(60));
        let c = table.insert(b"k".to_vec());
        assert_ne!(c, 0);
        assert_eq!(table.get(c), Some(b"k".to_vec()));
        assert_eq!(table.get(c), Some(b"k".to_vec()));
        assert_eq!(table.get(c + 1), None);
        let expired = CursorTable::new(Duration::ZERO);
        let c = expired.insert(b"k".to_vec());
        assert_eq!(expired.get(c), None);
    }
}
