//! One client connection. Requests are read and parsed as they arrive; data commands
//! of a pipeline run concurrently (so they share Raft entries and fsyncs), while replies
//! are written strictly in request order. A request that conflicts with one still in
//! flight (a write and another access to the same key, or anything touching the whole
//! keyspace next to a write) first waits for the requests before it, so a connection
//! always observes its own writes in order. A protocol error is answered with Redis's
//! text and closes the connection; nothing else does.

use crate::cmd::Session;
use crate::cmd::{self, Access, Prepared};
use crate::encode::encode;
use crate::parse::RequestParser;
use crate::Context;
use bytes::BytesMut;
use futures::stream::{FuturesOrdered, StreamExt};
use std::sync::Arc;
use tessera_proto::reply::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Most requests of one connection in flight at once.
const MAX_IN_FLIGHT: usize = 1024;
/// Output is flushed to the socket once it grows past this.
const FLUSH_BYTES: usize = 64 * 1024;

type ReplyFuture = futures::future::BoxFuture<'static, (Reply, u8)>;

/// Requests in flight on one connection, completing in order.
struct InFlight {
    replies: FuturesOrdered<ReplyFuture>,
    accesses: Vec<Access>,
    /// Whether a blocking command (`BLPOP`, ...) is among them.
    blocking: bool,
}

impl InFlight {
    fn push_ready(&mut self, reply: Reply, proto: u8) {
        self.replies
            .push_back(Box::pin(async move { (reply, proto) }));
    }

    fn push_pending(
        &mut self,
        fut: futures::future::BoxFuture<'static, Reply>,
        access: Access,
        proto: u8,
    ) {
        self.accesses.push(access);
        self.replies
            .push_back(Box::pin(async move { (fut.await, proto) }));
    }

    fn conflicts(&self, access: &Access) -> bool {
        self.accesses.iter().any(|a| access.conflicts_with(a))
    }

    /// Waits for every request in flight, encoding replies in order.
    async fn drain(
        &mut self,
        stream: &mut OwnedWriteHalf,
        output: &mut BytesMut,
    ) -> std::io::Result<()> {
        while let Some((reply, proto)) = self.replies.next().await {
            encode(&reply, proto, output);
            if output.len() >= FLUSH_BYTES {
                stream.write_all(output).await?;
                output.clear();
            }
        }
        self.accesses.clear();
        self.blocking = false;
        Ok(())
    }
}

/// Serves `stream` until the client leaves, sends QUIT, breaks the protocol, or the
/// router shuts down (which drops the requests in flight: the client sees its
/// connection close, as if the router had crashed).
pub async fn serve(ctx: Arc<Context>, stream: TcpStream, id: u64, shutdown: CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = serve_until_closed(ctx, stream, id) => {}
    }
}

async fn serve_until_closed(ctx: Arc<Context>, stream: TcpStream, id: u64) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut stream) = stream.into_split();
    let mut parser = RequestParser::new(ctx.max_bulk_bytes, ctx.max_request_bytes);
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut session = Session::new(id, ctx.requirepass.is_none());
    let mut in_flight = InFlight {
        replies: FuturesOrdered::new(),
        accesses: Vec::new(),
        blocking: false,
    };
    loop {
        let mut close = false;
        loop {
            match parser.next(&mut input, session.authenticated) {
                Ok(Some(args)) => {
                    ctx.count_command();
                    let blocking = cmd::is_blocking(&args);
                    match cmd::prepare(&ctx, &mut session, args) {
                        Prepared::Ready(reply) => in_flight.push_ready(reply, session.proto),
                        Prepared::Pending(fut, access) => {
                            let must_wait = in_flight.conflicts(&access)
                                || in_flight.replies.len() >= MAX_IN_FLIGHT;
                            if must_wait && in_flight.drain(&mut stream, &mut output).await.is_err()
                            {
                                return;
                            }
                            in_flight.blocking |= blocking;
                            in_flight.push_pending(fut, access, session.proto);
                        }
                        Prepared::Exclusive(command) => {
                            // It reads or changes session state that the requests before
                            // it may still depend on: let them finish first.
                            if in_flight.drain(&mut stream, &mut output).await.is_err() {
                                return;
                            }
                            let reply = cmd::run_exclusive(&ctx, &mut session, command).await;
                            in_flight.push_ready(reply, session.proto);
                        }
                    }
                    if session.quit {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    in_flight.push_ready(Reply::RawError(e.wire_text().into()), session.proto);
                    close = true;
                    break;
                }
            }
        }
        // While a blocked command waits, a client that leaves is noticed (and its
        // place in line given up); what it sends meanwhile waits in the input buffer.
        let watch_input = in_flight.blocking;
        let mut fresh_input = false;
        {
            let drain = in_flight.drain(&mut stream, &mut output);
            tokio::pin!(drain);
            loop {
                tokio::select! {
                    drained = &mut drain => {
                        if drained.is_err() {
                            return;
                        }
                        break;
                    }
                    read = reader.read_buf(&mut input), if watch_input => {
                        if matches!(read, Ok(0) | Err(_)) {
                            return;
                        }
                        fresh_input = true;
                    }
                }
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
        if fresh_input {
            continue; // Requests that came while a blocked command waited.
        }
        match reader.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
