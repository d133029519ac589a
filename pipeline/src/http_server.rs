//! A small HTTP/1.1 server (hyper) with optional TLS, for /metrics and the health
//! endpoints. Handlers get the request head; request bodies are never read.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A response body made of shared chunks, written out without concatenating them, so a
/// large exposition is never copied into one buffer per scrape.
#[derive(Debug, Clone, Default)]
pub struct Body {
    chunks: Arc<[Chunk]>,
    next: usize,
    remaining: u64,
    generation: Option<Arc<Generation>>,
}

/// One version of a page that responses are made from. Once a newer version is served the
/// old one is superseded: a response still writing it to a client that stopped reading is
/// what holds its memory (see [`ServerLimits::stall_timeout`]).
#[derive(Debug, Default)]
pub struct Generation {
    superseded: AtomicBool,
    changed: Notify,
}

impl Generation {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn supersede(&self) {
        self.superseded.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    pub fn is_superseded(&self) -> bool {
        self.superseded.load(Ordering::Acquire)
    }

    async fn superseded(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a supersede in between is not missed.
            notified.as_mut().enable();
            if self.is_superseded() {
                return;
            }
            notified.await;
        }
    }
}

/// Bytes kept in a smaller form and unpacked only while a response writes them.
pub trait Unpack: Send + Sync + std::fmt::Debug {
    /// The length of what [`Unpack::unpack`] gives.
    fn unpacked_len(&self) -> usize;
    /// What holding it takes.
    fn packed_len(&self) -> usize;
    fn unpack(&self) -> Bytes;
}

/// One piece of a [`Body`].
#[derive(Debug, Clone)]
pub enum Chunk {
    Bytes(Bytes),
    Packed(Arc<dyn Unpack>),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Packed(p) => p.unpacked_len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What holding the chunk takes.
    pub fn held(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Packed(p) => p.packed_len(),
        }
    }

    /// The bytes themselves (unpacked, for a packed chunk).
    pub fn bytes(&self) -> Bytes {
        match self {
            Chunk::Bytes(b) => b.clone(),
            Chunk::Packed(p) => p.unpack(),
        }
    }
}

impl From<Bytes> for Chunk {
    fn from(b: Bytes) -> Self {
        Chunk::Bytes(b)
    }
}

impl Body {
    pub fn full(b: impl Into<Bytes>) -> Self {
        Self::chunks(Arc::from(vec![Chunk::Bytes(b.into())]))
    }

    pub fn empty() -> Self {
        Self::default()
    }

    pub fn chunks(chunks: Arc<[Chunk]>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self {
            chunks,
            next: 0,
            remaining,
            generation: None,
        }
    }

    /// The same body, made from `generation` of its page.
    pub fn of_generation(mut self, generation: Arc<Generation>) -> Self {
        self.generation = Some(generation);
        self
    }

    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        while let Some(chunk) = this.chunks.get(this.next) {
            this.next += 1;
            if !chunk.is_empty() {
                this.remaining -= chunk.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(chunk.bytes()))));
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// What the server calls for each request.
pub trait Handler: Send + Sync + 'static {
    fn call(&self, req: Request<Incoming>) -> ResponseFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    fn call(&self, req: Request<Incoming>) -> ResponseFuture {
        Box::pin(self(req))
    }
}

/// A slow client may not hold a connection open forever before sending its request.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Accepted past `max_connections`: answered 503 (plain HTTP) or closed (TLS).
    ConnectionLimit,
    /// A response was not written within `write_timeout` (a client that does not read).
    WriteTimeout,
    /// A response of a superseded page whose client took no byte for `stall_timeout`.
    Stalled,
}

impl CloseReason {
    /// A bounded attribute value for self-telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ConnectionLimit => "connection_limit",
            CloseReason::WriteTimeout => "write_timeout",
            CloseReason::Stalled => "stalled",
        }
    }
}

/// Told of every connection the server closes on its own.
pub type OnClose = Arc<dyn Fn(CloseReason, SocketAddr) + Send + Sync>;

/// What one client may hold. The defaults are unlimited, as before these limits existed;
/// the Prometheus endpoint sets both.
#[derive(Clone, Default)]
pub struct ServerLimits {
    /// A response (from its request to its last byte handed to the kernel) that takes
    /// longer is abandoned and its connection closed, releasing the body it pinned.
    pub write_timeout: Option<Duration>,
    /// A response whose page was superseded, and whose client took no byte for this long,
    /// is abandoned before `write_timeout`: each client that stops reading would otherwise
    /// keep a whole old page alive, one page per such client.
    pub stall_timeout: Option<Duration>,
    /// Connections served at once; more are refused and reported.
    pub max_connections: Option<usize>,
    pub on_close: Option<OnClose>,
}

impl ServerLimits {
    fn closed(&self, reason: CloseReason, peer: SocketAddr) {
        tracing::debug!(%peer, reason = reason.as_str(), "connection closed by the server");
        if let Some(f) = &self.on_close {
            f(reason, peer);
        }
    }
}

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Binds `addr`; the error names the address so that a port clash is obvious.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves `handler` on `listener` until `shutdown` is cancelled, without limits.
pub fn spawn(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    spawn_limited(listener, tls, handler, shutdown, ServerLimits::default())
}

/// What a refused plain-HTTP client reads, if its socket takes it at once.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";

/// [`spawn`], with per-connection limits.
pub fn spawn_limited(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
    limits: ServerLimits,
) -> JoinHandle<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = limits
        .max_connections
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = match &slots {
                None => None,
                Some(s) => match s.clone().try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        // Never wait on a refused client: one non-blocking write, then close.
                        if acceptor.is_none() {
                            let _ = stream.try_write(BUSY);
                        }
                        drop(stream);
                        limits.closed(CloseReason::ConnectionLimit, peer);
                        continue;
                    }
                },
            };
            let handler = handler.clone();
            let acceptor = acceptor.clone();
            let shutdown = shutdown.clone();
            let limits = limits.clone();
            tokio::spawn(async move {
                let _slot = slot;
                match acceptor {
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => serve_conn(tls, peer, handler, shutdown, &limits).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                    None => serve_conn(stream, peer, handler, shutdown, &limits).await,
                }
            });
        }
    })
}

/// The write deadline of the response in progress on one connection, if any.
struct Deadline {
    at: Mutex<Option<tokio::time::Instant>>,
    /// The body of the response in progress was handed over whole: the next successful
    /// flush means every byte reached the kernel.
    body_done: AtomicBool,
    changed: Notify,
    /// The page version the response in progress writes, if it has one.
    pinned: Mutex<Option<Arc<Generation>>>,
    /// When the client last took bytes, in milliseconds from `start`.
    progress_ms: AtomicU64,
    start: tokio::time::Instant,
}

impl Default for Deadline {
    fn default() -> Self {
        Self {
            at: Mutex::default(),
            body_done: AtomicBool::default(),
            changed: Notify::default(),
            pinned: Mutex::default(),
            progress_ms: AtomicU64::default(),
            start: tokio::time::Instant::now(),
        }
    }
}

impl Deadline {
    fn pin(&self, generation: Option<Arc<Generation>>) {
        *self.pinned.lock().unwrap_or_else(|p| p.into_inner()) = generation;
        self.changed.notify_one();
    }

    fn pinned(&self) -> Option<Arc<Generation>> {
        self.pinned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn progressed(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.progress_ms.store(ms, Ordering::Relaxed);
    }

    /// When the client will have taken nothing for `t`, as things stand.
    fn stalled_at(&self, t: Duration) -> tokio::time::Instant {
        self.start + Duration::from_millis(self.progress_ms.load(Ordering::Relaxed)) + t
    }

    fn set(&self, at: Option<tokio::time::Instant>) {
        *self.at.lock().unwrap_or_else(|p| p.into_inner()) = at;
        self.changed.notify_one();
    }

    fn get(&self) -> Option<tokio::time::Instant> {
        *self.at.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The connection's socket, telling the deadline when a response was flushed whole.
struct Watched<S> {
    io: S,
    deadline: Arc<Deadline>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.deadline.progressed();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.deadline.progressed();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        // hyper flushes once its own buffer is empty: with the body over, the response is
        // written.
        if matches!(r, Poll::Ready(Ok(()))) && self.deadline.body_done.swap(false, Ordering::AcqRel)
        {
            self.deadline.pin(None);
            self.deadline.set(None);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A response body that marks its response's body as handed over when dropped (hyper
/// drops it after its last frame).
struct Tracked {
    body: Body,
    deadline: Option<Arc<Deadline>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(d) = &self.deadline {
            d.body_done.store(true, Ordering::Release);
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

async fn serve_conn<S>(
    io: S,
    peer: SocketAddr,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
    limits: &ServerLimits,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = Arc::new(Deadline::default());
    let write_timeout = limits.write_timeout;
    let stall_timeout = limits.stall_timeout;
    let service = {
        let deadline = deadline.clone();
        service_fn(move |mut req: Request<Incoming>| {
            let handler = handler.clone();
            let watched = write_timeout.is_some() || stall_timeout.is_some();
            let deadline = watched.then(|| {
                deadline.body_done.store(false, Ordering::Release);
                deadline.set(write_timeout.map(|t| tokio::time::Instant::now() + t));
                deadline.clone()
            });
            req.extensions_mut().insert(PeerAddr(peer));
            async move {
                let (parts, body) = handler.call(req).await.into_parts();
                if let Some(d) = &deadline
                    && stall_timeout.is_some()
                {
                    d.progressed();
                    d.pin(body.generation.clone());
                }
                Ok::<_, Infallible>(Response::from_parts(parts, Tracked { body, deadline }))
            }
        })
    };
    let io = TokioIo::new(Watched {
        io,
        deadline: deadline.clone(),
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        let at = deadline.get();
        let expired = async {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let pinned = deadline.pinned();
        let stalled = async {
            let (Some(generation), Some(t)) = (pinned, stall_timeout) else {
                return std::future::pending().await;
            };
            generation.superseded().await;
            // Progress moves the moment on; only a client idle for all of `t` is cut.
            loop {
                let at = deadline.stalled_at(t);
                if tokio::time::Instant::now() >= at {
                    return;
                }
                tokio::time::sleep_until(at).await;
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = deadline.changed.notified() => {}
            _ = expired => {
                // Dropping the connection drops the body and what hyper buffered of it.
                limits.closed(CloseReason::WriteTimeout, peer);
                return;
            }
            _ = stalled => {
                limits.closed(CloseReason::Stalled, peer);
                return;
            }
            _ = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                return;
            }
        }
    }
}

/// A plain-text response.
pub fn text(status: http::StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The user and password of an `Authorization: Basic …` header value.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every request with `page`, of generation `generation`, telling
    /// `closed` why it closed a connection.
    async fn serve(
        page: Bytes,
        generation: Arc<Generation>,
        limits: ServerLimits,
    ) -> (SocketAddr, Arc<Mutex<Vec<CloseReason>>>, CancellationToken) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = Arc::new(Mutex::new(Vec::new()));
        let on_close: OnClose = {
            let closed = closed.clone();
            Arc::new(move |r, _| closed.lock().unwrap().push(r))
        };
        let shutdown = CancellationToken::new();
        let page = Mutex::new(Some(page));
        spawn_limited(
            listener,
            None,
            Arc::new(move |_req| {
                // Handed out once, so that only the response holds it.
                let page = page.lock().unwrap().take().unwrap_or_default();
                let body = Body::full(page).of_generation(generation.clone());
                async move { Response::new(body) }
            }),
            shutdown.clone(),
            ServerLimits {
                on_close: Some(on_close),
                ..limits
            },
        );
        (addr, closed, shutdown)
    }

    /// Sends a request and reads the status line only, leaving the body unread.
    async fn stuck_client(addr: SocketAddr) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        s
    }

    async fn eventually(what: &str, cond: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_client_stalled_on_a_superseded_page_is_cut_and_its_page_released() {
        // Far more than a stalled socket's buffers take.
        let page = Bytes::from(vec![b'x'; 32 << 20]);
        let generation = Generation::new();
        let (addr, closed, shutdown) = serve(
            page.clone(),
            generation.clone(),
            ServerLimits {
                write_timeout: Some(Duration::from_secs(600)),
                stall_timeout: Some(Duration::from_millis(200)),
                ..ServerLimits::default()
            },
        )
        .await;
        let _client = stuck_client(addr).await;
        assert!(!page.is_unique(), "the response holds the page");
        generation.supersede();
        eventually("the stalled client cut", || {
            closed.lock().unwrap().as_slice() == [CloseReason::Stalled]
        })
        .await;
        eventually("the page released", || page.is_unique()).await;
        shutdown.cancel();
    }
}
