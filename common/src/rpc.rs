//! Multiplexed request/response RPC over one TCP connection per peer.
//!
//! Every frame is an [`Envelope`] carrying a request id; responses may come back in any
//! order, so many requests (from many Raft groups and client commands) share one
//! connection. The client connects lazily and reconnects on the next call after a
//! failure; a request never waits longer than the timeout its caller gives. A
//! connection's reader and writer tasks belong to the client: dropping the client (or
//! [`RpcClient::close`]) stops them.
//!
//! A service listener carries two kinds of messages, [`Wire::Service`] (what clients
//! of the service ask: data requests, catalog requests) and [`Wire::Peer`] (what the
//! service's own members tell each other: Raft traffic). Their types are declared
//! apart — the service's contract in `proto`, its peer messages in its own crate — and
//! a [`ServiceClient`] speaks the service half alone.

use crate::frame;
use crate::hash::FastMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One request or response on the wire.
#[derive(Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Matches a response to its request.
    pub id: u64,
    /// The message.
    pub body: T,
}

/// One message on a service's listener: a request from a client of the service, or a
/// message between the service's members.
#[derive(Debug, Serialize, Deserialize)]
pub enum Wire<S, P> {
    /// Client-facing.
    Service(S),
    /// Between members.
    Peer(P),
}

/// The same encoding as [`Wire`], by reference (to send without cloning).
#[derive(Serialize)]
enum WireRef<'a, S, P> {
    Service(&'a S),
    Peer(&'a P),
}

/// The half of a [`Wire`] a client never uses.
#[derive(Debug, Serialize, Deserialize)]
pub enum Never {}

/// Why an RPC did not produce a response. All but [`RpcError::Connect`] and
/// [`RpcError::NotRun`] mean "unknown outcome" for writes.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The peer could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The peer address.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// No response arrived in time.
    #[error("no response from {addr} within {timeout:?}")]
    Timeout {
        /// The peer address.
        addr: String,
        /// The budget that passed.
        timeout: Duration,
    },
    /// The connection closed before the response arrived.
    #[error("connection to {0} lost")]
    ConnectionLost(String),
    /// The request could not be encoded.
    #[error("cannot encode request: {0}")]
    Encode(io::Error),
    /// The peer stopped and said it did not run the request (it answered everything it
    /// ran before closing): safe to send again, here or elsewhere, even a write.
    #[error("{0} stopped before running the request")]
    NotRun(String),
    /// The response arrived but this build cannot decode it (a newer peer's).
    #[error("cannot decode the response from {addr}: {reason}")]
    Decode {
        /// The peer address.
        addr: String,
        /// What the decoder said.
        reason: String,
    },
}

/// The calls waiting on a connection, by id: each gets its response, or why it
/// cannot be read.
type Pending<Resp> = Arc<Mutex<FastMap<u64, oneshot::Sender<Result<Resp, RpcError>>>>>;

struct Connection<Resp> {
    next_id: AtomicU64,
    pending: Pending<Resp>,
    outbound: mpsc::UnboundedSender<Vec<u8>>,
    alive: Arc<AtomicBool>,
    /// The reader and writer tasks; aborted when the connection is dropped.
    tasks: std::sync::Mutex<JoinSet<()>>,
}

/// A lazily connected, multiplexing client for one peer address.
pub struct RpcClient<Req, Resp> {
    addr: String,
    conn: tokio::sync::Mutex<Option<Arc<Connection<Resp>>>>,
    _req: PhantomData<fn(Req)>,
}

impl<Req, Resp> RpcClient<Req, Resp>
where
    Req: Serialize,
    Resp: DeserializeOwned + Send + 'static,
{
    /// A client for `addr`; nothing is connected until the first call.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            conn: tokio::sync::Mutex::new(None),
            _req: PhantomData,
        }
    }

    /// The peer address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `req` and waits at most `timeout` (connecting included) for its response.
    ///
    /// # Errors
    /// [`RpcError`] when the peer is unreachable, slow, or drops the connection.
    pub async fn call(&self, req: &Req, timeout: Duration) -> Result<Resp, RpcError> {
        self.call_encoded(req, timeout).await
    }

    /// Closes the connection (if any) and waits for its tasks to stop.
    pub async fn close(&self) {
        let conn = self.conn.lock().await.take();
        if let Some(conn) = conn {
            let mut tasks = std::mem::take(&mut *lock(&conn.tasks));
            tasks.shutdown().await;
        }
    }

    /// [`RpcClient::call`] with any value that encodes like a `Req`.
    async fn call_encoded<Q: Serialize + ?Sized>(
        &self,
        req: &Q,
        timeout: Duration,
    ) -> Result<Resp, RpcError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let conn = tokio::time::timeout_at(deadline, self.connection())
            .await
            .map_err(|_| self.timeout_error(timeout))??;
        let id = conn.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = frame::encode(&Envelope { id, body: req }).map_err(RpcError::Encode)?;
        let (tx, rx) = oneshot::channel();
        lock(&conn.pending).insert(id, tx);
        // The reader marks the connection dead before it fails what is pending: a call
        // registered after that must see it here, or it would wait for nothing. Either
        // way this request never left.
        if !conn.alive.load(Ordering::Acquire) || conn.outbound.send(frame).is_err() {
            lock(&conn.pending).remove(&id);
            return Err(RpcError::NotRun(self.addr.clone()));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(_)) => Err(RpcError::ConnectionLost(self.addr.clone())),
            Err(_) => {
                lock(&conn.pending).remove(&id);
                Err(self.timeout_error(timeout))
            }
        }
    }

    fn timeout_error(&self, timeout: Duration) -> RpcError {
        RpcError::Timeout {
            addr: self.addr.clone(),
            timeout,
        }
    }

    async fn connection(&self) -> Result<Arc<Connection<Resp>>, RpcError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            if conn.alive.load(Ordering::Acquire) {
                return Ok(conn.clone());
            }
        }
        let connect_error = |source| RpcError::Connect {
            addr: self.addr.clone(),
            source,
        };
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .map_err(connect_error)?;
        let _ = stream.set_nodelay(true);
        crate::secret::present(&mut stream)
            .await
            .map_err(connect_error)?;
        let conn = Arc::new(spawn_connection(stream, &self.addr));
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn spawn_connection<Resp: DeserializeOwned + Send + 'static>(
    stream: TcpStream,
    addr: &str,
) -> Connection<Resp> {
    let (read_half, write_half) = stream.into_split();
    let (outbound, rx) = mpsc::unbounded_channel();
    let alive = Arc::new(AtomicBool::new(true));
    let pending: Pending<Resp> = Arc::default();
    let mut tasks = JoinSet::new();
    let closing = CancellationToken::new();
    tasks.spawn(write_frames(write_half, rx, alive.clone(), closing.clone()));
    let (reader_pending, reader_alive) = (pending.clone(), alive.clone());
    let addr = addr.to_owned();
    tasks.spawn(async move {
        let mut reader = frame::FrameReader::new(read_half);
        // Set by the server's goodbye: what it has not answered, it did not run.
        let mut gone_away = false;
        // Fails every pending call: with `NotRun`, unless the goodbye says the server
        // may have run it (or there was no readable goodbye).
        let fail_pending = |gone_away: bool, unknown: &[u64]| {
            reader_alive.store(false, Ordering::Release);
            for (id, tx) in lock(&reader_pending).drain() {
                let _ = tx.send(Err(if gone_away && !unknown.contains(&id) {
                    RpcError::NotRun(addr.clone())
                } else {
                    RpcError::ConnectionLost(addr.clone())
                }));
            }
        };
        while let Ok(Some(body)) = reader.next().await {
            if envelope_id(body) == Some(GOING_AWAY) {
                // The server is stopping and runs nothing more sent here: close this
                // side too, so that it can close cleanly.
                closing.cancel();
                match frame::decode::<Envelope<Vec<u64>>>(body) {
                    Ok(goodbye) => {
                        gone_away = true;
                        fail_pending(true, &goodbye.body);
                    }
                    Err(_) => fail_pending(false, &[]),
                }
                continue;
            }
            match frame::decode::<Envelope<Resp>>(body) {
                Ok(envelope) => {
                    if let Some(tx) = lock(&reader_pending).remove(&envelope.id) {
                        let _ = tx.send(Ok(envelope.body));
                    }
                }
                // A response this build cannot read (a newer peer's): its call fails,
                // the connection and the calls sharing it go on.
                Err(e) => match envelope_id(body) {
                    Some(id) => {
                        tracing::warn!(id, error = %e, "undecodable RPC response; failing that call");
                        if let Some(tx) = lock(&reader_pending).remove(&id) {
                            let _ = tx.send(Err(RpcError::Decode {
                                addr: addr.clone(),
                                reason: e.to_string(),
                            }));
                        }
                    }
                    None => {
                        tracing::warn!(error = %e, "undecodable RPC response; closing connection");
                        break;
                    }
                },
            }
        }
        // Calls made after the goodbye were sent to a server that no longer ran them.
        fail_pending(gone_away, &[]);
    });
    Connection {
        next_id: AtomicU64::new(1),
        pending,
        outbound,
        alive,
        tasks: std::sync::Mutex::new(tasks),
    }
}

/// Declares a client of one half of a service's [`Wire`]: `$half` is the variant it
/// speaks, `$other` the one it never sees.
macro_rules! half_client {
    ($(#[$doc:meta])* $name:ident, $half:ident, $other:ident, wire: |$q:ident| $wrap:expr,
     $req:ident, $resp:ident) => {
        $(#[$doc])*
        pub struct $name<$req, $resp> {
            inner: RpcClient<half_client!(@wire $half $req), half_client!(@wire $half $resp)>,
        }

        impl<$req, $resp> $name<$req, $resp>
        where
            $req: Serialize,
            $resp: DeserializeOwned + Send + 'static,
        {
            /// A client for `addr`; nothing is connected until the first call.
            pub fn new(addr: impl Into<String>) -> Self {
                Self {
                    inner: RpcClient::new(addr),
                }
            }

            /// The peer address.
            pub fn addr(&self) -> &str {
                self.inner.addr()
            }

            /// Sends a request and waits at most `timeout` (connecting included) for
            /// the answer.
            ///
            /// # Errors
            /// [`RpcError`] when the peer is unreachable, slow, or drops the connection.
            pub async fn call(&self, $q: &$req, timeout: Duration) -> Result<$resp, RpcError> {
                match self.inner.call_encoded(&$wrap, timeout).await? {
                    Wire::$half(resp) => Ok(resp),
                    Wire::$other(never) => match never {},
                }
            }

            /// Closes the connection (if any) and waits for its tasks to stop.
            pub async fn close(&self) {
                self.inner.close().await;
            }
        }

        impl<$req, $resp> crate::directory::AddressedClient for $name<$req, $resp>
        where
            $req: Serialize + Send + Sync + 'static,
            $resp: DeserializeOwned + Send + 'static,
        {
            fn connect(addr: String) -> Self {
                Self::new(addr)
            }
            fn address(&self) -> &str {
                self.addr()
            }
        }
    };
    (@wire Service $t:ident) => { Wire<$t, Never> };
    (@wire Peer $t:ident) => { Wire<Never, $t> };
}

half_client!(
    /// A client of a service's client-facing half ([`Wire::Service`]).
    ServiceClient, Service, Peer, wire: |req| WireRef::<Req, Never>::Service(req), Req, Resp
);

half_client!(
    /// A client of a service's members' half ([`Wire::Peer`]).
    PeerClient, Peer, Service, wire: |msg| WireRef::<Never, Msg>::Peer(msg), Msg, Reply
);

/// The id of an envelope whose body may not decode (it is encoded first).
fn envelope_id(body: &[u8]) -> Option<u64> {
    postcard::take_from_bytes::<u64>(body)
        .ok()
        .map(|(id, _)| id)
}

/// Writes queued frames, flushing only when the queue is empty so that bursts of
/// requests share one syscall, until the queue closes or `closing` (what is queued
/// then is not written); then closes the write side.
async fn write_frames<W: tokio::io::AsyncWrite + Unpin>(
    writer: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    alive: Arc<AtomicBool>,
    closing: CancellationToken,
) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    'outer: loop {
        let frame = tokio::select! {
            biased;
            _ = closing.cancelled() => break,
            frame = rx.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
        };
        if writer.write_all(&frame).await.is_err() {
            break;
        }
        while let Ok(frame) = rx.try_recv() {
            if writer.write_all(&frame).await.is_err() {
                break 'outer;
            }
        }
        if writer.flush().await.is_err() {
            break;
        }
    }
    alive.store(false, Ordering::Release);
    let _ = writer.shutdown().await;
}

/// The server side of an RPC protocol: one handler call per request, run concurrently.
pub trait RpcService: Send + Sync + 'static {
    /// Requests this service accepts.
    type Req: DeserializeOwned + Send + 'static;
    /// Responses it sends.
    type Resp: Serialize + Send + 'static;
    /// Handles one request.
    fn handle(self: Arc<Self>, req: Self::Req) -> impl Future<Output = Self::Resp> + Send;

    /// Whether a stopping server may drop a handler for `req` unfinished and tell its
    /// caller it did not run ([`RpcError::NotRun`]): the caller loses nothing by that
    /// (a read, a long poll, a message of a protocol that tolerates lost messages). A
    /// stopping server still runs such requests while it waits, up to [`DRAIN`], for
    /// the other handlers under way; it runs no other new request.
    fn may_abandon(_req: &Self::Req) -> bool {
        false
    }
}

/// How long a stopping server waits for the handlers it must not abandon (writes under
/// way); the callers of those still running then are told their outcome is unknown.
pub const DRAIN: Duration = Duration::from_secs(1);

/// How long a stopping server waits for a peer to close its side after the goodbye
/// (closing with unread bytes would reset the connection, and could discard the
/// answers and the goodbye not yet delivered).
const LINGER: Duration = Duration::from_millis(500);

/// The id of the goodbye, the frame a stopping server sends last on each connection
/// (callers number their requests from 1). Its body lists the requests it may have run
/// without answering them; every other request it has not answered, it did not run.
const GOING_AWAY: u64 = 0;

/// How many unanswered requests (a handler that panicked, an answer that could not be
/// encoded) a connection remembers for its goodbye: their callers time out long before
/// older ones would matter.
const UNANSWERED_KEPT: usize = 1024;

/// Accepts connections on `listener` and serves `service` until `shutdown` fires; then
/// stops accepting, and runs no new request but those [`RpcService::may_abandon`]
/// allows. On each connection it waits (up to [`DRAIN`]) for the other handlers under
/// way to answer, abandons the rest, says goodbye (naming what may have run without an
/// answer), and closes; it returns when all are closed.
pub async fn serve<S: RpcService>(
    listener: TcpListener,
    service: Arc<S>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, service.clone(), shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    // Each connection is bounded (drain, write, linger); this bound only guards that.
    let all = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN * 2 + LINGER * 2, all)
        .await
        .is_err()
    {
        connections.shutdown().await;
    }
}

async fn serve_connection<S: RpcService>(
    mut stream: TcpStream,
    service: Arc<S>,
    shutdown: CancellationToken,
) {
    let verified = tokio::select! {
        verified = crate::secret::verify(&mut stream) => verified,
        _ = shutdown.cancelled() => return,
    };
    if !verified {
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::warn!(%peer, "refused internal connection: missing or wrong cluster secret");
        return;
    }
    let (read_half, write_half) = stream.into_split();
    let (outbound, rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut writer = tokio::spawn(write_frames(
        write_half,
        rx,
        Arc::new(AtomicBool::new(true)),
        CancellationToken::new(),
    ));
    let mut reader = frame::FrameReader::new(read_half);
    // Handlers to wait for when stopping (each yields its request id and whether it
    // answered), and handlers that may be abandoned.
    let (mut handlers, mut abandonable) = (JoinSet::<(u64, bool)>::new(), JoinSet::new());
    // Ids of the requests `handlers` runs, and of those that ended unanswered.
    let (mut running, mut unanswered) = (FastMap::<u64, ()>::default(), Vec::<u64>::new());
    // Whether the peer may still send, and the end of the drain once stopping.
    let mut open = true;
    let mut stopping: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        match &stopping {
            Some(_) if handlers.is_empty() => break,
            None if !open && handlers.is_empty() && abandonable.is_empty() => break,
            _ => {}
        }
        let body = tokio::select! {
            // Stopping comes first: from then on no request that changes state runs.
            biased;
            _ = shutdown.cancelled(), if stopping.is_none() => {
                stopping = Some(Box::pin(tokio::time::sleep(DRAIN)));
                continue;
            }
            Some(done) = handlers.join_next(), if !handlers.is_empty() => {
                if let Ok((id, answered)) = done {
                    running.remove(&id);
                    if !answered {
                        if unanswered.len() == UNANSWERED_KEPT {
                            unanswered.drain(..UNANSWERED_KEPT / 2);
                        }
                        unanswered.push(id);
                    }
                }
                continue;
            }
            Some(_) = abandonable.join_next(), if !abandonable.is_empty() => continue,
            () = async { if let Some(end) = stopping.as_mut() { end.await } },
                if stopping.is_some() => break,
            read = reader.next(), if open => match read {
                Ok(Some(body)) => body,
                read => {
                    if let Err(e) = read {
                        tracing::debug!(error = %e, "RPC connection closed");
                    }
                    // The peer may still wait for answers to what it sent.
                    open = false;
                    continue;
                }
            },
        };
        let envelope = match frame::decode::<Envelope<S::Req>>(body) {
            Ok(envelope) => envelope,
            // A request this build does not know (a newer peer's, during a rolling
            // upgrade): frames are length-delimited, so skip it and serve the rest of
            // the connection; its caller times out.
            Err(e) => {
                tracing::warn!(id = envelope_id(body), error = %e, "undecodable RPC request; skipped");
                continue;
            }
        };
        let abandon = S::may_abandon(&envelope.body);
        if stopping.is_some() && !abandon {
            continue; // Stopping: not run, and the goodbye will say so.
        }
        let id = envelope.id;
        let run = answer(service.clone(), envelope, outbound.clone());
        if abandon {
            abandonable.spawn(run);
        } else {
            running.insert(id, ());
            handlers.spawn(run);
        }
    }
    abandonable.shutdown().await;
    handlers.shutdown().await;
    if stopping.is_some() {
        // Still running at the end of the drain: they may yet take effect.
        unanswered.extend(running.keys());
        match frame::encode(&Envelope {
            id: GOING_AWAY,
            body: &unanswered,
        }) {
            Ok(frame) => {
                let _ = outbound.send(frame);
            }
            Err(e) => tracing::error!(error = %e, "cannot encode the RPC goodbye"),
        }
    }
    drop(outbound);
    // Every answer and the goodbye are written, unless the peer stopped reading.
    if tokio::time::timeout(DRAIN, &mut writer).await.is_err() {
        writer.abort();
    }
    if open && stopping.is_some() {
        // Until the peer closes its side: what it still sends is not run.
        let discard = async { while let Ok(Some(_)) = reader.next().await {} };
        let _ = tokio::time::timeout(LINGER, discard).await;
    }
}

/// Runs one request and queues its answer: yields its id and whether it was answered
/// (not when the handler panicked or the answer could not be encoded).
async fn answer<S: RpcService>(
    service: Arc<S>,
    envelope: Envelope<S::Req>,
    outbound: mpsc::UnboundedSender<Vec<u8>>,
) -> (u64, bool) {
    use futures::FutureExt;
    let id = envelope.id;
    let handled = std::panic::AssertUnwindSafe(service.handle(envelope.body))
        .catch_unwind()
        .await;
    let Ok(body) = handled else {
        tracing::error!(id, "RPC handler panicked");
        return (id, false);
    };
    match frame::encode(&Envelope { id, body }) {
        Ok(frame) => (id, outbound.send(frame).is_ok()),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode RPC response");
            (id, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Doubler;
    impl RpcService for Doubler {
        type Req = (u64, u64);
        type Resp = u64;
        async fn handle(self: Arc<Self>, (value, delay_ms): (u64, u64)) -> u64 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            value * 2
        }
    }

    /// A [`Doubler`] server on a free port: its address, its shutdown and its task.
    async fn doubler() -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, Arc::new(Doubler), shutdown.clone()));
        (addr, shutdown, server)
    }

    /// Sends `req` (answered after its delay) and returns once it is on the wire.
    async fn in_flight<Resp: DeserializeOwned + Send + 'static>(
        client: &Arc<RpcClient<(u64, u64), Resp>>,
        req: (u64, u64),
    ) -> tokio::task::JoinHandle<Result<Resp, RpcError>> {
        let call = {
            let client = client.clone();
            tokio::spawn(async move { client.call(&req, Duration::from_secs(5)).await })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let conn = client.conn.lock().await.clone();
            if conn.is_some_and(|c| !lock(&c.pending).is_empty()) {
                return call;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the call never left"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn an_undecodable_request_fails_alone_and_the_connection_serves_on() {
        let (addr, shutdown, server) = doubler().await;
        let client = Arc::new(RpcClient::<(u64, u64), u64>::new(addr));
        let slow = in_flight(&client, (21, 300)).await;
        // Twelve 0xFF bytes are no pair of varints: the server cannot decode them. A
        // request right behind them on the connection is still read and answered.
        let (unknown, next) = tokio::join!(
            client.call_encoded(&[0xFFu8; 12], Duration::from_millis(200)),
            client.call(&(5, 0), Duration::from_secs(5)),
        );
        let err = unknown.unwrap_err();
        assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
        assert_eq!(next.unwrap(), 10);
        assert_eq!(slow.await.unwrap().unwrap(), 42);
        shutdown.cancel();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_undecodable_response_fails_its_call_alone() {
        let (addr, shutdown, server) = doubler().await;
        // This client expects a `bool`: 0 and 1 decode, a doubled 21 does not.
        let client = Arc::new(RpcClient::<(u64, u64), bool>::new(addr));
        let slow = in_flight(&client, (0, 300)).await;
        let err = client
            .call(&(21, 0), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::Decode { .. }), "{err}");
        assert!(!slow.await.unwrap().unwrap());
        shutdown.cancel();
        server.await.unwrap();
    }

    /// Doubles `value` after `ms`, panics on 99, counts the requests it started, and
    /// lets a stopping server abandon those flagged so.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicUsize);
    type CountingReq = (u64, bool, u64);
    impl RpcService for Counting {
        type Req = CountingReq;
        type Resp = u64;
        async fn handle(self: Arc<Self>, (value, _, ms): CountingReq) -> u64 {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            assert_ne!(value, 99, "asked to panic");
            value * 2
        }
        fn may_abandon((_, abandon, _): &CountingReq) -> bool {
            *abandon
        }
    }

    /// A [`Counting`] server, a client of it, and a way to make calls in the background.
    struct Stopping {
        service: Arc<Counting>,
        shutdown: CancellationToken,
        server: tokio::task::JoinHandle<()>,
        client: Arc<RpcClient<CountingReq, u64>>,
    }

    impl Stopping {
        async fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let (service, shutdown) = (Arc::new(Counting::default()), CancellationToken::new());
            let server = tokio::spawn(serve(listener, service.clone(), shutdown.clone()));
            let client = Arc::new(RpcClient::new(addr));
            Self {
                service,
                shutdown,
                server,
                client,
            }
        }

        fn call(&self, req: CountingReq) -> tokio::task::JoinHandle<Result<u64, RpcError>> {
            let client = self.client.clone();
            tokio::spawn(async move { client.call(&req, Duration::from_secs(10)).await })
        }

        /// Sends `first` and `second`, stops the server once both run, and sends a
        /// third request after the stop began: the three calls.
        async fn stop_during(
            &self,
            first: CountingReq,
            second: CountingReq,
        ) -> [tokio::task::JoinHandle<Result<u64, RpcError>>; 3] {
            let (first, second) = (self.call(first), self.call(second));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while self.service.0.load(Ordering::SeqCst) < 2 {
                assert!(tokio::time::Instant::now() < deadline, "never started");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.shutdown.cancel();
            [first, second, self.call((3, false, 0))]
        }
    }

    #[tokio::test]
    async fn a_stopping_server_answers_what_it_runs_and_says_what_it_did_not() {
        let s = Stopping::start().await;
        // The third, sent after the stop began, is read but never run.
        let [write, read, late] = s.stop_during((1, false, 300), (2, true, 10_000)).await;
        let answer = write.await.unwrap().unwrap();
        assert_eq!(answer, 2, "a write under way is answered");
        let err = read.await.unwrap().unwrap_err();
        assert!(matches!(err, RpcError::NotRun(_)), "{err}");
        let err = late.await.unwrap().unwrap_err();
        assert!(matches!(err, RpcError::NotRun(_)), "{err}");
        s.server.await.unwrap();
        // Whether or not the client has read the goodbye yet, nothing more runs.
        let err = s
            .client
            .call(&(4, false, 0), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RpcError::Connect { .. } | RpcError::NotRun(_)),
            "{err}"
        );
        assert_eq!(s.service.0.load(Ordering::SeqCst), 2);
    }

    /// What may have run without an answer is never reported as not run: a write still
    /// running when the drain ends, and a handler that panicked.
    #[tokio::test]
    async fn a_stopping_server_names_what_may_have_run_unanswered() {
        let s = Stopping::start().await;
        let [slow, panicked, late] = s.stop_during((1, false, 60_000), (99, false, 0)).await;
        for unknown in [slow, panicked] {
            let err = unknown.await.unwrap().unwrap_err();
            assert!(matches!(err, RpcError::ConnectionLost(_)), "{err}");
        }
        let err = late.await.unwrap().unwrap_err();
        assert!(matches!(err, RpcError::NotRun(_)), "{err}");
        s.server.await.unwrap();
        assert_eq!(s.service.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_calls_share_a_connection_and_match_responses() {
        let (addr, shutdown, server) = doubler().await;
        let client = Arc::new(RpcClient::<(u64, u64), u64>::new(addr));
        let mut calls = JoinSet::new();
        for i in 0..50u64 {
            let client = client.clone();
            // Later requests answer sooner, so responses arrive out of order.
            calls
                .spawn(async move { (i, client.call(&(i, 50 - i), Duration::from_secs(5)).await) });
        }
        while let Some(done) = calls.join_next().await {
            let (i, resp) = done.unwrap();
            assert_eq!(resp.unwrap(), i * 2);
        }
        let err = client
            .call(&(1, 1_000), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
        shutdown.cancel();
        server.await.unwrap();
        let err = client
            .call(&(1, 0), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RpcError::Connect { .. } | RpcError::ConnectionLost(_) | RpcError::NotRun(_)
            ),
            "{err}"
        );
    }
}
