//! Bots and crawlers: served like anyone, counted as `bot_view`, never as visitors.
//!
//! Signals, strongest first:
//! 1. Cloudflare Bot Management, when the zone has it (`request.cf.botManagement`):
//!    `verifiedBot = true` (a known good crawler) or a score below [`CF_BOT_SCORE_BELOW`]
//!    (1 = certainly automated, 99 = certainly human) means a bot. A score of 0 means
//!    "not computed" and is ignored.
//! 2. The user agent, through the `iscrawl` crate: any crawler keyword (`bot`, `crawl`,
//!    `spider`, `http`, `@`, `fetch`, `preview`, ...) or no browser engine token at all
//!    (`curl/8`, `python-requests`, `Go-http-client`) means a bot. Being a heuristic
//!    rather than a list, it also catches crawlers too new for any list.
//! 3. A few automation tools that do announce themselves but carry a real engine token
//!    (headless Chrome, Lighthouse, PhantomJS, ...), listed here.
//!
//! A missing or empty user agent is a bot (browsers always send one), and so is one
//! longer than [`MAX_HUMAN_USER_AGENT`] bytes (real browsers stay far below; iscrawl
//! would wave such strings through unclassified).
//!
//! Why `iscrawl` rather than `isbot`: the `isbot` crate has not been released since 2022
//! and compiles one regular expression of ~350 alternations, which pulls the `regex`
//! crate into the WASM (about +1 MB before wasm-opt, measured) and costs a regex
//! compilation on every cold isolate. `iscrawl` (maintained, no dependencies) adds about
//! 80 KB, most of it a 64 KiB lookup table, and answers in nanoseconds.

/// Cloudflare bot scores below this are bots (Cloudflare's "likely automated" band).
pub const CF_BOT_SCORE_BELOW: u8 = 30;

/// Longest user agent still classified as a possible human, in bytes.
pub const MAX_HUMAN_USER_AGENT: usize = 512;

/// Self-declared automation that carries a browser engine token (matched lowercase).
const AUTOMATION_TOKENS: &[&str] = &[
    "headlesschrome",
    "lighthouse",
    "phantomjs",
    "prerender",
    "pagespeed",
    "gtmetrix",
    "selenium",
    "puppeteer",
    "playwright",
    "cypress",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    Human,
    Bot,
}

impl Traffic {
    pub fn is_bot(self) -> bool {
        self == Traffic::Bot
    }
}

/// Classifies a request from its user agent and Cloudflare's bot signals, when present.
pub fn classify(
    user_agent: Option<&str>,
    cf_bot_score: Option<u8>,
    cf_verified_bot: Option<bool>,
) -> Traffic {
    if cf_verified_bot == Some(true) {
        return Traffic::Bot;
    }
    if cf_bot_score.is_some_and(|score| score != 0 && score < CF_BOT_SCORE_BELOW) {
        return Traffic::Bot;
    }
    let user_agent = user_agent.map(str::trim).unwrap_or_default();
    if user_agent.is_empty() || user_agent.len() > MAX_HUMAN_USER_AGENT {
        return Traffic::Bot;
    }
    if iscrawl::is_crawler(user_agent) {
        return Traffic::Bot;
    }
    let lowered = user_agent.to_ascii_lowercase();
    if AUTOMATION_TOKENS
        .iter()
        .any(|token| lowered.contains(token))
    {
        return Traffic::Bot;
    }
    Traffic::Human
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
        AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) \
        AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36";

    fn by_agent(user_agent: &str) -> Traffic {
        classify(Some(user_agent), None, None)
    }

    #[test]
    fn everyday_browsers_are_human() {
        for agent in [CHROME_DESKTOP, SAFARI_IOS, FIREFOX_LINUX, CHROME_ANDROID] {
            assert_eq!(by_agent(agent), Traffic::Human, "{agent}");
        }
    }

    #[test]
    fn search_engine_crawlers_are_bots() {
        for agent in [
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 \
             (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; \
             +https://openai.com/gptbot)",
        ] {
            assert_eq!(by_agent(agent), Traffic::Bot, "{agent}");
        }
    }

    #[test]
    fn link_previews_and_social_fetchers_are_bots() {
        for agent in [
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        ] {
            assert_eq!(by_agent(agent), Traffic::Bot, "{agent}");
        }
    }

    #[test]
    fn command_line_clients_and_libraries_are_bots() {
        for agent in [
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.32.3",
            "Go-http-client/2.0",
            "node-fetch/1.0",
        ] {
            assert_eq!(by_agent(agent), Traffic::Bot, "{agent}");
        }
    }

    #[test]
    fn headless_browsers_and_audit_tools_are_bots() {
        for agent in [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             HeadlessChrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        ] {
            assert_eq!(by_agent(agent), Traffic::Bot, "{agent}");
        }
    }

    #[test]
    fn a_missing_or_empty_user_agent_is_a_bot() {
        assert_eq!(classify(None, None, None), Traffic::Bot);
        assert_eq!(by_agent(""), Traffic::Bot);
        assert_eq!(by_agent("   "), Traffic::Bot);
    }

    #[test]
    fn an_absurdly_long_user_agent_is_a_bot() {
        let padded = format!("{CHROME_DESKTOP} {}", "x".repeat(MAX_HUMAN_USER_AGENT));
        assert_eq!(by_agent(&padded), Traffic::Bot);
    }

    #[test]
    fn cloudflare_signals_override_a_browser_user_agent() {
        assert_eq!(classify(Some(CHROME_DESKTOP), Some(1), None), Traffic::Bot);
        assert_eq!(classify(Some(CHROME_DESKTOP), Some(29), None), Traffic::Bot);
        assert_eq!(
            classify(Some(CHROME_DESKTOP), Some(30), None),
            Traffic::Human
        );
        assert_eq!(
            classify(Some(CHROME_DESKTOP), Some(99), Some(true)),
            Traffic::Bot
        );
        assert_eq!(
            classify(Some(CHROME_DESKTOP), Some(99), Some(false)),
            Traffic::Human
        );
    }

    #[test]
    fn a_score_of_zero_means_not_computed_and_is_ignored() {
        assert_eq!(classify(Some(SAFARI_IOS), Some(0), None), Traffic::Human);
    }

    #[test]
    fn a_good_cloudflare_score_does_not_clear_a_crawler_user_agent() {
        assert_eq!(
            classify(Some("curl/8.5.0"), Some(90), Some(false)),
            Traffic::Bot
        );
        assert!(classify(Some("curl/8.5.0"), None, None).is_bot());
    }
}
