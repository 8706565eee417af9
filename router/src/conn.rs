//! One client connection: read, parse every complete request in the buffer, execute
//! them in order, write the replies in one batch, repeat. A protocol error is answered
//! with Redis's text and closes the connection; nothing else does.

use crate::cmd::{self, Session};
use crate::parse::RequestParser;
use crate::Context;
use bytes::BytesMut;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Serves `stream` until the client leaves, sends QUIT, breaks the protocol, or the
/// router shuts down.
pub async fn serve(ctx: Arc<Context>, mut stream: TcpStream, id: u64, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let mut parser = RequestParser::new(ctx.max_bulk_bytes);
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut session = Session {
        id,
        proto: 2,
        name: None,
        quit: false,
    };
    loop {
        let mut close = false;
        loop {
            match parser.next(&mut input) {
                Ok(Some(args)) => {
                    let reply = cmd::dispatch(&ctx, &mut session, args).await;
                    reply.encode(session.proto, &mut output);
                    if session.quit {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    crate::reply::Reply::err(e).encode(session.proto, &mut output);
                    close = true;
                    break;
                }
            }
            if output.len() > 64 * 1024 && stream.write_all(&output).await.is_err() {
                return;
            } else if output.len() > 64 * 1024 {
                output.clear();
            }
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}
