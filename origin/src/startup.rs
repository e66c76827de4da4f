//! Builds the application: state, router, listener. Tests build it on port 0.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::MatchedPath;
use axum::routing::{get, post};
use axum::{middleware, Router};
use launch_edge_proto::Secret;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::request_id::{self, RequestId};
use crate::routes::{dashboard, health, ingest, internal, metrics, render, reports};
use crate::settings::Settings;
use crate::{auth, db};

/// Unix seconds. A function so tests can pin the clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub signing_secret: Secret,
    pub dashboard_token: Option<Secret>,
    pub metrics: Arc<metrics::Metrics>,
    pub clock: Clock,
    /// Applies ingest batches, grouping those that arrive together into one transaction.
    pub ingest: crate::ingest::IngestWriter,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::pool(&settings.database)?;
        Self::build_with(settings, pool, system_clock()).await
    }

    pub async fn build_with(
        settings: Settings,
        pool: PgPool,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let metrics: Arc<metrics::Metrics> = Arc::default();
        let state = AppState {
            ingest: crate::ingest::IngestWriter::spawn(pool.clone(), Arc::clone(&metrics)),
            pool,
            signing_secret: settings.server.signing_secret.clone(),
            dashboard_token: settings.server.dashboard_token.clone(),
            metrics,
            clock,
        };
        let listener = TcpListener::bind(settings.server.bind).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            router: router(state),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    }
}

pub fn router(state: AppState) -> Router {
    let internal = Router::new()
        .route("/render/{slug}", get(render::render))
        .route("/ingest/batch", post(ingest::batch))
        .route("/ingest/finalize-day", post(ingest::finalize_day))
        .route("/ingest/dead-letters", get(ingest::list_dead_letters))
        .route(
            "/ingest/dead-letters/{id}/requeue",
            post(ingest::requeue_dead_letter),
        )
        .route("/internal/launches", get(internal::launches))
        .route("/api/launches/{slug}/report", get(reports::report))
        .layer(DefaultBodyLimit::max(ingest::MAX_INGEST_BODY_BYTES))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_signature,
        ));
    let dashboard = Router::new()
        .route("/launches", get(dashboard::index))
        .route("/launches/{slug}", get(dashboard::page))
        .route("/api/launches/{slug}/series", get(dashboard::series))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            dashboard::require_dashboard_token,
        ));
    // Outermost first: the request id exists before the span that records it, and the
    // span is open while the metrics middleware and the handler run.
    Router::new()
        .merge(internal)
        .merge(dashboard)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(request_id::propagate))
        .with_state(state)
}

/// The span of one request: its id, method and matched route. Deliberately not the URI
/// (a `?token=` or a webhook secret could be in it), headers or the client address.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    tracing::info_span!("request", request_id = %id, method = %request.method(), route)
}
