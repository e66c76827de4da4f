//! Routes requests by method and path segments; every handler error becomes a response here.

use launch_edge_core::config::ConfigError;
use worker::js_sys::{Object, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{Context, Env, Method, Request, Response};

use crate::edge::Edge;
use crate::error::AppError;
use crate::isolate::tally;
use crate::routes::{admin, counting, pages, tasks, test_hooks, webhooks};

pub async fn handle(raw: web_sys::Request, env: Env, ctx: Context) -> Response {
    let edge = Edge::new(env, ctx);
    if !edge.as_ref().is_ok_and(|edge| edge.config.bot_management) {
        hide_cf(&raw);
    }
    let mut req = Request::from(raw);
    match route(&mut req, edge).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// Keeps `worker::Request::from` from reading `request.cf`, which it does for every
/// request and which workerd builds by parsing the request's cf JSON on first read: 7% of
/// a counted view's and 11% of `/healthz`'s isolate samples in local workerd
/// (`bash scripts/profile.sh view`, 2026-12-07). Only the bot verdict uses it, and only
/// with `BOT_MANAGEMENT=enabled` ([`launch_edge_core::config::Config::bot_management`]).
/// An own `cf` property valued `undefined` shadows the prototype's getter, so the
/// conversion finds no cf and [`Request::cf`] is `None`. Should the runtime ever refuse
/// the property, the getter is read as before: slower, never wrong.
fn hide_cf(raw: &web_sys::Request) {
    thread_local! {
        // The property's name and descriptor, built once per isolate, not per request.
        static NO_CF: (JsValue, Object) = {
            let descriptor = Object::new();
            let _ = Reflect::set(&descriptor, &JsValue::from_str("value"), &JsValue::UNDEFINED);
            (JsValue::from_str("cf"), descriptor)
        };
    }
    NO_CF.with(|(name, descriptor)| {
        let _ = Reflect::define_property(raw, name, descriptor);
    });
}

async fn route(
    req: &mut Request,
    edge: Result<Edge, (Env, ConfigError)>,
) -> Result<Response, AppError> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method();

    if let ["healthz"] = segments.as_slice() {
        return Ok(Response::ok("ok")?);
    }
    let edge = match edge {
        Ok(edge) => edge,
        Err((env, err)) => return admin::health_when_misconfigured(req, &env, err),
    };
    let (env, ctx, config) = (&edge.env, &edge.ctx, edge.config.clone());

    match (method, segments.as_slice()) {
        (Method::Post, ["launch", slug, "events"]) => {
            counting::beacon(req, slug, config, env, ctx).await
        }
        (Method::Options, ["launch", slug, "events"]) => {
            counting::beacon_preflight(req, slug, config, env, ctx).await
        }
        (Method::Post, ["launch", slug, "conversions"]) => {
            counting::signed_conversion(req, slug, config, env, ctx).await
        }
        (Method::Get, ["go", slug]) => counting::click(req, slug, config, env, ctx).await,
        (Method::Post, ["webhooks", source]) => {
            let received = webhooks::receive(req, source, env).await;
            if let Err(AppError::Webhook(rejection)) = &received {
                let name = format!("webhook_rejected.{}", rejection.code().replace(':', "."));
                tally::count_edge_later(env, ctx, name);
            }
            received
        }
        (_, ["webhooks", _]) => Err(AppError::MethodNotAllowed),
        (Method::Get | Method::Head, ["launch", slug]) => {
            pages::serve(req, slug, config, env, ctx).await
        }
        // `/launch/a/b`, `/launch/` or an encoded traversal: never a valid slug.
        (_, ["launch", rest @ ..]) => Err(launch_edge_proto::Slug::parse(&rest.join("/"))
            .err()
            .map_or(AppError::MethodNotAllowed, AppError::from)),
        (_, ["admin", ..]) => {
            admin::authorize(req, &config)?;
            match (req.method(), &segments[1..]) {
                (Method::Post, ["launches", slug, "prewarm"]) => {
                    admin::prewarm(slug, &config, env).await
                }
                (Method::Get, ["pages"]) => admin::list_pages(env).await,
                (_, ["tasks", ..] | ["monitor", ..]) => {
                    tasks::handle(req, &segments[1..], &config, env).await
                }
                (Method::Get, ["health"]) => admin::health(&config),
                (_, ["test", rest @ ..]) => test_hooks::handle(req, rest, &config, env).await,
                (Method::Get, ["launches", slug, "conversion-key"]) => {
                    counting::conversion_key(slug, env)
                }
                (Method::Get, ["dead-letters"]) => admin::dead_letters(&config, env).await,
                (Method::Post, ["dead-letters", id @ .., "requeue"]) if !id.is_empty() => {
                    admin::requeue_dead_letter(&id.join("/"), &config, env).await
                }
                (Method::Get, ["launches", slug, "stats"]) => {
                    counting::stats(req, slug, &config, env).await
                }
                _ => Err(AppError::RouteNotFound),
            }
        }
        _ => Err(AppError::RouteNotFound),
    }
}
