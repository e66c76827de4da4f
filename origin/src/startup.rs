//! Builds the application: state, router, listener. Tests build it on port 0.
//!
//! Resource limits, for whatever a stranger can send (every one is a setting, see
//! [`crate::settings::HttpLimits`]):
//! - request headers must arrive within the header timeout (hyper's header read timeout,
//!   which also closes idle keep-alive connections), see [`serve`];
//! - a body may not stall longer than the body timeout (`RequestBodyTimeoutLayer`), and a
//!   whole request is answered `408 request_timeout` after the request timeout
//!   (`TimeoutLayer`);
//! - bodies are bounded per route before anything reads them (`RequestBodyLimitLayer`:
//!   a declared `Content-Length` over the limit is refused with 413 at once, a streamed
//!   body as soon as it passes the limit): [`auth::PRE_AUTH_BODY_BYTES`] everywhere,
//!   except the ingest batch route, whose larger reads [`auth`] admits only with
//!   well-formed, fresh signature headers and only a few at a time.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::metrics::Metrics;
use crate::request_id::{self, RequestId};
use crate::routes::{
    admin_launches, dashboard, health, ingest, internal, metrics, render, reports,
};
use crate::settings::{HttpLimits, Settings};
use crate::state::{system_clock, AppState, Clock};
use crate::{auth, db, error};

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    header_timeout: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::pool(&settings.database)?;
        Self::build_with(settings, pool, system_clock()).await
    }

    /// Refuses settings that fail [`crate::settings::ServerSettings::validate`].
    pub async fn build_with(
        settings: Settings,
        pool: PgPool,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let server = settings.server;
        server.validate()?;
        let metrics: Arc<Metrics> = Arc::default();
        Metrics::sample_pool(Arc::downgrade(&metrics), pool.clone());
        let state = AppState {
            ingest: crate::ingest::IngestWriter::spawn(pool.clone(), Arc::clone(&metrics)),
            pool,
            signing_secret: server.signing_secret.clone(),
            signing_secret_previous: server.signing_secret_previous.clone(),
            dashboard_token: server.dashboard_token.clone(),
            dashboard_token_previous: server.dashboard_token_previous.clone(),
            metrics_token: server.metrics_token.clone(),
            public_https: server.public_https(),
            metrics,
            metrics_cache: Duration::from_secs(server.metrics_cache_secs),
            large_pre_auth_reads: Arc::new(Semaphore::new(auth::LARGE_PRE_AUTH_READS)),
            clock,
            launches: Arc::new(server.launches.clone()),
        };
        let listener = TcpListener::bind(server.bind).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            router: router(state, &server.limits),
            port,
            header_timeout: server.limits.header_timeout(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM (what `docker stop`, systemd and Kubernetes send) or Ctrl-C,
    /// then stops accepting and lets requests in flight finish: an ingest batch is either
    /// committed and answered, or (past the grace period) its transaction is rolled back
    /// and the worker resends it. Never half-applied.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        serve(
            self.listener,
            self.router,
            self.header_timeout,
            shutdown_signal(),
        )
        .await
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: finishing requests in flight, then stopping"),
        () = terminate => tracing::info!("SIGTERM: finishing requests in flight, then stopping"),
    }
}

/// Serves HTTP/1.1 until `stop` resolves, then lets open requests finish (up to 10 s).
/// Each connection gets hyper's header read timeout, which `axum::serve` cannot set: it
/// gives hyper no timer, so a client sending its headers a byte at a time would hold the
/// connection for ever.
async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A timed-out or reset connection is the client's business, not an error.
            let _ = connection.await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}

pub fn router(state: AppState, limits: &HttpLimits) -> Router {
    let signed = || middleware::from_fn_with_state(state.clone(), auth::require_signature);
    let internal = Router::new()
        .route("/render/{slug}", get(render::render))
        .route("/ingest/finalize-day", post(ingest::finalize_day))
        .route("/ingest/dead-letters", get(ingest::list_dead_letters))
        .route(
            "/ingest/dead-letters/{id}/requeue",
            post(ingest::requeue_dead_letter),
        )
        .route("/internal/launches", get(internal::launches))
        .route("/admin/launches", get(admin_launches::list))
        .route(
            "/admin/launches/{slug}",
            get(admin_launches::show).put(admin_launches::put),
        )
        .route(
            "/admin/launches/{slug}/archive",
            post(admin_launches::archive),
        )
        .route("/api/launches/{slug}/report", get(reports::report))
        .route_layer(signed())
        .layer(RequestBodyLimitLayer::new(auth::PRE_AUTH_BODY_BYTES));
    let ingest_batch = Router::new()
        .route("/ingest/batch", post(ingest::batch))
        .route_layer(signed())
        .layer(RequestBodyLimitLayer::new(ingest::MAX_INGEST_BODY_BYTES))
        // axum's own extractor limit (2 MiB) would otherwise cut in below the route's.
        .layer(DefaultBodyLimit::max(ingest::MAX_INGEST_BODY_BYTES));
    let dashboard = Router::new()
        .route("/launches", get(dashboard::index))
        .route("/launches/{slug}", get(dashboard::page))
        .route(
            "/launches/{slug}/dead-letters/{id}/requeue",
            post(dashboard::requeue),
        )
        .route("/api/launches/{slug}/series", get(dashboard::series))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            dashboard::require_dashboard_token,
        ));
    let public = Router::new()
        .route("/login", get(dashboard::login_form).post(dashboard::login))
        .route("/logout", post(dashboard::logout))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .merge(dashboard)
        .layer(RequestBodyLimitLayer::new(auth::PRE_AUTH_BODY_BYTES));
    // Outermost first: the request id exists before the span that records it; the span
    // is open while the rest runs; error bodies of the layers below become JSON; the
    // metrics middleware sees requests the timeout cut short.
    Router::new()
        .merge(internal)
        .merge(ingest_batch)
        .merge(public)
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout()))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout(),
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track_http,
        ))
        .layer(middleware::map_response(error::json_for_bare_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(request_id::propagate))
        .with_state(state)
}

/// The span of one request: its id, method (one of the metric labels) and matched route.
/// Deliberately not the URI (a stranger's text, and an old `?token=` dashboard link would
/// put the token in it), headers or the client address.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    let method = crate::metrics::method_label(request.method());
    tracing::info_span!("request", request_id = %id, method, route)
}
