//! `GET /launches`, `GET /launches/:slug` (HTML) and `GET /api/launches/:slug/series`
//! (JSON), behind the dashboard token; `GET`/`POST /login` and `POST /logout`.
//!
//! The dashboard shows revenue, so it is never public. Access takes the `DASHBOARD_TOKEN`
//! as a bearer header, or a cookie set by the login form: `POST /login` with the token in
//! the form body (never in a URL, where it would stay in the history, the logs of every
//! proxy and the `Referer`). The cookie is `HttpOnly; SameSite=Strict`, and `Secure` when
//! the request came over https (`X-Forwarded-Proto: https` from the TLS proxy, or an
//! https `ORIGIN_PUBLIC_URL`). On plain-http localhost it is sent without `Secure`, or the
//! browser would never send it back over http; it never leaves the machine there. A
//! browser opening a dashboard page without a valid cookie is sent to the form; API
//! clients get 401. Tokens are compared in constant time ([`Secret::matches`]); with no
//! token configured the dashboard is closed rather than open.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use launch_edge_proto::{Secret, Slug};
use serde::{Deserialize, Serialize};

use crate::auth::bearer;
use crate::dashboard::data::{self, Dimension, MinutePoint};
use crate::dashboard::period::Period;
use crate::dashboard::view::{
    self, DashboardData, DashboardPage, IndexPage, LoginPage, REFRESH_MAX_SECS, REFRESH_MIN_SECS,
    REFRESH_SECS,
};
use crate::error::AppError;
use crate::ingest::parse_day;
use crate::state::AppState;
use crate::{launches, reports};

pub const COOKIE: &str = "launch_edge_dashboard";
/// A week: the whole launch week from one sign-in.
const COOKIE_MAX_AGE_SECS: u32 = 7 * 24 * 3600;
/// Where the login form sends a browser when it was not given a dashboard page.
const HOME: &str = "/launches";

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A query string without any `token=` parameter: an old `?token=` link must not carry
/// the token on into the login form's URL.
fn without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect::<Vec<_>>()
        .join("&")
}

/// `next` if it is a dashboard path on this origin, else [`HOME`]: the login form must
/// not become an open redirect (`//evil.example`, `/\evil.example`, a scheme).
fn safe_next(next: &str) -> &str {
    let plain = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if plain && (next == HOME || next.starts_with("/launches/") || next.starts_with("/launches?")) {
        next
    } else {
        HOME
    }
}

/// Whether the browser reached the origin over https: its TLS proxy says so, or the
/// operator configured an https public URL.
fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    state.public_https || forwarded
}

fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}{secure}")
}

/// The presented token against the current one and, during a rotation, the previous one
/// (each compared in constant time).
fn check(state: &AppState, expected: &Secret, presented: &str) -> Result<(), AppError> {
    let previous = state.dashboard_token_previous.as_ref();
    (expected.matches(presented.as_bytes())
        || previous.is_some_and(|p| p.matches(presented.as_bytes())))
    .then_some(())
    .ok_or(AppError::DashboardAuth("dashboard_token_invalid"))
}

/// Headers every dashboard answer carries: never cached, never referred, never framed.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // Locations are built from checked paths and percent-encoding; cookies from a token
    // whose charset is validated at start-up: both are valid header values.
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(Ok(cookie)) = cookie.map(|c| HeaderValue::from_str(&c)) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    private(response)
}

/// A browser asking for a dashboard page (not the JSON API): it gets the login form.
fn is_page_request(request: &Request) -> bool {
    let accepts_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    accepts_html
        && matches!(*request.method(), Method::GET | Method::HEAD)
        && !request.uri().path().starts_with("/api/")
}

fn login_redirect(uri: &Uri) -> Response {
    let query = without_token(uri.query().unwrap_or(""));
    let next = if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{query}", uri.path())
    };
    let next: String = url::form_urlencoded::byte_serialize(safe_next(&next).as_bytes()).collect();
    see_other(&format!("/login?next={next}"), None)
}

pub async fn require_dashboard_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let expected = state
        .dashboard_token
        .as_ref()
        .ok_or(AppError::DashboardAuth("dashboard_token_not_configured"))?;
    let verdict = match bearer(request.headers()).or_else(|| cookie(request.headers())) {
        Some(presented) => check(&state, expected, presented),
        None => Err(AppError::DashboardAuth("dashboard_token_required")),
    };
    if let Err(refused) = verdict {
        if is_page_request(&request) {
            return Ok(login_redirect(request.uri()));
        }
        return Err(refused);
    }
    Ok(private(next.run(request).await))
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn login_page(
    status: StatusCode,
    next: &str,
    problem: Option<&'static str>,
) -> Result<Response, AppError> {
    let page = LoginPage {
        next: safe_next(next),
        problem,
    };
    Ok(private((status, Html(page.render()?)).into_response()))
}

/// `GET /login[?next=/launches/...]`: the sign-in form.
pub async fn login_form(Query(query): Query<NextQuery>) -> Result<Response, AppError> {
    login_page(StatusCode::OK, query.next.as_deref().unwrap_or(HOME), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /login` (`application/x-www-form-urlencoded`: `token`, `next`): sets the cookie
/// and sends the browser on to `next`, or shows the form again with 401.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Ok(Form(form)) = form else {
        return Err(AppError::BadRequest("invalid_login_form"));
    };
    let Some(expected) = state.dashboard_token.as_ref() else {
        let problem = "The dashboard is closed: DASHBOARD_TOKEN is not set on the origin.";
        return login_page(StatusCode::UNAUTHORIZED, &form.next, Some(problem));
    };
    if check(&state, expected, &form.token).is_err() {
        let problem = "That is not the dashboard token.";
        return login_page(StatusCode::UNAUTHORIZED, &form.next, Some(problem));
    }
    let cookie = session_cookie(&form.token, over_https(&state, &headers));
    Ok(see_other(safe_next(&form.next), Some(cookie)))
}

/// `POST /logout`: forgets the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let secure = if over_https(&state, &headers) {
        "; Secure"
    } else {
        ""
    };
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    see_other("/login", Some(expired))
}

#[derive(Debug, Deserialize)]
pub struct DayQuery {
    day: Option<String>,
}

fn parse(raw_slug: &str, query: &DayQuery) -> Result<(Slug, Option<NaiveDate>), AppError> {
    let slug = Slug::parse(raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    let day = query.day.as_deref().map(parse_day).transpose()?;
    Ok((slug, day))
}

pub async fn index(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let headlines = data::headlines(&state.pool).await?;
    Ok(Html(IndexPage::new(&headlines).render()?))
}

/// The dashboard's query: the period (`day`, or `from` and `to`), `format` (`html`,
/// `json` for the live figures, `csv` with `table`), `refresh` (seconds between polls)
/// and `notice` (a requeue's outcome, shown once).
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    day: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    table: Option<String>,
    refresh: Option<String>,
    notice: Option<String>,
}

/// A notice code (from the requeue redirect) to its sentence; unknown codes show nothing.
fn notice_text(code: &str) -> Option<String> {
    let (what, id) = code.split_once(':')?;
    let id: i64 = id.parse().ok()?;
    Some(match what {
        "requeued" => format!("Dead letter {id} requeued: its row is stored."),
        "still_fails" => format!("Dead letter {id} still fails; its last error is kept."),
        "already_requeued" => format!("Dead letter {id} was already requeued."),
        "not_found" => format!("There is no dead letter {id}."),
        _ => return None,
    })
}

fn refresh_secs(raw: Option<&str>) -> Result<u32, AppError> {
    let Some(raw) = raw else {
        return Ok(REFRESH_SECS);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|s| (REFRESH_MIN_SECS..=REFRESH_MAX_SECS).contains(s))
        .ok_or(AppError::BadRequest("invalid_refresh"))
}

struct Loaded {
    report: reports::Report,
    period: Period,
    chart_day: Option<NaiveDate>,
    minutes: Vec<MinutePoint>,
    daily_uniques: Vec<(NaiveDate, i64)>,
    dims: Vec<(Dimension, Vec<data::FunnelByRow>)>,
    ph: Vec<data::PhObservation>,
    launch_at: Option<chrono::DateTime<chrono::Utc>>,
    edge: data::EdgeSummary,
    dead: data::DeadLetters,
}

impl Loaded {
    fn view(&self) -> DashboardData<'_> {
        DashboardData {
            report: &self.report,
            period: self.period,
            chart_day: self.chart_day,
            minutes: &self.minutes,
            daily_uniques: &self.daily_uniques,
            dims: &self.dims,
            vote_velocity: data::vote_velocity(&self.ph),
            ph: &self.ph,
            launch_at: self.launch_at,
            edge: &self.edge,
            dead: &self.dead,
        }
    }
}

async fn load(state: &AppState, slug: &Slug, period: Period) -> Result<Loaded, AppError> {
    let pool = &state.pool;
    let (from, to) = period.bounds();
    let report = crate::reports::build_period(pool, slug, from, to).await?;
    let launch_at = launches::find(pool, slug).await?.map(|l| l.launch_at);
    let chart_day = match to {
        Some(day) => Some(day),
        None => data::latest_day(pool, slug).await?,
    };
    let minutes = match chart_day {
        Some(d) => data::minute_series(pool, slug, d).await?,
        None => Vec::new(),
    };
    let daily_uniques: Vec<(NaiveDate, i64)> = data::daily_uniques(pool, slug)
        .await?
        .into_iter()
        .filter(|(d, _)| from.is_none_or(|f| *d >= f) && to.is_none_or(|t| *d <= t))
        .collect();
    let mut dims = Vec::with_capacity(Dimension::ALL.len());
    for dim in Dimension::ALL {
        dims.push((
            *dim,
            data::funnel_by(pool, slug, &report.currency, *dim, from, to).await?,
        ));
    }
    let ph = data::ph_stats(pool, slug).await?;
    let edge = data::edge_summary_range(pool, slug, from, to).await?;
    let dead = data::dead_letters(pool, from, to).await?;
    Ok(Loaded {
        report,
        period,
        chart_day,
        minutes,
        daily_uniques,
        dims,
        ph,
        launch_at,
        edge,
        dead,
    })
}

fn csv_response(slug: &Slug, period: Period, name: &str, body: String) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}-{name}-{}.csv\"",
        slug.as_str(),
        period.file_part()
    );
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `GET /launches/{slug}`: the page; `?format=json` the live figures it polls;
/// `?format=csv&table=NAME` one table (see [`view::TABLES`]). Refusals (400):
/// the period's codes ([`Period::parse`]), `invalid_format`, `unknown_table`,
/// `invalid_refresh`.
pub async fn page(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let slug = Slug::parse(&raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    let period = Period::parse(
        query.day.as_deref(),
        query.from.as_deref(),
        query.to.as_deref(),
    )?;
    let refresh = refresh_secs(query.refresh.as_deref())?;
    let format = query.format.as_deref().unwrap_or("html");
    if !matches!(format, "html" | "json" | "csv") {
        return Err(AppError::BadRequest("invalid_format"));
    }
    let table_name = query.table.as_deref();
    if format == "csv" && !table_name.is_some_and(|t| view::TABLES.contains(&t)) {
        return Err(AppError::BadRequest("unknown_table"));
    }
    let loaded = load(&state, &slug, period).await?;
    let d = loaded.view();
    Ok(match format {
        "json" => {
            let figures: serde_json::Map<String, serde_json::Value> = view::live_figures(&d)
                .into_iter()
                .map(|f| (f.key.to_owned(), serde_json::Value::String(f.value)))
                .collect();
            Json(serde_json::json!({
                "launch": slug.as_str(),
                "period": period.label(),
                "generated_at": crate::dashboard::period::pt_full(chrono::Utc::now()),
                "figures": figures,
            }))
            .into_response()
        }
        "csv" => {
            let name = table_name.unwrap_or_default();
            let table = view::table(&d, name).ok_or(AppError::BadRequest("unknown_table"))?;
            csv_response(&slug, period, name, table.to_csv())
        }
        _ => {
            let notice = query.notice.as_deref().and_then(notice_text);
            Html(DashboardPage::new(&d, refresh, notice).render()?).into_response()
        }
    })
}

/// The host (and port) a browser's `Origin` header names, if it is an http(s) origin.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    (!rest.is_empty() && !rest.contains(['/', '?', '#', '@'])).then_some(rest)
}

/// A cookie-authenticated POST must come from a page of this origin (the cookie is also
/// `SameSite=Strict`): the browser's `Sec-Fetch-Site` says `same-origin`, or, from a
/// browser that sends none, `Origin` names the `Host` the request was sent to. (The
/// dashboard's `Referrer-Policy: no-referrer` makes browsers send `Origin: null` on its
/// own forms, so `Sec-Fetch-Site` is the check modern browsers meet.) A bearer token,
/// never added by a browser on its own, needs neither.
fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    if bearer(headers).is_some() {
        return Ok(());
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return if site == "same-origin" {
            Ok(())
        } else {
            Err("csrf_cross_site")
        };
    }
    let origin = text("origin").ok_or("csrf_origin_missing")?;
    match (origin_host(origin), text("host")) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err("csrf_origin_mismatch"),
    }
}

/// `POST /launches/{slug}/dead-letters/{id}/requeue` (from the dashboard's panel):
/// requeues an origin dead letter as `POST /ingest/dead-letters/{id}/requeue` and the
/// CLI do, then sends the browser back to the dashboard with the outcome. 403
/// `csrf_cross_site`, `csrf_origin_missing` or `csrf_origin_mismatch` for a form from
/// another site (or with no way to tell);
/// `Accept: application/json` gets the outcome as JSON instead of the redirect.
pub async fn requeue(
    State(state): State<AppState>,
    Path((raw_slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Err(code) = same_origin(&headers) {
        let body = Json(serde_json::json!({ "error": code }));
        return Ok(private((StatusCode::FORBIDDEN, body).into_response()));
    }
    let slug = Slug::parse(&raw_slug).map_err(|e| AppError::BadRequest(e.code()))?;
    let id: i64 = id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::BadRequest("invalid_dead_letter_id"))?;
    use crate::ingest::dead_letters::{self, RequeueError};
    let (status, outcome) = match dead_letters::requeue(&state.pool, id).await {
        Ok(_) => (StatusCode::OK, "requeued"),
        Err(RequeueError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
        Err(RequeueError::AlreadyRequeued(_)) => (StatusCode::CONFLICT, "already_requeued"),
        Err(RequeueError::StillFails { .. }) => (StatusCode::UNPROCESSABLE_ENTITY, "still_fails"),
        Err(RequeueError::Other(e)) => return Err(e),
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok((
            status,
            Json(serde_json::json!({ "id": id, "outcome": outcome })),
        )
            .into_response());
    }
    Ok(see_other(
        &format!(
            "/launches/{}?notice={outcome}:{id}#dead-letters",
            slug.as_str()
        ),
        None,
    ))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SeriesResponse {
    pub launch: String,
    /// The Pacific day charted: the one asked for, else the latest with traffic.
    pub day: Option<NaiveDate>,
    pub minutes: Vec<MinutePoint>,
}

pub async fn series(
    State(state): State<AppState>,
    Path(raw_slug): Path<String>,
    Query(query): Query<DayQuery>,
) -> Result<Json<SeriesResponse>, AppError> {
    let (slug, day) = parse(&raw_slug, &query)?;
    launches::find(&state.pool, &slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let day = match day {
        Some(day) => Some(day),
        None => data::latest_day(&state.pool, &slug).await?,
    };
    let minutes = match day {
        Some(d) => data::minute_series(&state.pool, &slug, d).await?,
        None => Vec::new(),
    };
    Ok(Json(SeriesResponse {
        launch: slug.as_str().to_owned(),
        day,
        minutes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_dropped_from_the_query_and_the_rest_kept() {
        assert_eq!(without_token("token=abc&day=2026-12-01"), "day=2026-12-01");
        assert_eq!(without_token(""), "");
    }

    #[test]
    fn only_dashboard_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next("/launches/rocket?day=2026-12-01"),
            "/launches/rocket?day=2026-12-01"
        );
        assert_eq!(safe_next("/launches"), "/launches");
        for hostile in [
            "//evil.example/launches",
            "https://evil.example",
            "/\\evil.example",
            "/launchesx",
            "/metrics",
            "/launches/a b",
            "",
        ] {
            assert_eq!(safe_next(hostile), HOME, "{hostile}");
        }
    }

    #[test]
    fn the_dashboard_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; launch_edge_dashboard=tok; b=2"),
        );
        assert_eq!(cookie(&headers), Some("tok"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("launch_edge_dashboardX=1"),
        );
        assert_eq!(cookie(&headers), None);
    }
}
