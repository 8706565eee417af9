//! A raw RESP client for byte-level tests: sends commands and returns the exact bytes
//! of each reply, without interpreting them.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};

/// A connection that speaks raw RESP.
pub struct RawClient<S: Read + Write> {
    reader: BufReader<S>,
}

/// Encodes a command as a RESP multibulk request.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl<S: Read + Write> RawClient<S> {
    pub fn new(stream: S) -> Self {
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Sends one command and returns its reply's bytes.
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.send_raw(&encode(args))?;
        self.read_reply()
    }

    /// Reads the bytes of one complete reply.
    pub fn read_reply(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_into(&mut out)?;
        Ok(out)
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        out.extend_from_slice(&line);
        Ok(line)
    }

    fn read_into(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let line = self.read_line(out)?;
        let body = std::str::from_utf8(&line[1..line.len().saturating_sub(2)]).unwrap_or("");
        let count = || body.parse::<i64>().unwrap_or(-1);
        match line[0] {
            b'$' | b'=' | b'!' if count() >= 0 => {
                let mut data = vec![0; count() as usize + 2];
                self.reader.read_exact(&mut data)?;
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..count().max(0) {
                    self.read_into(out)?;
                }
            }
            b'%' | b'|' => {
                for _ in 0..count().max(0) * 2 {
                    self.read_into(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
