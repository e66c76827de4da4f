//! What is counted where: Pacific days, minutes, sources, visitors, kinds and shards.

use super::*;

#[test]
fn counter_rows_are_keyed_by_day_minute_source_and_metric() {
    let mut state = shard();
    state.apply(&view(NOON_MS, "producthunt", None)).unwrap();
    state
        .apply(&view(NOON_MS + 59_999, "producthunt", None))
        .unwrap();
    state
        .apply(&view(NOON_MS + 60_000, "producthunt", None))
        .unwrap();
    state.apply(&view(NOON_MS, "twitter.com", None)).unwrap();
    let batch = state.take_batch(100).unwrap().batch;
    let rows: Vec<(i64, &str, i64)> = batch
        .counters
        .iter()
        .map(|d| (d.minute, d.source.as_str(), d.value))
        .collect();
    let minute = NOON_MS / 1000;
    assert_eq!(
        rows,
        vec![
            (minute, "producthunt", 2),
            (minute, "twitter.com", 1),
            (minute + 60, "producthunt", 1)
        ]
    );
    assert!(batch
        .counters
        .iter()
        .all(|d| d.day == "2026-06-15" && d.minute % 60 == 0));
}

#[test]
fn events_at_the_dst_edges_land_on_the_right_pacific_day() {
    let mut state = shard();
    let at = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    };
    for instant in [
        "2026-03-08T09:59:59.999Z", // 01:59:59.999 PST
        "2026-03-08T10:00:00Z",     // 03:00 PDT
        "2026-03-09T06:59:59.999Z", // 23:59:59.999 PDT
        "2026-11-01T08:30:00Z",     // 01:30 PDT
        "2026-11-01T09:30:00Z",     // 01:30 PST
        "2026-11-02T07:59:59.999Z", // 23:59:59.999 PST
    ] {
        state.apply(&view(at(instant), "direct", None)).unwrap();
    }
    state
        .apply(&view(at("2026-03-09T07:00:00Z"), "direct", None))
        .unwrap();
    state
        .apply(&view(at("2026-11-02T08:00:00Z"), "direct", None))
        .unwrap();
    let views = |day: &str| state.totals("acme", day).stats().unwrap().views;
    assert_eq!(views("2026-03-08"), 3);
    assert_eq!(views("2026-03-09"), 1);
    assert_eq!(views("2026-11-01"), 3);
    assert_eq!(views("2026-11-02"), 1);
}

#[test]
fn unique_visitors_count_humans_once_and_never_bots() {
    let mut state = shard();
    for visitor in 0..1_000u64 {
        let hash = mix(visitor);
        state.apply(&view(NOON_MS, "direct", Some(hash))).unwrap();
        let ops = state
            .apply(&view(NOON_MS + 5, "direct", Some(hash)))
            .unwrap();
        assert!(ops
            .iter()
            .all(|op| !matches!(op, StorageOp::RaiseRegister(_))));
        let bot = CountedEvent {
            kind: EventKind::BotView,
            ..view(NOON_MS, "direct", Some(!hash))
        };
        state.apply(&bot).unwrap();
    }
    let stats = state.totals("acme", "2026-06-15").stats().unwrap();
    assert_eq!(stats.views, 2_000);
    assert_eq!(stats.bot_views, 1_000);
    assert!(
        (990..=1_010).contains(&stats.unique_visitors),
        "{}",
        stats.unique_visitors
    );
}

#[test]
fn changed_sketches_ride_along_and_are_resent_only_after_changing() {
    let mut state = shard();
    state.apply(&view(NOON_MS, "direct", Some(7))).unwrap();
    let first = state.take_batch(10).unwrap().batch;
    assert_eq!(first.uniques.len(), 1);
    state.ack(&first.batch_id).unwrap();
    state.apply(&view(NOON_MS, "direct", Some(7))).unwrap();
    let second = state.take_batch(10).unwrap().batch;
    assert!(
        second.uniques.is_empty(),
        "a repeat visitor changes no register"
    );
    state.ack(&second.batch_id).unwrap();
    state
        .apply(&view(NOON_MS, "direct", Some(u64::MAX)))
        .unwrap();
    let third = state.take_batch(10).unwrap().batch;
    let sketch = VisitorSketch::from_base64(&third.uniques[0].sketch).unwrap();
    assert_eq!(sketch.estimate(), 2);
}

#[test]
fn conversions_count_by_kind_with_revenue() {
    let mut state = shard();
    state.apply(&purchase(NOON_MS, 4900)).unwrap();
    state.apply(&purchase(NOON_MS, 100)).unwrap();
    let signup = CountedEvent {
        kind: EventKind::Conversion(ConversionKind::Signup),
        ..view(NOON_MS, "newsletter", None)
    };
    state.apply(&signup).unwrap();
    let stats = state.totals("acme", "2026-06-15").stats().unwrap();
    assert_eq!(stats.conversions["purchase"], 2);
    assert_eq!(stats.conversions["signup"], 1);
    assert_eq!(stats.revenue_cents, 5000);
    assert_eq!(stats.by_source["producthunt"].revenue_cents, 5000);
    assert_eq!(stats.by_source["newsletter"].conversions["signup"], 1);
}

#[test]
fn revenue_in_named_currencies_is_counted_per_currency_and_never_added_together() {
    let mut state = shard();
    let in_currency = |cents, currency: &str| CountedEvent {
        currency: Some(currency.into()),
        ..purchase(NOON_MS, cents)
    };
    state.apply(&in_currency(4900, "usd")).unwrap();
    state.apply(&in_currency(100, "usd")).unwrap();
    state.apply(&in_currency(900, "eur")).unwrap();
    state.apply(&purchase(NOON_MS, 7)).unwrap();
    let stats = state.totals("acme", "2026-06-15").stats().unwrap();
    assert_eq!(stats.conversions["purchase"], 4);
    assert_eq!(stats.conversions.len(), 1, "revenue is no conversion kind");
    assert_eq!(stats.revenue_cents, 7, "only the amount without a currency");
    assert_eq!(
        stats.revenue_by_currency,
        BTreeMap::from([("eur".to_owned(), 900), ("usd".to_owned(), 5000)])
    );
    let batch = state.take_batch(100).unwrap().batch;
    let mut metrics: Vec<(&str, i64)> = batch
        .counters
        .iter()
        .map(|c| (c.metric.as_str(), c.value))
        .collect();
    metrics.sort();
    assert_eq!(
        metrics,
        [
            ("purchase", 4),
            ("revenue_cents", 7),
            ("revenue_cents.eur", 900),
            ("revenue_cents.usd", 5000)
        ]
    );
}

#[test]
fn a_malformed_currency_is_refused_before_anything_is_counted() {
    let mut state = shard();
    for bad in ["USD", "us", "usdd", "u$d", ""] {
        let event = CountedEvent {
            currency: Some(bad.into()),
            ..purchase(NOON_MS, 100)
        };
        assert_eq!(state.apply(&event), Err(CountError::BadCurrency), "{bad:?}");
    }
    assert!(!state.has_unflushed());
}

#[test]
fn a_flood_of_random_sources_folds_into_other_and_slots_go_to_repeating_sources() {
    let mut state = CounterState::new(
        "acme/0",
        Limits {
            max_sources_per_day: 2,
            ..Limits::default()
        },
    );
    for i in 0..1_000 {
        state
            .apply(&view(NOON_MS, &format!("spam{i}"), None))
            .unwrap();
    }
    for _ in 0..5 {
        state.apply(&view(NOON_MS, "partner-blog", None)).unwrap();
        state.apply(&view(NOON_MS, "Launch Mail", None)).unwrap();
        state.apply(&view(NOON_MS, "late-comer", None)).unwrap();
    }
    state.apply(&view(NOON_MS, "producthunt", None)).unwrap();
    state.apply(&view(NOON_MS, "twitter.com", None)).unwrap();
    let views = &state.totals("acme", "2026-06-15").counts["view"];
    let labels: Vec<&str> = views.keys().map(String::as_str).collect();
    assert_eq!(
        labels,
        vec![
            "launch-mail",
            "other",
            "partner-blog",
            "producthunt",
            "twitter.com"
        ]
    );
    // Each admitted label's first two hits, and every hit of the others, are `other`.
    assert_eq!(views["other"], 1_000 + 2 + 2 + 5);
    assert_eq!(views["partner-blog"], 3);
}

#[test]
fn totals_merge_across_shards_exactly_with_a_union_of_visitors() {
    let mut a = CounterState::new("acme/0", Limits::default());
    let mut b = CounterState::new("acme/1", Limits::default());
    for i in 0..3_000u64 {
        let hash = mix(i);
        a.apply(&view(NOON_MS, "producthunt", Some(hash))).unwrap();
        if i.is_multiple_of(2) {
            // Half the visitors also reached the other shard: counted once in uniques.
            b.apply(&view(NOON_MS, "direct", Some(hash))).unwrap();
        }
    }
    let parts = [
        a.totals("acme", "2026-06-15"),
        b.totals("acme", "2026-06-15"),
    ];
    let merged = DayCounts::merge_all("acme", "2026-06-15", &parts).unwrap();
    let stats = merged.stats().unwrap();
    assert_eq!(stats.views, 4_500);
    assert_eq!(stats.by_source["direct"].views, 1_500);
    assert!((2_950..=3_050).contains(&stats.unique_visitors));
    let json: DayCounts = serde_json::from_str(&serde_json::to_string(&merged).unwrap()).unwrap();
    assert_eq!(json, merged);
    assert_eq!(state_free_stats(), 0);
}

fn state_free_stats() -> u64 {
    shard()
        .totals("acme", "2026-01-01")
        .stats()
        .unwrap()
        .unique_visitors
}

#[test]
fn old_days_are_forgotten_only_once_drained() {
    let mut state = shard();
    state
        .apply(&view(NOON_MS - 86_400_000, "direct", Some(1)))
        .unwrap();
    state.apply(&view(NOON_MS, "direct", Some(2))).unwrap();
    assert!(state.forget_days_before("2026-06-15").is_empty());
    drain(&mut state, &mut FakeOrigin::default(), 100);
    // A late bot view: the sketch is clean but a row of the day is pending again, so the
    // day is not drained and not forgotten.
    let bot = CountedEvent {
        kind: EventKind::BotView,
        ..view(NOON_MS - 86_400_000, "direct", None)
    };
    state.apply(&bot).unwrap();
    assert!(state.forget_days_before("2026-06-15").is_empty());
    drain(&mut state, &mut FakeOrigin::default(), 100);
    let ops = state.forget_days_before("2026-06-15");
    assert_eq!(
        ops,
        vec![StorageOp::ForgetDay {
            launch: "acme".into(),
            day: "2026-06-14".into()
        }]
    );
    assert_eq!(state.totals("acme", "2026-06-14").counts.len(), 0);
    assert_eq!(
        state.totals("acme", "2026-06-15").counts["view"]["direct"],
        1
    );
}

#[test]
fn shard_for_is_stable_in_range_and_spreads_evenly() {
    let mut seed = 7;
    let mut buckets = [0u32; 8];
    for _ in 0..80_000 {
        let hash = random(&mut seed);
        let shard = shard_for(hash, 8);
        assert_eq!(shard, shard_for(hash, 8));
        buckets[shard as usize] += 1;
    }
    assert!(
        buckets.iter().all(|&n| (9_500..=10_500).contains(&n)),
        "{buckets:?}"
    );
    assert_eq!(shard_for(u64::MAX, 0), 0);
    assert_eq!(shard_for(u64::MAX, 1), 0);
    assert_eq!(shard_name("acme", 3), "acme/3");
}

#[test]
fn counted_events_travel_as_json_with_kinds_as_metric_names() {
    let event = purchase(NOON_MS, 4900);
    let json = serde_json::to_string(&event).unwrap();
    assert!(json.contains(r#""kind":"purchase""#), "{json}");
    assert_eq!(serde_json::from_str::<CountedEvent>(&json).unwrap(), event);
    let minimal = r#"{"launch":"acme","kind":"bot_view","source":"x","at_ms":1}"#;
    let parsed: CountedEvent = serde_json::from_str(minimal).unwrap();
    assert_eq!((parsed.kind, parsed.visitor), (EventKind::BotView, None));
    assert!(serde_json::from_str::<CountedEvent>(&minimal.replace("bot_view", "vote")).is_err());
}

#[test]
fn edge_counters_ride_along_to_the_origin_but_stay_out_of_the_live_stats() {
    let mut state = shard();
    let event = CountedEvent {
        edge: vec!["cache_hit".into()],
        ..view(NOON_MS, "producthunt", Some(7))
    };
    state.apply(&event).unwrap();
    state.apply(&event).unwrap();
    let batch = state.take_batch(100).unwrap().batch;
    let edge: Vec<_> = batch
        .counters
        .iter()
        .filter(|d| d.metric == "edge_cache_hit")
        .collect();
    assert_eq!(edge.len(), 1);
    assert_eq!((edge[0].value, edge[0].source.as_str()), (2, "edge"));
    let stats = state.totals("acme", &edge[0].day).stats().unwrap();
    assert_eq!(stats.views, 2);
    assert!(stats.conversions.is_empty(), "{:?}", stats.conversions);
}

#[test]
fn a_malformed_edge_counter_is_refused_and_changes_nothing() {
    let mut state = shard();
    let before = state.clone();
    let event = CountedEvent {
        edge: vec!["cache_hit".into(), "Bad Name!".into()],
        ..view(NOON_MS, "direct", None)
    };
    assert_eq!(state.apply(&event), Err(CountError::BadEdgeCounter));
    assert_eq!(state, before);
}

fn campaign_view(campaign: &str, medium: Option<&str>) -> CountedEvent {
    CountedEvent {
        medium: medium.map(str::to_owned),
        campaign: Some(campaign.to_owned()),
        ..view(NOON_MS, "newsletter", None)
    }
}

#[test]
fn medium_and_campaign_ride_on_every_row_and_a_visit_without_them_has_empty_labels() {
    let mut state = shard();
    state
        .apply(&CountedEvent {
            medium: Some("E-Mail".into()),
            campaign: Some("Dec Launch".into()),
            ..purchase(NOON_MS, 4900)
        })
        .unwrap();
    state.apply(&view(NOON_MS, "direct", None)).unwrap();
    let batch = state.take_batch(100).unwrap().batch;
    let mut rows: Vec<(&str, &str, &str, &str, i64)> = batch
        .counters
        .iter()
        .map(|c| {
            let dims = (c.source.as_str(), c.medium.as_str(), c.campaign.as_str());
            (dims.0, dims.1, dims.2, c.metric.as_str(), c.value)
        })
        .collect();
    rows.sort();
    // Sanitized like a source, and counted as themselves from the first hit.
    assert_eq!(
        rows,
        [
            ("direct", "", "", "view", 1),
            ("producthunt", "e-mail", "dec-launch", "purchase", 1),
            ("producthunt", "e-mail", "dec-launch", "revenue_cents", 4900),
        ]
    );
    let id = state.in_flight_id().unwrap().to_owned();
    state.ack(&id).unwrap();
    for _ in 0..3 {
        state
            .apply(&campaign_view("dec-launch", Some("email")))
            .unwrap();
    }
    let counters = state.take_batch(100).unwrap().batch.counters;
    let by_campaign: Vec<(&str, &str, i64)> = counters
        .iter()
        .map(|c| (c.medium.as_str(), c.campaign.as_str(), c.value))
        .collect();
    assert_eq!(by_campaign, [("email", "dec-launch", 3)]);
}

#[test]
fn once_the_days_campaign_slots_are_taken_new_campaigns_fold_into_other_even_after_a_restart() {
    let limits = Limits {
        max_campaigns_per_day: 1,
        ..Limits::default()
    };
    let mut state = CounterState::new("acme/0", limits);
    let mut store = FakeStore::default();
    for _ in 0..3 {
        store.run(&state.apply(&campaign_view("real", None)).unwrap());
    }
    for i in 0..500 {
        let ops = state
            .apply(&campaign_view(&format!("junk{i}"), None))
            .unwrap();
        store.run(&ops);
    }
    let mut origin = FakeOrigin::default();
    while let Some(out) = state.take_batch(1_000) {
        store.run(&out.ops);
        let campaigns: BTreeMap<String, i64> =
            out.batch.counters.iter().fold(BTreeMap::new(), |mut m, c| {
                *m.entry(c.campaign.clone()).or_insert(0) += c.value;
                m
            });
        assert_eq!(
            campaigns,
            BTreeMap::from([("other".to_owned(), 500), ("real".to_owned(), 3)])
        );
        origin.ingest(&out.batch);
        store.run(&state.ack(&out.batch.batch_id).unwrap());
    }
    // Restarted from storage: `real` still holds the day's only slot, a new label does not.
    let mut restored = CounterState::restore("acme/0", limits, store.stored()).unwrap();
    restored.apply(&campaign_view("real", None)).unwrap();
    for _ in 0..3 {
        restored.apply(&campaign_view("late", None)).unwrap();
    }
    let counters = restored.take_batch(100).unwrap().batch.counters;
    let labels: Vec<(&str, i64)> = counters
        .iter()
        .map(|c| (c.campaign.as_str(), c.value))
        .collect();
    assert_eq!(labels, [("other", 3), ("real", 1)]);
}

#[test]
fn a_stored_label_of_an_unknown_dimension_refuses_the_restore() {
    let mut stored = StoredShard::default();
    stored.labels.push((
        "acme".into(),
        "2026-06-15".into(),
        "colour".into(),
        "red".into(),
    ));
    assert_eq!(
        CounterState::restore("acme/0", Limits::default(), stored),
        Err(RestoreError::BadLabel)
    );
}
