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
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
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

/// The id of the goodbye, the frame a stopping server sends last on each connection
/// (callers number their requests from 1). Its body lists the requests it may have run
/// without answering them; every other request it has not answered, it did not run.
const GOING_AWAY: u64 = 0;

mod server;
pub use server::{serve, RpcService, DRAIN};

#[cfg(test)]
mod tests;
