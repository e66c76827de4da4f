//! Builds the application: state, router, listener. Tests build it on port 0.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};
use launch_edge_proto::Secret;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::routes::{health, ingest, metrics, render, reports};
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
    pub metrics: Arc<metrics::Metrics>,
    pub clock: Clock,
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
        let state = AppState {
            pool,
            signing_secret: settings.server.signing_secret.clone(),
            metrics: Arc::default(),
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
        .route("/api/launches/{slug}/report", get(reports::report))
        .layer(DefaultBodyLimit::max(ingest::MAX_INGEST_BODY_BYTES))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_signature,
        ));
    Router::new()
        .merge(internal)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
