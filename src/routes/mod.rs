//! One module per public surface, each a set of handlers taking the request and the
//! [`crate::edge::Edge`]: [`pages`] (`GET /launch/:slug`), [`counting`] (`/go`, the beacon,
//! signed conversions, stats), [`webhooks`] (`POST /webhooks/:source`), [`admin`] (bearer
//! operations), [`tasks`] (`/admin/tasks`, `/admin/monitor`) and [`test_hooks`] (fault
//! injection, closed unless enabled).

pub mod admin;
pub mod counting;
pub mod pages;
pub mod tasks;
pub mod test_hooks;
pub mod webhooks;

use futures_util::StreamExt;
use launch_edge_core::body_limit::LimitedBody;
use worker::Request;

use crate::error::AppError;

/// Reads a request body with a running byte limit (see [`LimitedBody`]): `None` when the
/// declared length or the bytes streamed pass `limit`; reading stops there, whatever
/// `Content-Length` said or omitted.
pub async fn read_body_limited(
    req: &mut Request,
    limit: usize,
) -> Result<Option<Vec<u8>>, AppError> {
    let mut body = LimitedBody::new(limit);
    if body
        .check_declared(req.headers().get("content-length")?.as_deref())
        .is_err()
    {
        return Ok(None);
    }
    if req.inner().body().is_none() {
        return Ok(Some(Vec::new()));
    }
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        if body.push(&chunk?).is_err() {
            // Dropping the stream cancels the rest of the upload.
            return Ok(None);
        }
    }
    Ok(Some(body.into_bytes()))
}
