//! Validating one row of a batch on its own: what to write, or the reason code it is
//! dead-lettered with. Pure: no database, no clock.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate};
use launch_edge_proto::batch::{CounterDelta, PhPostStat, UniquesSketch, WebhookEventRecord};
use launch_edge_proto::uniques;
use launch_edge_proto::Slug;
use serde::Deserialize;

use super::{
    parse_day, RowKind, RowWrite, ValidEvent, EDGE_METRIC_PREFIX, MAX_DELTA_VALUE, MAX_LABEL_LEN,
    MAX_METRIC_LEN,
};

/// A row-level refusal: the reason code stored with the dead letter.
pub(crate) type RowResult<T> = Result<T, &'static str>;

fn day(raw: &str) -> RowResult<NaiveDate> {
    parse_day(raw).map_err(|_| "invalid_day")
}

pub(super) fn label(raw: &str, max: usize, code: &'static str) -> RowResult<()> {
    let ok = !raw.is_empty() && raw.len() <= max && !raw.chars().any(char::is_control);
    ok.then_some(()).ok_or(code)
}

fn launch(raw: &str) -> RowResult<()> {
    Slug::parse(raw).map(drop).map_err(|_| "invalid_launch")
}

fn metric(raw: &str) -> RowResult<()> {
    let charset = raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'));
    label(raw, MAX_METRIC_LEN, "invalid_metric")?;
    if !charset {
        return Err("invalid_metric");
    }
    // Revenue per currency (`revenue_cents.usd`): reports keep currencies apart by this
    // suffix, so a malformed one would be revenue in no currency at all.
    crate::reports::currency::is_valid_revenue_metric(raw)
        .then_some(())
        .ok_or("invalid_currency")
}

fn counter_row(c: &CounterDelta) -> RowResult<RowWrite> {
    let edge_name = c.metric.strip_prefix(EDGE_METRIC_PREFIX);
    // Worker-wide edge counters have no launch: the empty string stands for "none".
    if !(edge_name.is_some() && c.launch.is_empty()) {
        launch(&c.launch)?;
    }
    let d = day(&c.day)?;
    if c.minute % 60 != 0 {
        return Err("minute_not_aligned");
    }
    if c.minute < 0 || DateTime::from_timestamp(c.minute, 0).is_none() {
        return Err("invalid_minute");
    }
    label(&c.source, MAX_LABEL_LEN, "invalid_source")?;
    // Medium and campaign may be empty (the visit had none).
    if !c.medium.is_empty() {
        label(&c.medium, MAX_LABEL_LEN, "invalid_medium")?;
    }
    if !c.campaign.is_empty() {
        label(&c.campaign, MAX_LABEL_LEN, "invalid_campaign")?;
    }
    metric(&c.metric)?;
    if c.value < 0 {
        return Err("negative_value");
    }
    if c.value > MAX_DELTA_VALUE {
        return Err("value_too_large");
    }
    if c.value == 0 {
        return Ok(RowWrite::Nothing);
    }
    if let Some(name) = edge_name {
        if name.is_empty() {
            return Err("invalid_metric");
        }
        return Ok(RowWrite::Edge(
            (c.launch.clone(), d, name.to_owned()),
            c.value,
        ));
    }
    Ok(RowWrite::Counter {
        minute: (
            c.launch.clone(),
            c.minute,
            c.source.clone(),
            c.metric.clone(),
        ),
        day: (
            c.launch.clone(),
            d,
            c.source.clone(),
            c.medium.clone(),
            c.campaign.clone(),
            c.metric.clone(),
        ),
        value: c.value,
    })
}

fn sketch_row(u: &UniquesSketch) -> RowResult<RowWrite> {
    launch(&u.launch)?;
    let d = day(&u.day)?;
    let bytes = STANDARD
        .decode(u.sketch.as_bytes())
        .map_err(|_| "malformed_sketch")?;
    uniques::estimate_serialized(&bytes).map_err(|_| "malformed_sketch")?;
    Ok(RowWrite::Sketch((u.launch.clone(), d), bytes))
}

/// True when a JSON value holds a NUL character anywhere (a key or a string), which
/// Postgres `jsonb` and `text` cannot store.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v))
        }
        _ => false,
    }
}

fn event_row(e: &WebhookEventRecord) -> RowResult<RowWrite> {
    label(&e.source, MAX_LABEL_LEN, "invalid_webhook_event")?;
    label(&e.event_id, MAX_LABEL_LEN, "invalid_webhook_event")?;
    label(&e.event_type, MAX_LABEL_LEN, "invalid_webhook_event")?;
    let received_at = DateTime::from_timestamp_millis(e.received_at_ms)
        .filter(|_| e.received_at_ms >= 0)
        .ok_or("invalid_webhook_event")?;
    if contains_nul(&e.payload) {
        return Err("payload_contains_nul");
    }
    Ok(RowWrite::Event(ValidEvent {
        source: e.source.clone(),
        event_id: e.event_id.clone(),
        event_type: e.event_type.clone(),
        received_at,
        payload: e.payload.to_string(),
    }))
}

fn ph_row(p: &PhPostStat) -> RowResult<RowWrite> {
    launch(&p.launch)?;
    let sane = p.votes >= 0
        && p.comments >= 0
        && p.votes <= i64::from(i32::MAX)
        && p.comments <= i64::from(i32::MAX)
        && DateTime::from_timestamp_millis(p.observed_at_ms).is_some()
        && p.featured_at_ms
            .is_none_or(|f| DateTime::from_timestamp_millis(f).is_some());
    if !sane {
        return Err("invalid_ph_stat");
    }
    Ok(RowWrite::PhStat(p.clone()))
}

/// Validates one raw row of `kind`: what to write, or why not.
pub(crate) fn check_row(kind: RowKind, raw: &str) -> RowResult<RowWrite> {
    fn parse<'a, T: Deserialize<'a>>(raw: &'a str) -> RowResult<T> {
        serde_json::from_str(raw).map_err(|_| "malformed_row")
    }
    match kind {
        RowKind::Counter => counter_row(&parse(raw)?),
        RowKind::Uniques => sketch_row(&parse(raw)?),
        RowKind::WebhookEvent => event_row(&parse(raw)?),
        RowKind::PhStat => ph_row(&parse(raw)?),
    }
}
