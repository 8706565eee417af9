//! One client connection. Requests are read and parsed as they arrive; data commands
//! of a pipeline run concurrently (so they share Raft entries and fsyncs), while replies
//! are written strictly in request order. A request that conflicts with one still in
//! flight (a write and another access to the same key, or anything touching the whole
//! keyspace next to a write) first waits for the requests before it, so a connection
//! always observes its own writes in order. Single-key data commands pipelined one
//! after another (all reads or all writes, none conflicting) travel together: one
//! request per range for the run, not one per command. A protocol error is answered
//! with Redis's text and closes the connection; nothing else does.

use crate::clients::ClientHandle;
use crate::cmd::Session;
use crate::cmd::{self, Access, Prepared};
use crate::encode::encode;
use crate::parse::RequestParser;
use crate::Context;
use bytes::BytesMut;
use futures::stream::{FuturesOrdered, StreamExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use tessera_proto::op::Op;
use tessera_proto::reply::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Most requests of one connection in flight at once.
const MAX_IN_FLIGHT: usize = 1024;
/// Output is flushed to the socket once it grows past this.
const FLUSH_BYTES: usize = 64 * 1024;

/// Most single-key data ops of one connection sent together ([`cmd::run_ops`]).
const MAX_RUN: usize = 256;

/// What completes in order on a connection: one request's reply, or those of a run of
/// single-key ops; each with the protocol to encode it in (0: not sent).
enum Done {
    One(Reply, u8),
    Many(Vec<Reply>, Vec<u8>),
}

/// A request's reply to come: known already, a request's future, or the future of a
/// run of ops (not boxed again: one allocation per request fewer).
enum ReplyFuture {
    Ready(Option<Reply>, u8),
    Pending(futures::future::BoxFuture<'static, Reply>, u8),
    Run(futures::future::BoxFuture<'static, Vec<Reply>>, Vec<u8>),
}

impl std::future::Future for ReplyFuture {
    type Output = Done;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Done> {
        match self.get_mut() {
            ReplyFuture::Ready(reply, proto) => Poll::Ready(Done::One(
                reply
                    .take()
                    .expect("a reply future polled after it completed"),
                *proto,
            )),
            ReplyFuture::Pending(fut, proto) => {
                fut.as_mut().poll(cx).map(|reply| Done::One(reply, *proto))
            }
            ReplyFuture::Run(fut, protos) => fut
                .as_mut()
                .poll(cx)
                .map(|replies| Done::Many(replies, std::mem::take(protos))),
        }
    }
}

/// Single-key data ops pipelined one after another, all reads or all writes, none
/// touching a key another touches (a conflict ends the run): sent as one request per
/// range instead of one per op, before any request after them.
struct Run {
    write: bool,
    ops: Vec<Op>,
    recorders: Vec<cmd::Recorder>,
    protos: Vec<u8>,
}

/// Requests in flight on one connection, completing in order.
struct InFlight {
    replies: FuturesOrdered<ReplyFuture>,
    /// The ops being collected into a run, not started yet.
    run: Option<Run>,
    /// Requests in flight, counting each op of a run.
    requests: usize,
    accesses: Vec<Access>,
    /// Whether a blocking command (`BLPOP`, ...) is among them.
    blocking: bool,
}

impl InFlight {
    fn new() -> Self {
        Self {
            replies: FuturesOrdered::new(),
            run: None,
            requests: 0,
            accesses: Vec::new(),
            blocking: false,
        }
    }

    fn push_ready(&mut self, ctx: &Arc<Context>, reply: Reply, proto: u8) {
        self.start_run(ctx);
        self.replies
            .push_back(ReplyFuture::Ready(Some(reply), proto));
    }

    fn push_pending(
        &mut self,
        ctx: &Arc<Context>,
        fut: futures::future::BoxFuture<'static, Reply>,
        access: Access,
        proto: u8,
    ) {
        self.start_run(ctx);
        self.accesses.push(access);
        self.requests += 1;
        self.replies.push_back(ReplyFuture::Pending(fut, proto));
    }

    /// Adds a single-key op to the run being collected (starting the run before it
    /// first if the op is of the other kind or the run is full).
    fn push_op(
        &mut self,
        ctx: &Arc<Context>,
        op: Op,
        access: Access,
        recorder: cmd::Recorder,
        proto: u8,
    ) {
        if self
            .run
            .as_ref()
            .is_some_and(|run| run.write != access.write || run.ops.len() >= MAX_RUN)
        {
            self.start_run(ctx);
        }
        let run = self.run.get_or_insert_with(|| Run {
            write: access.write,
            ops: Vec::new(),
            recorders: Vec::new(),
            protos: Vec::new(),
        });
        run.ops.push(op);
        run.recorders.push(recorder);
        run.protos.push(proto);
        self.accesses.push(access);
        self.requests += 1;
    }

    /// Starts the run being collected, if any, in its place in line.
    fn start_run(&mut self, ctx: &Arc<Context>) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        if run.ops.len() == 1 {
            // Alone (no pipeline): the path of one op, which costs fewer allocations.
            let (op, recorder) = run.ops.pop().zip(run.recorders.pop()).expect("one op");
            let fut = cmd::run_op(ctx, op, recorder);
            self.replies
                .push_back(ReplyFuture::Pending(fut, run.protos[0]));
        } else {
            let fut = cmd::run_ops(ctx, run.ops, run.recorders);
            self.replies.push_back(ReplyFuture::Run(fut, run.protos));
        }
    }

    /// Before a request with `access` joins: waits for those in flight if it conflicts
    /// with one of them, or if there are as many as a connection may have.
    async fn make_room(
        &mut self,
        ctx: &Arc<Context>,
        access: &Access,
        stream: &mut OwnedWriteHalf,
        output: &mut BytesMut,
    ) -> std::io::Result<()> {
        let conflicts = self.accesses.iter().any(|a| access.conflicts_with(a));
        if conflicts || self.requests >= MAX_IN_FLIGHT {
            self.drain(ctx, stream, output).await?;
        }
        Ok(())
    }

    /// Waits for every request in flight, encoding replies in order (those of
    /// protocol 0 are not sent: `CLIENT REPLY OFF|SKIP`).
    async fn drain(
        &mut self,
        ctx: &Arc<Context>,
        stream: &mut OwnedWriteHalf,
        output: &mut BytesMut,
    ) -> std::io::Result<()> {
        self.start_run(ctx);
        while let Some(done) = self.replies.next().await {
            match done {
                Done::One(reply, proto) => encode_sent(&reply, proto, output),
                Done::Many(replies, protos) => {
                    for (reply, proto) in replies.iter().zip(protos) {
                        encode_sent(reply, proto, output);
                    }
                }
            }
            if output.len() >= FLUSH_BYTES {
                flush(ctx, stream, output).await?;
            }
        }
        self.accesses.clear();
        self.requests = 0;
        self.blocking = false;
        Ok(())
    }
}

/// Encodes `reply` unless its protocol is 0 (not sent).
fn encode_sent(reply: &Reply, proto: u8, output: &mut BytesMut) {
    if proto != 0 {
        encode(reply, proto, output);
    }
}

/// Writes `output` to the client and empties it.
async fn flush(
    ctx: &Context,
    stream: &mut OwnedWriteHalf,
    output: &mut BytesMut,
) -> std::io::Result<()> {
    stream.write_all(output).await?;
    ctx.net_output_bytes
        .fetch_add(output.len() as u64, Ordering::Relaxed);
    output.clear();
    Ok(())
}

/// Reads more of the client's requests; `false` when it left.
async fn read_more(ctx: &Context, reader: &mut OwnedReadHalf, input: &mut BytesMut) -> bool {
    match reader.read_buf(input).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            ctx.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
            true
        }
    }
}

/// Serves `stream` until the client leaves, sends QUIT, breaks the protocol, is killed
/// (`CLIENT KILL`), or the router shuts down (which drops the requests in flight: the
/// client sees its connection close, as if the router had crashed).
pub async fn serve(ctx: Arc<Context>, stream: TcpStream, id: u64, shutdown: CancellationToken) {
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let client = Arc::new(ClientHandle::new(id, addr, laddr));
    ctx.clients.add(client.clone());
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = client.kill.cancelled() => {}
        _ = serve_until_closed(&ctx, stream, client.clone()) => {}
    }
    ctx.clients.remove(id);
}

async fn serve_until_closed(ctx: &Arc<Context>, stream: TcpStream, client: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut stream) = stream.into_split();
    let mut parser = RequestParser::new(ctx.max_bulk_bytes, ctx.max_request_bytes);
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut session = Session::new(client, ctx.requirepass.is_none());
    let mut in_flight = InFlight::new();
    loop {
        let mut close = false;
        loop {
            match parser.next(&mut input, session.authenticated) {
                Ok(Some(args)) => {
                    ctx.count_command();
                    let entry = cmd::entry_of(&args);
                    let spec = entry.map(|e| e.spec);
                    if ctx.clients.paused().is_some() && spec.is_some_and(|s| s.name != "client") {
                        // CLIENT PAUSE holds it (CLIENT itself passes, to UNPAUSE).
                        let write = spec.is_some_and(|s| s.is_write());
                        ctx.clients.wait_unpaused(write).await;
                    }
                    let blocking = spec.is_some_and(|s| s.flags.contains(&"blocking"));
                    let silent =
                        session.replies_off || std::mem::take(&mut session.skip_next_reply);
                    let prepared = cmd::prepare(ctx, &mut session, entry, args);
                    let send = session.reply_override.take().unwrap_or(!silent);
                    let proto = if send { session.proto } else { 0 };
                    match prepared {
                        Prepared::Ready(reply) => in_flight.push_ready(ctx, reply, proto),
                        Prepared::Op(op, access, recorder) => {
                            let room = in_flight.make_room(ctx, &access, &mut stream, &mut output);
                            if room.await.is_err() {
                                return;
                            }
                            in_flight.push_op(ctx, op, access, recorder, proto);
                        }
                        Prepared::Pending(fut, access) => {
                            let room = in_flight.make_room(ctx, &access, &mut stream, &mut output);
                            if room.await.is_err() {
                                return;
                            }
                            in_flight.blocking |= blocking;
                            in_flight.push_pending(ctx, fut, access, proto);
                        }
                        Prepared::Exclusive(command, recorder) => {
                            // It reads or changes session state that the requests before
                            // it may still depend on: let them finish first.
                            if in_flight
                                .drain(ctx, &mut stream, &mut output)
                                .await
                                .is_err()
                            {
                                return;
                            }
                            let reply =
                                cmd::run_exclusive(ctx, &mut session, command, recorder).await;
                            in_flight.push_ready(ctx, reply, proto);
                        }
                    }
                    if session.quit || session.monitor.is_some() {
                        close = session.quit;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let reply = Reply::RawError(e.wire_text().into());
                    ctx.stats.count_error(&reply);
                    in_flight.push_ready(ctx, reply, session.proto);
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
            let drain = in_flight.drain(ctx, &mut stream, &mut output);
            tokio::pin!(drain);
            loop {
                tokio::select! {
                    drained = &mut drain => {
                        if drained.is_err() {
                            return;
                        }
                        break;
                    }
                    read = read_more(ctx, &mut reader, &mut input), if watch_input => {
                        if !read {
                            return;
                        }
                        fresh_input = true;
                    }
                }
            }
        }
        if !output.is_empty() && flush(ctx, &mut stream, &mut output).await.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        if session.monitor.is_some() {
            let go_on = monitor(
                ctx,
                &mut session,
                &mut parser,
                &mut reader,
                &mut input,
                &mut stream,
            );
            if !go_on.await {
                let _ = stream.shutdown().await;
                return;
            }
            continue;
        }
        if fresh_input {
            continue; // Requests that came while a blocked command waited.
        }
        if !read_more(ctx, &mut reader, &mut input).await {
            return;
        }
    }
}

/// `MONITOR` mode: forwards every command the router receives until the client sends
/// `RESET` (back to normal: `true`) or `QUIT` or leaves (`false`). Like a Redis
/// monitor, it answers `PING` and refuses commands on the keyspace.
async fn monitor(
    ctx: &Arc<Context>,
    session: &mut Session,
    parser: &mut RequestParser,
    reader: &mut OwnedReadHalf,
    input: &mut BytesMut,
    stream: &mut OwnedWriteHalf,
) -> bool {
    let mut output = BytesMut::new();
    loop {
        loop {
            let args = match parser.next(input, session.authenticated) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(_) => return false,
            };
            let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
            let reply = match name.as_str() {
                "quit" => {
                    encode(&Reply::Ok, session.proto, &mut output);
                    let _ = flush(ctx, stream, &mut output).await;
                    return false;
                }
                "reset" | "ping" => {
                    let reply = cmd::prepare(ctx, session, cmd::entry_of(&args), args);
                    match reply {
                        Prepared::Ready(reply) => reply,
                        _ => Reply::Status("PONG".into()),
                    }
                }
                _ => Reply::err("Replica can't interact with the keyspace"),
            };
            encode(&reply, session.proto, &mut output);
            if session.monitor.is_none() {
                return flush(ctx, stream, &mut output).await.is_ok();
            }
        }
        if !output.is_empty() && flush(ctx, stream, &mut output).await.is_err() {
            return false;
        }
        let Some(lines) = session.monitor.as_mut() else {
            return true;
        };
        tokio::select! {
            line = lines.lines.recv() => match line {
                Ok(line) => output.extend_from_slice(&line),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
            },
            read = read_more(ctx, reader, input) => {
                if !read {
                    return false;
                }
            }
        }
    }
}
