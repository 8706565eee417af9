//! The cluster secret: when configured, every internal connection (Raft, data requests,
//! meta requests) begins with a hello frame that carries it, and a server refuses — and
//! logs — a connection whose first frame is anything else, before reading any request.
//! The secret is set once per process, at start-up.

use crate::frame;
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static SECRET: OnceLock<Vec<u8>> = OnceLock::new();

/// Longest hello frame accepted (a secret of up to about 1 KiB).
const MAX_HELLO: usize = 1100;
/// How long a new connection has to present the secret.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
const MAGIC: [u8; 8] = *b"TESSERA1";

#[derive(Serialize, Deserialize)]
struct Hello {
    magic: [u8; 8],
    #[serde(with = "serde_bytes")]
    secret: Vec<u8>,
}

/// Sets this process's cluster secret.
///
/// # Errors
/// The secret is empty, longer than 1 KiB, or was already set.
pub fn set(secret: Vec<u8>) -> io::Result<()> {
    if secret.is_empty() || secret.len() > 1024 {
        return Err(io::Error::other(
            "the cluster secret must be 1 to 1024 bytes",
        ));
    }
    SECRET
        .set(secret)
        .map_err(|_| io::Error::other("the cluster secret is already set"))
}

fn get() -> Option<&'static [u8]> {
    SECRET.get().map(Vec::as_slice)
}

/// Client side: sends the hello frame if a secret is configured.
///
/// # Errors
/// Write errors.
pub async fn present(stream: &mut TcpStream) -> io::Result<()> {
    let Some(secret) = get() else { return Ok(()) };
    let hello = frame::encode(&Hello {
        magic: MAGIC,
        secret: secret.to_vec(),
    })?;
    stream.write_all(&hello).await
}

/// Server side: true if the connection may proceed (no secret configured, or its first
/// frame carries the right one).
pub async fn verify(stream: &mut TcpStream) -> bool {
    let Some(secret) = get() else { return true };
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_hello(stream)).await;
    match hello {
        Ok(Ok(hello)) => hello.magic == MAGIC && constant_time_eq(&hello.secret, secret),
        _ => false,
    }
}

async fn read_hello(stream: &mut TcpStream) -> io::Result<Hello> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_HELLO {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "hello too large",
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    frame::decode(&body)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
