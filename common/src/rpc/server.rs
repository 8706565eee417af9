//! The server side: one handler call per request, run concurrently, and a stop that
//! answers what it ran and says what it did not.

use super::{envelope_id, write_frames, Envelope, GOING_AWAY};
use crate::frame;
use crate::hash::FastSet;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    let (mut running, mut unanswered) = (FastSet::<u64>::default(), Vec::<u64>::new());
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
            running.insert(id);
            handlers.spawn(run);
        }
    }
    abandonable.shutdown().await;
    handlers.shutdown().await;
    if stopping.is_some() {
        // Still running at the end of the drain: they may yet take effect.
        unanswered.extend(running.drain());
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
