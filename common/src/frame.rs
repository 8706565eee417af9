//! Length-delimited postcard frames: a 4-byte big-endian length, then the postcard body.
//!
//! A frame length from the wire is never trusted for allocation: the body is read through
//! a `take` reader that grows its buffer as bytes actually arrive, and lengths above
//! [`MAX_FRAME_BYTES`] are refused before anything is read.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest internal frame accepted (a snapshot travels in one frame).
pub const MAX_FRAME_BYTES: usize = 1 << 30;

/// The capacity a message being encoded starts with (a frame here, a Raft entry in
/// `raftlog`): postcard pushes byte by byte, and a typical request, reply or entry
/// grown from empty would be reallocated and copied six to a dozen times.
pub const ENCODE_START_BYTES: usize = 1024;

/// Serializes `value` into a complete frame (length prefix included).
///
/// # Errors
/// Fails if postcard cannot serialize the value or it exceeds [`MAX_FRAME_BYTES`].
pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(ENCODE_START_BYTES);
    buf.extend_from_slice(&[0; 4]);
    let body = postcard::to_extend(value, buf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let len = body.len() - 4;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = body;
    body[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(body)
}

/// Decodes a frame body (without its length prefix).
///
/// # Errors
/// Fails if the bytes are not a valid postcard encoding of `T`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> io::Result<T> {
    postcard::from_bytes(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads one frame body; `Ok(None)` on a clean end of stream between frames.
///
/// # Errors
/// I/O errors, a truncated frame, or a declared length above [`MAX_FRAME_BYTES`].
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame length above limit",
        ));
    }
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let read = reader.take(len as u64).read_to_end(&mut body).await?;
    if read != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated frame",
        ));
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_truncation() {
        let frame = encode(&("group", 7u64, vec![1u8, 2, 3])).unwrap();
        let mut reader = &frame[..];
        let body = read_frame(&mut reader).await.unwrap().unwrap();
        let back: (String, u64, Vec<u8>) = decode(&body).unwrap();
        assert_eq!(back, ("group".to_string(), 7, vec![1, 2, 3]));
        assert!(read_frame(&mut reader).await.unwrap().is_none());

        let mut short = &frame[..frame.len() - 1];
        assert!(read_frame(&mut short).await.is_err());
    }

    #[tokio::test]
    async fn huge_declared_length_is_refused_without_allocation() {
        let header = u32::MAX.to_be_bytes();
        let mut reader = &header[..];
        let err = read_frame(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
