//! `/admin/launches`: launches as data for tools, signed like every internal route (the
//! worker's HMAC scheme, `ORIGIN_SIGNING_SECRET`; see [`crate::auth`]), the same
//! operations as the `launch` subcommands:
//!
//! - `GET /admin/launches`: `{"launches": [{slug, name, product_hunt_slug, launch_at,
//!   archived_at, updated_at}]}`.
//! - `GET /admin/launches/:slug`: `{slug, archived_at, updated_at, spec, toml}` (the stored
//!   launch file as JSON and as TOML); 404 `launch_not_found`.
//! - `PUT /admin/launches/:slug[?unarchive=true]`: a launch file as TOML (any content type
//!   but JSON) or JSON (`application/json`). 201 created / 200 applied, with
//!   `{applied: {slug, created, unarchived, changes: [{field, old, new}]}, edge}`;
//!   400 `malformed_launch_file` with `problem` (not TOML/JSON, a wrong type, an unknown
//!   field); 422 `invalid_launch` with `fields: [{field, problem}]`, the same as the CLI;
//!   409 `launch_renamed` or `launch_archived` with `problem`. Nothing is written unless
//!   it answers 200/201.
//! - `POST /admin/launches/:slug/archive`: `{archived: {slug, archived_at, already}, edge}`;
//!   404 `launch_not_found`.
//!
//! After a write the origin asks the worker to re-render the page when `EDGE_URL` and
//! `EDGE_ADMIN_TOKEN` are set (`edge` says what happened).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use launch_edge_proto::Slug;
use serde::Deserialize;
use serde_json::json;

use crate::error::AppError;
use crate::launches::file::LaunchFile;
use crate::launches::spec::{FieldError, SpecErrors};
use crate::launches::store::{self, ApplyError, LoadError};
use crate::launches::{self, edge, ApplyFailure};
use crate::state::AppState;

fn refusal(status: StatusCode, code: &str, problem: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "problem": problem.into() })),
    )
        .into_response()
}

fn not_found(slug: &Slug) -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "launch_not_found",
        format!("no launch {}", slug.as_str()),
    )
}

fn parse_slug(raw: &str) -> Result<Slug, AppError> {
    Slug::parse(raw).map_err(|e| AppError::BadRequest(e.code()))
}

pub async fn list(State(state): State<AppState>) -> Result<Response, AppError> {
    let launches = store::list(&state.pool).await?;
    Ok(Json(json!({ "launches": launches })).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let slug = parse_slug(&raw_slug)?;
    let stored = match store::load(&state.pool, &slug).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Ok(not_found(&slug)),
        Err(LoadError::Database(e)) => return Err(e.into()),
        Err(LoadError::Corrupt(e)) => return Err(AppError::Page(e)),
    };
    let file = stored.spec.to_file();
    Ok(Json(json!({
        "slug": slug.as_str(),
        "archived_at": stored.archived_at,
        "updated_at": stored.updated_at,
        "spec": file,
        "toml": file.to_toml(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct PutQuery {
    #[serde(default)]
    unarchive: bool,
}

pub async fn put(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<PutQuery>,
    request_headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let slug = parse_slug(&raw_slug)?;
    let json = request_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let file = if json {
        LaunchFile::from_json(&body)
    } else {
        std::str::from_utf8(&body)
            .map_err(|_| crate::launches::file::SyntaxError("the body is not UTF-8".into()))
            .and_then(LaunchFile::from_toml)
    };
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "malformed_launch_file",
                e.0,
            ))
        }
    };
    if file.slug.as_deref().is_some_and(|s| s != slug.as_str()) {
        // Reported with every other problem of the file.
        let mut fields = vec![FieldError {
            field: "slug".into(),
            problem: format!("must be the slug in the URL ({})", slug.as_str()),
        }];
        if let Err(SpecErrors(more)) = launches::validate(&file, &state.launches) {
            fields.extend(more);
        }
        return Ok(invalid(fields));
    }
    match launches::apply(&state.pool, &file, &state.launches, query.unarchive).await {
        Ok((applied, refreshed)) => {
            let status = if applied.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let edge = refreshed.map(|r| json!(r));
            Ok((status, Json(json!({ "applied": applied, "edge": edge }))).into_response())
        }
        Err(ApplyFailure::Invalid(SpecErrors(fields))) => Ok(invalid(fields)),
        Err(ApplyFailure::Malformed(e)) => Ok(refusal(
            StatusCode::BAD_REQUEST,
            "malformed_launch_file",
            e.0,
        )),
        Err(ApplyFailure::Refused(ApplyError::Database(e))) => Err(e.into()),
        Err(ApplyFailure::Refused(e @ ApplyError::Renamed { .. })) => Ok(refusal(
            StatusCode::CONFLICT,
            "launch_renamed",
            e.to_string(),
        )),
        Err(ApplyFailure::Refused(e @ ApplyError::Archived { .. })) => Ok(refusal(
            StatusCode::CONFLICT,
            "launch_archived",
            e.to_string(),
        )),
    }
}

fn invalid(fields: Vec<FieldError>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "error": "invalid_launch", "fields": fields })),
    )
        .into_response()
}

pub async fn archive(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
) -> Result<Response, AppError> {
    let slug = parse_slug(&raw_slug)?;
    let Some(archived) = store::archive(&state.pool, &slug).await? else {
        return Ok(not_found(&slug));
    };
    let refreshed = if archived.already {
        None
    } else {
        Some(edge::refresh(&state.launches, slug.as_str()).await)
    };
    Ok(Json(json!({ "archived": archived, "edge": refreshed })).into_response())
}
