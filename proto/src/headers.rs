//! Header names on the wire between worker and origin.

/// Unix seconds at which the worker signed an internal request.
pub const TIMESTAMP: &str = "x-launch-edge-timestamp";
/// `v1=<hex HMAC-SHA256>` over the canonical request (see [`crate::signing`]).
pub const SIGNATURE: &str = "x-launch-edge-signature";
/// On the origin's answers to `/ingest/batch`: `v1=<hex>` over the answer and the request
/// it answers (see [`crate::signing::SignedResponse`]), so the worker tells an origin's
/// refusal from a proxy's or a tunnel's error page.
pub const RESPONSE_SIGNATURE: &str = "x-launch-edge-response-signature";
/// On `/render` responses: the launch's CTA destinations as a JSON object (name → URL),
/// cached by the worker with the page so clicks redirect without asking the origin.
pub const LAUNCH_DESTINATIONS: &str = "x-launch-destinations";
/// On `/render` responses: the https origins (JSON array) whose pages may send the
/// launch's beacon from the browser (CORS), cached by the worker with the page.
pub const LAUNCH_BEACON_ORIGINS: &str = "x-launch-beacon-origins";
/// A request id carried from the edge to the origin for log correlation.
pub const REQUEST_ID: &str = "x-request-id";
