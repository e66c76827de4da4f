//! A [`Visit`] read off a worker request, for counting: the source of the visit (query,
//! the landing fields a beacon carries, Referer), the bot verdict and the daily-salted
//! visitor hash. Never the raw IP. The decisions are core's
//! ([`launch_edge_core::visit`]); this is the part that reads `worker::Request`.

use std::cell::RefCell;

use launch_edge_core::config::Config;
use launch_edge_core::count::shard::{CountedEvent, EventKind};
use launch_edge_core::visit::attribution::attribute;
use launch_edge_core::visit::bots::{classify, Traffic};
use launch_edge_core::visit::visitors::{visitor_hash, SaltCache};
use launch_edge_proto::Slug;
use worker::{Request, Url};

use crate::error::AppError;
use crate::net::origin::now_ms;

/// Who made a request, as counting needs it (never the raw IP).
pub struct Visit {
    pub visitor: u64,
    pub traffic: Traffic,
    pub source: String,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

impl Visit {
    /// `url` is the request's URL, parsed once by the caller.
    pub fn of(req: &Request, url: &Url, config: &Config, now: u64) -> Result<Self, AppError> {
        Self::with_landing(req, url, &[], config, now)
    }

    /// [`Visit::of`] with the landing visit's source carried by the page (a beacon's body
    /// fields): the URL's query first, then `landing`; a `landing_referrer` among them
    /// stands for the Referer (the request's own Referer is the landing page itself).
    pub fn with_landing(
        req: &Request,
        url: &Url,
        landing: &[(String, String)],
        config: &Config,
        now: u64,
    ) -> Result<Self, AppError> {
        thread_local! {
            static SALTS: RefCell<SaltCache> = RefCell::new(SaltCache::default());
        }
        let headers = req.headers();
        let ip = headers.get("cf-connecting-ip")?.unwrap_or_default();
        let user_agent = headers.get("user-agent")?;
        let visitor = SALTS.with(|salts| {
            let mut salts = salts.borrow_mut();
            let salt = salts.salt_at(&config.visitor_salt, now as i64);
            visitor_hash(&ip, user_agent.as_deref().unwrap_or(""), salt.as_bytes())
        });
        // `None` unless `BOT_MANAGEMENT=enabled`: the router hides `request.cf` otherwise.
        let bot = req.cf().and_then(|cf| cf.bot_management());
        let traffic = classify(
            user_agent.as_deref(),
            bot.as_ref().map(|b| b.score().min(u8::MAX as u32) as u8),
            bot.as_ref().map(|b| b.verified_bot()),
        );
        let mut query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        query.extend_from_slice(landing);
        let referer = match query.iter().find(|(k, _)| k == "landing_referrer") {
            Some((_, landing_referrer)) => Some(landing_referrer.clone()),
            None => headers.get("referer")?,
        };
        let attribution = attribute(
            query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            referer.as_deref(),
            url.host_str(),
        );
        Ok(Self {
            visitor,
            traffic,
            source: attribution.source,
            medium: attribution.medium,
            campaign: attribution.campaign,
        })
    }

    pub fn event(
        &self,
        launch: &Slug,
        kind: EventKind,
        revenue_cents: i64,
        at_ms: u64,
    ) -> CountedEvent {
        CountedEvent {
            launch: launch.to_string(),
            kind,
            source: self.source.clone(),
            medium: self.medium.clone(),
            campaign: self.campaign.clone(),
            revenue_cents,
            currency: None,
            at_ms: at_ms as i64,
            visitor: (!self.traffic.is_bot()).then_some(self.visitor),
            edge: Vec::new(),
        }
    }
}

/// Header honoured only when `TEST_CLIENT_CLOCK = "enabled"` (never in `wrangler.toml`):
/// lets the end-to-end tests count events at chosen instants, e.g. the 2 a.m. DST edges,
/// since workerd's clock cannot be moved.
pub const TEST_NOW_HEADER: &str = "x-launch-edge-test-now";

/// When the event happened: the edge clock, or the test clock where enabled.
pub fn event_time(req: &Request, config: &Config) -> u64 {
    let test_now = || {
        req.headers()
            .get(TEST_NOW_HEADER)
            .ok()
            .flatten()?
            .parse()
            .ok()
    };
    match config.client_clock_for_tests {
        true => test_now().unwrap_or_else(now_ms),
        false => now_ms(),
    }
}
