//! Per-connection state: protocol version, authentication, name, and the
//! transaction in progress (`MULTI` queue, `WATCH`ed keys).

use crate::cmd::Parsed;
use bytes::Bytes;

/// Per-connection state.
pub struct Session {
    /// The client id.
    pub id: u64,
    /// RESP version in use (2 or 3).
    pub proto: u8,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Close after this reply (QUIT).
    pub quit: bool,
    /// Passed `AUTH` (or no password is configured).
    pub authenticated: bool,
    /// Commands queued since `MULTI`, parsed (a parse error answers at `EXEC`).
    pub multi: Option<Vec<Parsed>>,
    /// A command was refused while queueing: `EXEC` must abort.
    pub multi_failed: bool,
    /// Watched user keys and the version each had when watched.
    pub watches: Vec<(Bytes, Option<Bytes>)>,
}

impl Session {
    /// A fresh session for client `id`.
    pub fn new(id: u64, authenticated: bool) -> Self {
        Self {
            id,
            proto: 2,
            name: None,
            quit: false,
            authenticated,
            multi: None,
            multi_failed: false,
            watches: Vec::new(),
        }
    }
}
