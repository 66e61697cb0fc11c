//! Routes, startup and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{middleware, Router};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::ServerConfig;
use crate::follow;
use crate::guard::{Admission, GuardedListener, Peer};
use crate::metrics::{self, inc, inc_by};
use crate::origin;
use crate::rate::AuthFailures;
use crate::room::Rooms;
use crate::session;
use crate::static_files;
use crate::store;
use crate::tcp;
use crate::tls;

/// A started server.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// Whether it serves TLS (`wss://`, `https://`).
    pub tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    compaction: JoinHandle<()>,
    following: JoinHandle<()>,
}

impl RunningServer {
    /// Closes every session with 1001 (going away), stops listening and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.compaction.await;
        let _ = self.following.await;
        let _ = self.task.await;
    }
}

/// Opens storage, binds `config.listen` and serves until [`RunningServer::shutdown`].
pub async fn start(config: ServerConfig) -> Result<RunningServer, String> {
    let acceptor = match &config.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let db = tokio::task::block_in_place(|| store::open(config.postgres.as_deref(), &config.data))
        .map_err(|e| e.0)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, shutdown) = watch::channel(false);
    let admission = Admission {
        per_ip: config.guards.connections_per_ip,
        total: config.guards.max_connections,
        header_timeout: config.guards.header_timeout,
    };
    let app = Arc::new(App {
        rooms: Rooms::new(config.room_limits, config.presence, config.guards.max_rooms),
        config,
        db,
        metrics: Arc::default(),
        auth_failures: AuthFailures::default(),
        paces: Default::default(),
        shutdown: shutdown.clone(),
    });
    let mut router = Router::new()
        .route("/sync", get(upgrade))
        .route("/metrics", get(metrics));
    if let Some(dir) = &app.config.static_dir {
        router = router.merge(static_files::router(dir));
    }
    let router = router
        .layer(middleware::from_fn_with_state(Arc::clone(&app), check_host))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::clone(&app));
    let mut until = shutdown.clone();
    let stopped = async move {
        let _ = until.wait_for(|stop| *stop).await;
    };
    let tls = acceptor.is_some();
    let metrics = Arc::clone(&app.metrics);
    let task = match acceptor {
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor).map_err(|e| e.to_string())?;
            serve(
                GuardedListener::new(listener, admission, metrics),
                router,
                stopped,
            )
        }
        None => serve(
            GuardedListener::new(listener.tap_io(tcp::no_delay), admission, metrics),
            router,
            stopped,
        ),
    };
    let compaction = tokio::spawn(compact_periodically(Arc::clone(&app)));
    let following = tokio::spawn(follow::follow(Arc::clone(&app)));
    Ok(RunningServer {
        addr,
        tls,
        stop,
        task,
        compaction,
        following,
    })
}

/// Serves `router` on `listener` until `stopped` completes.
fn serve<L>(
    listener: GuardedListener<L>,
    router: Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<Peer>();
        let serve = axum::serve(listener, service).with_graceful_shutdown(stopped);
        if let Err(error) = serve.await {
            eprintln!("srvra-sync-server: {error}");
        }
    })
}

/// Bytes read from a socket per read call. tungstenite zero-fills this much before every
/// read (its default, 128 KiB, made `memset` the server's largest single cost under load:
/// 16 % of its samples); frames are reserved whole once their header is read.
const READ_BUFFER: usize = 16 * 1024;

/// Refuses a request whose `Host` is not a name of this server (DNS rebinding, see
/// [`origin::host_allowed`]) with 403, before any route runs.
async fn check_host(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !origin::host_allowed(host, app.config.listen, &app.config.allow_hosts) {
        inc(&app.metrics.origins_refused);
        return (StatusCode::FORBIDDEN, "this host name is not served here\n").into_response();
    }
    next.run(request).await
}

async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    State(app): State<Arc<App>>,
) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !origin::allowed(
        text(header::ORIGIN),
        text(header::HOST),
        &app.config.allow_origins,
    ) {
        inc(&app.metrics.origins_refused);
        return (StatusCode::FORBIDDEN, "this origin may not connect\n").into_response();
    }
    // Frames up to 4x the protocol limit are read whole, so the session can answer an
    // oversized one with the documented error and close code 1009; beyond that the
    // transport drops the connection.
    let max = app.config.limits.max_frame.saturating_mul(4);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| session::run(socket, app, peer.ip()))
}

/// `GET /metrics`: public without auth; with auth on, only for
/// `Authorization: Bearer <metrics token>` (401 otherwise). Wrong tokens count as refused
/// attempts of the address: past its limit each answer waits and wrong ones get 429.
async fn metrics(
    headers: HeaderMap,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    State(app): State<Arc<App>>,
) -> Response {
    if app.config.auth.is_on() {
        let per_minute = app.config.guards.auth_failures_per_minute;
        let blocked = app.auth_failures.pace(peer.ip(), per_minute).await;
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let granted = match (presented, app.config.metrics_token.as_deref()) {
            (Some(presented), Some(token)) => {
                bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
            }
            _ => false,
        };
        if !granted {
            app.auth_failures.record(peer.ip());
            if blocked {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many wrong tokens; wait a minute\n",
                )
                    .into_response();
            }
            return (StatusCode::UNAUTHORIZED, "metrics need the metrics token\n").into_response();
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(&app).await,
    )
        .into_response()
}

/// The counters, plus what is measured when asked: rooms in memory, presence, quarantined
/// records.
async fn render_metrics(app: &App) -> String {
    let mut out = app.metrics.render();
    let (present, present_bytes) = app
        .rooms
        .all()
        .await
        .iter()
        .map(|room| room.presence_size())
        .fold((0, 0), |(n, b), (dn, db)| (n + dn, b + db));
    let gauges = [
        (
            "srvra_rooms_loaded",
            "gauge",
            "Rooms in memory",
            app.rooms.loaded().await as u64,
        ),
        (
            "srvra_presence_tabs",
            "gauge",
            "Tabs present in loaded rooms",
            present as u64,
        ),
        (
            "srvra_presence_bytes",
            "gauge",
            "Bytes of presence states in loaded rooms",
            present_bytes as u64,
        ),
        (
            "srvra_quarantined_total",
            "counter",
            "Stored changes or values set aside as unreadable",
            app.db.quarantined(),
        ),
    ];
    for (name, kind, help, value) in gauges {
        metrics::single(&mut out, name, kind, help, value);
    }
    out
}

/// Compacts every loaded room and unloads idle ones, every `compaction_interval` (and
/// unloads at least every `room_idle`).
async fn compact_periodically(app: Arc<App>) {
    let period = app
        .config
        .compaction_interval
        .min(app.config.guards.room_idle);
    let mut tick = tokio::time::interval(period);
    let mut last_compaction = tokio::time::Instant::now();
    let mut shutdown = app.shutdown.clone();
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let unloaded = app.rooms.unload_idle(app.config.guards.room_idle).await;
        inc_by(&app.metrics.rooms_unloaded, unloaded as u64);
        if last_compaction.elapsed() < app.config.compaction_interval {
            continue;
        }
        last_compaction = tokio::time::Instant::now();
        for room in app.rooms.all().await {
            if let Err(error) = room
                .compact(&*app.db, app.config.retain, app.config.retain_bytes)
                .await
            {
                eprintln!(
                    "srvra-sync-server: compaction of room '{}' failed: {}",
                    room.name(),
                    error.0
                );
            }
        }
    }
}
