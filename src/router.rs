//! Routes requests by method and path segments; every handler error becomes a response here.

use worker::{Context, Env, Method, Request, Response};

use crate::edge::Edge;
use crate::error::AppError;
use crate::isolate::tally;
use crate::routes::{admin, counting, pages, tasks, test_hooks, webhooks};

pub async fn handle(mut req: Request, env: Env, ctx: Context) -> Response {
    match route(&mut req, env, ctx).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn route(req: &mut Request, env: Env, ctx: Context) -> Result<Response, AppError> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method();

    if let ["healthz"] = segments.as_slice() {
        return Ok(Response::ok("ok")?);
    }
    let edge = match Edge::new(env, ctx) {
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
