//! Signed requests from the worker to the origin (see `launch_edge_proto::signing`).

use std::time::Duration;

use futures_util::future::{select, Either};
use launch_edge_proto::{headers, signing::SignedRequest};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use launch_edge_core::config::Config;
use launch_edge_core::page::entry::PageEntry;
use launch_edge_core::page::key::PageKey;

/// An origin that has not answered by then is treated as down.
pub const ORIGIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("origin request failed: {0}")]
    Network(String),
    #[error("origin did not answer within {ORIGIN_TIMEOUT:?}")]
    Timeout,
    #[error("origin answered {0}")]
    Status(u16),
}

/// 64 random bits in hex (two 32-bit draws: one f64 carries only 53): enough to find one
/// call in the origin's logs.
fn new_request_id() -> String {
    let draw = || (worker::js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("edge-{:08x}{:08x}", draw(), draw())
}

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// Sends one signed request to the origin, bounded by [`ORIGIN_TIMEOUT`].
pub async fn send_signed(
    config: &Config,
    method: Method,
    path_and_query: &str,
    body: Option<Vec<u8>>,
) -> Result<worker::Response, OriginError> {
    Ok(
        send_signed_keeping_signature(config, method, path_and_query, body)
            .await?
            .0,
    )
}

/// [`send_signed`], also returning the request's signature header, which the origin's
/// signed answers cover (`launch_edge_proto::signing::SignedResponse`).
pub async fn send_signed_keeping_signature(
    config: &Config,
    method: Method,
    path_and_query: &str,
    body: Option<Vec<u8>>,
) -> Result<(worker::Response, String), OriginError> {
    let body_bytes = body.unwrap_or_default();
    let timestamp = (now_ms() / 1000) as i64;
    let signature = SignedRequest {
        method: method.as_ref(),
        path_and_query,
        body: &body_bytes,
    }
    .sign(&config.origin_signing_secret, timestamp);

    let request_headers = Headers::new();
    let set = |name: &str, value: &str| {
        request_headers
            .set(name, value)
            .map_err(|e| OriginError::Network(e.to_string()))
    };
    set(headers::TIMESTAMP, &timestamp.to_string())?;
    set(headers::SIGNATURE, &signature)?;
    // One id per origin call, logged by the origin with every line of that request.
    set(headers::REQUEST_ID, &new_request_id())?;
    if !body_bytes.is_empty() {
        set("content-type", "application/json")?;
    }

    let mut init = RequestInit::new();
    init.with_method(method).with_headers(request_headers);
    if !body_bytes.is_empty() {
        init.with_body(Some(
            worker::js_sys::Uint8Array::from(body_bytes.as_slice()).into(),
        ));
    }
    let url = format!("{}{}", config.origin_url, path_and_query);
    let request =
        Request::new_with_init(&url, &init).map_err(|e| OriginError::Network(e.to_string()))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let outcome = match select(sending, Delay::from(ORIGIN_TIMEOUT)).await {
        Either::Left((result, _)) => result.map_err(|e| OriginError::Network(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            Err(OriginError::Timeout)
        }
    };
    outcome.map(|response| (response, signature))
}

/// Renders a page through the origin. A 404 is an answer (an unknown launch), not an error.
pub async fn render(config: &Config, key: &PageKey) -> Result<PageEntry, OriginError> {
    let path = format!("/render/{}{}", key.slug(), key.origin_query());
    let mut response = send_signed(config, Method::Get, &path, None).await?;
    let status = response.status_code();
    if status != 200 && status != 404 {
        return Err(OriginError::Status(status));
    }
    let destinations = json_header(response.headers(), headers::LAUNCH_DESTINATIONS);
    let beacon_origins = json_header(response.headers(), headers::LAUNCH_BEACON_ORIGINS);
    let html = response
        .text()
        .await
        .map_err(|e| OriginError::Network(e.to_string()))?;
    let mut entry = PageEntry::new(status, html, now_ms());
    entry.destinations = destinations;
    entry.beacon_origins = beacon_origins;
    Ok(entry)
}

/// A header holding JSON (the launch data the origin sends with a page, and the worker
/// stores with it in the Cache API); missing or unreadable: the type's default.
pub fn json_header<T: serde::de::DeserializeOwned + Default>(
    headers: &worker::Headers,
    name: &str,
) -> T {
    headers
        .get(name)
        .ok()
        .flatten()
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default()
}
