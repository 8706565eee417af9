//! Length-delimited postcard frames: a 4-byte big-endian length, then the postcard body.
//!
//! A frame length from the wire is never trusted for allocation: the buffer grows as
//! bytes actually arrive, and lengths above [`MAX_FRAME_BYTES`] are refused as soon as
//! their prefix is read.

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

/// How much a [`FrameReader`] asks the socket for at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Reads frames off a byte stream. [`FrameReader::next`] is cancel-safe: everything
/// read is kept in the reader, so a `select!` may drop a read half-way through a frame
/// and the next call goes on where it stopped.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Where the unconsumed bytes of `buf` start.
    start: usize,
    /// The length of the frame last returned, consumed on the next call.
    last: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of the frames on `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            start: 0,
            last: 0,
        }
    }

    /// The next frame's body, borrowed until the next call (nothing is copied);
    /// `Ok(None)` on a clean end of stream between frames.
    ///
    /// # Errors
    /// I/O errors, a truncated frame, or a declared length above [`MAX_FRAME_BYTES`].
    pub async fn next(&mut self) -> io::Result<Option<&[u8]>> {
        self.start += std::mem::take(&mut self.last);
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
            if self.buf.capacity() > 16 * READ_CHUNK {
                self.buf.shrink_to(READ_CHUNK);
            }
        }
        loop {
            if let Some(len) = self.complete()? {
                self.last = 4 + len;
                let body = self.start + 4..self.start + 4 + len;
                return Ok(Some(&self.buf[body]));
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
                // Room for the next read: reuse the consumed front before growing, and
                // give back what a large frame (a snapshot) left behind.
                self.buf.drain(..self.start);
                self.start = 0;
                if self.buf.capacity() > 16 * READ_CHUNK && self.buf.len() < READ_CHUNK {
                    self.buf.shrink_to(READ_CHUNK);
                }
                self.buf.reserve(READ_CHUNK);
            }
            // Cancel-safe: it either reads into `buf` or reads nothing.
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return match self.buf.len() == self.start {
                    true => Ok(None),
                    false => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated frame",
                    )),
                };
            }
        }
    }

    /// The body length of the frame at `start`, if all of it is in the buffer.
    fn complete(&self) -> io::Result<Option<usize>> {
        let pending = &self.buf[self.start..];
        let Some(header) = pending.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame length above limit",
            ));
        }
        Ok((pending.len() >= 4 + len).then_some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn round_trip_and_truncation() {
        let frame = encode(&("group", 7u64, vec![1u8, 2, 3])).unwrap();
        let mut reader = FrameReader::new(&frame[..]);
        let body = reader.next().await.unwrap().unwrap();
        let back: (String, u64, Vec<u8>) = decode(body).unwrap();
        assert_eq!(back, ("group".to_string(), 7, vec![1, 2, 3]));
        assert!(reader.next().await.unwrap().is_none());

        let mut short = FrameReader::new(&frame[..frame.len() - 1]);
        assert!(short.next().await.is_err());
    }

    #[tokio::test]
    async fn huge_declared_length_is_refused_without_allocation() {
        let header = u32::MAX.to_be_bytes();
        let mut reader = FrameReader::new(&header[..]);
        let err = reader.next().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    /// A read dropped half-way through a frame loses nothing: a server's `select!`
    /// drops it whenever a handler finishes first.
    #[tokio::test]
    async fn a_read_cancelled_mid_frame_loses_nothing() {
        let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let frames = [encode(&big).unwrap(), encode(&7u64).unwrap()].concat();
        let (mut tx, rx) = tokio::io::duplex(1024);
        let writer = tokio::spawn(async move {
            for piece in frames.chunks(777) {
                tx.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut reader = FrameReader::new(rx);
        let (mut bodies, mut cancelled) = (Vec::new(), 0);
        while bodies.len() < 2 {
            tokio::select! {
                biased;
                body = reader.next() => bodies.push(body.unwrap().unwrap().to_vec()),
                () = tokio::task::yield_now() => cancelled += 1,
            }
        }
        writer.await.unwrap();
        assert!(
            cancelled > 10,
            "the reads were never cancelled: {cancelled}"
        );
        assert_eq!(decode::<Vec<u8>>(&bodies[0]).unwrap(), big);
        assert_eq!(decode::<u64>(&bodies[1]).unwrap(), 7);
        assert!(reader.next().await.unwrap().is_none());
    }
}
