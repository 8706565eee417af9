use super::*;
use tokio::net::TcpListener;

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
        calls.spawn(async move { (i, client.call(&(i, 50 - i), Duration::from_secs(5)).await) });
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
