//! The request id: taken from the worker's `x-request-id` when it is well-formed, else
//! generated; stored in the request's extensions (for the log span) and echoed on the
//! response, so an edge log line and an origin log line can be joined.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use launch_edge_proto::headers::REQUEST_ID;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A presented id is reused only if it is short and plain: it goes into every log line
/// of the request, so arbitrary client text must not.
pub fn acceptable(raw: &str) -> bool {
    (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn propagate(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    // `acceptable` ids and uuids are always valid header values.
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID, value.clone());
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_plain_ids_are_reused() {
        assert!(acceptable("9f1c2e0a-req.1"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("id\nforged log line"));
        assert!(!acceptable(&"x".repeat(129)));
    }
}
