//! What a stranger can make the origin hold: slow headers, stalled and dribbled bodies
//! are cut off by the timeouts; oversized and unsigned bodies are refused before they are
//! read; the origin refuses to start with a short secret. Raw TCP, so the test controls
//! exactly which bytes are sent when.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use launch_edge_proto::headers;
use launch_edge_proto::signing::SignedRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{batch, delta, server_settings, spawn_app_with_server, TestApp};

/// An app whose timeouts are short enough to wait for in a test.
async fn impatient_app() -> TestApp {
    let mut server = server_settings();
    server.limits.header_timeout_secs = 1;
    server.limits.body_timeout_secs = 1;
    server.limits.request_timeout_secs = 3;
    spawn_app_with_server(server).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect to the origin")
}

/// Everything the server sends until it closes the connection, and how long that took;
/// fails if the connection is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the origin still held the connection after {limit:?}; it had sent {:?}",
        String::from_utf8_lossy(&answer)
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// The first response head and body the server sends, within `limit`.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "no complete answer within {limit:?}; got {:?}",
                String::from_utf8_lossy(&answer)
            ),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the origin has sent something within `millis`.
async fn answered(stream: &TcpStream, millis: u64) -> bool {
    let mut peek = [0u8; 1];
    let peeked = tokio::time::timeout(Duration::from_millis(millis), stream.peek(&mut peek));
    matches!(peeked.await, Ok(Ok(n)) if n > 0)
}

/// Signature headers that pass the header checks (fresh, well-formed) for `path` with an
/// empty body: the body a test then sends makes the MAC wrong, but only once it is read.
fn fresh_signature_headers(path: &str) -> String {
    let now = Utc::now().timestamp();
    let signature = SignedRequest {
        method: "POST",
        path_and_query: path,
        body: b"",
    }
    .sign(&crate::helpers::test_secret(), now);
    format!(
        "{}: {now}\r\n{}: {signature}\r\n",
        headers::TIMESTAMP,
        headers::SIGNATURE
    )
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let app = impatient_app().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: origin\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(900), "cut off after {took:?}");
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_after_the_body_timeout() {
    let app = impatient_app().await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /ingest/batch HTTP/1.1\r\nHost: origin\r\n{}Content-Length: 100\r\n\r\n",
        fresh_signature_headers("/ingest/batch")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"batch_id\":").await.unwrap();
    let answer = read_response(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#"{"error":"body_timeout"}"#), "{answer}");
}

#[tokio::test]
async fn a_body_dribbled_a_byte_at_a_time_is_answered_408_after_the_request_timeout() {
    let app = impatient_app().await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /ingest/batch HTTP/1.1\r\nHost: origin\r\n{}Content-Length: 1000\r\n\r\n",
        fresh_signature_headers("/ingest/batch")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 300 ms, never a pause as long as the body timeout (1 s), until the
    // origin answers (stop writing then: writing on would reset the connection).
    while started.elapsed() < Duration::from_secs(6) && !answered(&stream, 300).await {
        if stream.write_all(b" ").await.is_err() {
            break;
        }
    }
    let answer = read_response(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"request_timeout"}"#),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(7));
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_before_a_byte_of_it_is_sent() {
    let app = impatient_app().await;
    for (path, length, signed) in [
        ("/ingest/batch", 5 * 1024 * 1024, false),
        ("/ingest/batch", 5 * 1024 * 1024, true),
        // Every route but the batch one reads at most 64 KiB before the signature check.
        ("/ingest/finalize-day", 100 * 1024, false),
        ("/ingest/finalize-day", 100 * 1024, true),
    ] {
        let mut stream = connect(&app).await;
        let signature = if signed {
            fresh_signature_headers(path)
        } else {
            String::new()
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: origin\r\n{signature}Content-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // Well within the body timeout: the answer comes without waiting for the body.
        let answer = read_response(&mut stream, Duration::from_millis(700)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains(r#"{"error":"payload_too_large"}"#),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn an_unsigned_body_is_refused_401_before_it_is_read() {
    let app = impatient_app().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /ingest/batch HTTP/1.1\r\nHost: origin\r\nContent-Length: 1048576\r\n\r\n",
        )
        .await
        .unwrap();
    let answer = read_response(&mut stream, Duration::from_millis(700)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("missing_timestamp"), "{answer}");
}

#[tokio::test]
async fn a_streamed_body_without_a_length_is_stopped_at_the_route_limit() {
    let app = impatient_app().await;
    let mut stream = connect(&app).await;
    let path = "/ingest/finalize-day";
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: origin\r\n{}Transfer-Encoding: chunked\r\n\r\n",
        fresh_signature_headers(path)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    let mut sent = 0;
    // Up to 1 MiB in 16 KiB chunks; the origin must answer long before the end.
    for _ in 0..64 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 0x4000;
        if answered(&stream, 50).await {
            break;
        }
    }
    let answer = read_response(&mut stream, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        sent <= 128 * 1024,
        "the origin read {sent} bytes before refusing"
    );
}

#[tokio::test]
async fn a_signed_batch_larger_than_the_pre_auth_limit_is_still_applied() {
    let app = impatient_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let counters = (0..1_500)
        .map(|minute| {
            delta(
                "rocket",
                "2026-12-01",
                minute % 1_440,
                "producthunt",
                "view",
                1,
            )
        })
        .collect();
    let big = batch("rocket:big", counters);
    assert!(serde_json::to_vec(&big).unwrap().len() > 64 * 1024);
    assert!(app.ingest_ok(&big).await);
    assert_eq!(app.day_total("rocket", "view").await, 1_500);
}

#[test]
fn the_origin_refuses_to_start_with_a_secret_shorter_than_32_bytes() {
    let short = "only-31-bytes-of-signing-secret";
    assert_eq!(short.len(), 31);
    let long = "a-signing-secret-of-at-least-32-bytes";
    for (name, secret, token) in [
        ("ORIGIN_SIGNING_SECRET", short, None),
        ("METRICS_TOKEN", long, Some(("METRICS_TOKEN", short))),
        ("DASHBOARD_TOKEN", long, Some(("DASHBOARD_TOKEN", short))),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_launch-edge-origin"));
        command
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
            .env("ORIGIN_BIND", "127.0.0.1:0")
            .env("ORIGIN_SIGNING_SECRET", secret)
            .env("RUST_LOG", "off");
        if let Some((var, value)) = token {
            command.env(var, value);
        }
        let output = command.output().expect("the binary runs");
        assert!(!output.status.success(), "{name}: it started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(name) && stderr.contains("32 bytes"),
            "{stderr}"
        );
        assert!(
            !stderr.contains(short),
            "the refused value is printed: {stderr}"
        );
    }
}

/// The head of an ingest batch of 1 MiB with fresh signature headers, and no body yet.
async fn send_large_head(stream: &mut TcpStream) {
    let head = format!(
        "POST /ingest/batch HTTP/1.1\r\nHost: origin\r\n{}Content-Length: 1048576\r\n\r\n",
        fresh_signature_headers("/ingest/batch")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
}

#[tokio::test]
async fn large_unverified_bodies_are_read_a_few_at_a_time_and_never_hold_up_a_render() {
    let mut server = server_settings();
    server.limits.body_timeout_secs = 2;
    let app = spawn_app_with_server(server).await;
    app.seed_launch("rocket", "Rocket").await;
    // As many stalled large bodies as there are permits: each holds one until the body
    // timeout (2 s) ends it.
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..launch_edge_origin::auth::LARGE_PRE_AUTH_READS {
        let mut stream = connect(&app).await;
        send_large_head(&mut stream).await;
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more waits for a permit: its whole body is sent, yet it is not read (answered)
    // before a stalled one times out.
    let mut queued = connect(&app).await;
    send_large_head(&mut queued).await;
    let (mut answers, mut body) = queued.into_split();
    // Written from a task: the origin reads none of it until the request has a permit.
    let writer = tokio::spawn(async move {
        let _ = body.write_all(&vec![b' '; 1_048_576]).await;
        body
    });
    // A render needs no permit: answered at once.
    let render = app.signed("GET", "/render/rocket", b"").await;
    assert_eq!(render.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(1_500));
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).trim_end().ends_with('}') {
        match tokio::time::timeout(Duration::from_secs(6), answers.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            other => panic!("no answer to the queued request: {other:?}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    let _ = writer.await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(1_800),
        "read after {:?}, before any permit was free",
        started.elapsed()
    );
    drop(stalled);
}
