//! Accuracy, merge and byte-format tests of the visitor sketch.

use super::*;

/// SplitMix64: a deterministic stand-in for SHA-256-derived visitor hashes.
fn hashes(seed: u64, count: usize) -> impl Iterator<Item = u64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
    .take(count)
}

fn sketch_of(seed: u64, count: usize) -> VisitorSketch {
    let mut sketch = VisitorSketch::new();
    hashes(seed, count).for_each(|h| {
        sketch.insert_hash(h);
    });
    sketch
}

fn relative_error(estimate: u64, truth: usize) -> f64 {
    (estimate as f64 - truth as f64).abs() / truth as f64
}

#[test]
fn an_empty_sketch_estimates_zero() {
    assert_eq!(VisitorSketch::new().estimate(), 0);
    assert!(VisitorSketch::new().is_empty());
}

#[test]
fn small_counts_are_nearly_exact() {
    for n in [1usize, 2, 10, 100, 1000] {
        let estimate = sketch_of(7, n).estimate();
        assert!(
            (estimate as i64 - n as i64).abs() <= (n as i64 / 100).max(1),
            "{n} -> {estimate}"
        );
    }
}

#[test]
fn estimates_stay_within_four_standard_errors_across_the_range() {
    for (seed, n) in [
        (1u64, 10_000usize),
        (2, 40_000),
        (3, 100_000),
        (4, 1_000_000),
    ] {
        let estimate = sketch_of(seed, n).estimate();
        assert!(
            relative_error(estimate, n) < 4.0 * STANDARD_ERROR,
            "{n} -> {estimate}"
        );
    }
}

#[test]
fn repeat_visitors_do_not_change_the_sketch() {
    let mut sketch = sketch_of(9, 500);
    let before = sketch.clone();
    for h in hashes(9, 500) {
        assert!(!sketch.insert_hash(h));
    }
    assert_eq!(sketch, before);
}

#[test]
fn merging_two_disjoint_sets_estimates_their_sum() {
    let mut a = sketch_of(11, 30_000);
    let b = sketch_of(12, 50_000);
    a.merge(&b);
    assert!(relative_error(a.estimate(), 80_000) < 4.0 * STANDARD_ERROR);
}

#[test]
fn merging_equals_inserting_everything_into_one_sketch() {
    let mut merged = sketch_of(21, 5_000);
    merged.merge(&sketch_of(22, 7_000));
    let mut single = VisitorSketch::new();
    hashes(21, 5_000).chain(hashes(22, 7_000)).for_each(|h| {
        single.insert_hash(h);
    });
    assert_eq!(merged, single);
}

#[test]
fn merge_is_idempotent_and_commutative() {
    let a = sketch_of(31, 20_000);
    let b = sketch_of(32, 3_000);
    let mut ab = a.clone();
    ab.merge(&b);
    let mut again = ab.clone();
    again.merge(&b);
    again.merge(&a);
    again.merge(&ab);
    assert_eq!(again, ab);
    let mut ba = b.clone();
    ba.merge(&a);
    assert_eq!(ba, ab);
}

#[test]
fn serialization_round_trips_sparse_and_dense() {
    for n in [0usize, 1, 300, 200_000] {
        let sketch = sketch_of(41, n);
        let bytes = sketch.to_bytes();
        assert_eq!(VisitorSketch::from_bytes(&bytes).unwrap(), sketch);
        assert_eq!(estimate_serialized(&bytes).unwrap(), sketch.estimate());
        let text = sketch.to_base64();
        assert_eq!(VisitorSketch::from_base64(&text).unwrap(), sketch);
    }
    assert_eq!(sketch_of(41, 300).to_bytes()[2], ENCODING_SPARSE);
    assert_eq!(sketch_of(41, 200_000).to_bytes()[2], ENCODING_DENSE);
    assert_eq!(VisitorSketch::new().to_bytes(), vec![1, 14, 1, 0, 0]);
}

#[test]
fn merge_serialized_matches_merging_the_structs() {
    let a = sketch_of(51, 4_000);
    let b = sketch_of(52, 40_000);
    let mut expected = a.clone();
    expected.merge(&b);
    let merged = merge_serialized(&a.to_bytes(), &b.to_bytes()).unwrap();
    assert_eq!(VisitorSketch::from_bytes(&merged).unwrap(), expected);
    let twice = merge_serialized(&merged, &b.to_bytes()).unwrap();
    assert_eq!(twice, merged);
}

#[test]
fn malformed_bytes_are_rejected_with_a_reason() {
    let good = sketch_of(61, 10).to_bytes();
    assert_eq!(VisitorSketch::from_bytes(&[]), Err(SketchError::Truncated));
    assert_eq!(
        VisitorSketch::from_bytes(&[2, 14, 1, 0, 0]),
        Err(SketchError::UnsupportedVersion(2))
    );
    assert_eq!(
        VisitorSketch::from_bytes(&[1, 12, 1, 0, 0]),
        Err(SketchError::WrongPrecision(12))
    );
    assert_eq!(
        VisitorSketch::from_bytes(&[1, 14, 9]),
        Err(SketchError::UnknownEncoding(9))
    );
    assert_eq!(
        VisitorSketch::from_bytes(&good[..good.len() - 1]),
        Err(SketchError::Truncated)
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        VisitorSketch::from_bytes(&long),
        Err(SketchError::TrailingBytes)
    );
    // Register index out of range, a value above the maximum, indices out of order.
    for body in [
        vec![1, 0, 0xff, 0xff, 1],
        vec![1, 0, 5, 0, MAX_REGISTER + 1],
        vec![2, 0, 5, 0, 1, 4, 0, 1],
    ] {
        let mut bytes = vec![1, 14, 1];
        bytes.extend(body);
        assert_eq!(
            VisitorSketch::from_bytes(&bytes),
            Err(SketchError::BadRegister)
        );
    }
    assert_eq!(
        VisitorSketch::from_base64("not base64!"),
        Err(SketchError::BadBase64)
    );
    assert_eq!(
        merge_serialized(&good, &[]).unwrap_err().code(),
        "sketch_truncated"
    );
}

#[test]
fn a_sketch_rebuilt_from_its_registers_is_identical() {
    let sketch = sketch_of(81, 2_000);
    let mut rebuilt = VisitorSketch::new();
    for (index, rank) in sketch.nonzero_registers() {
        assert!(rebuilt.raise_register(index, rank));
    }
    assert_eq!(rebuilt, sketch);
    assert!(!rebuilt.raise_register(0, MAX_REGISTER + 1));
    let (index, rank) = VisitorSketch::register_for(u64::MAX);
    assert_eq!((index, rank), (REGISTERS as u16 - 1, 1));
    assert_eq!(VisitorSketch::register_for(0), (0, MAX_REGISTER));
}

#[test]
fn debug_output_shows_the_estimate_not_the_registers() {
    let text = format!("{:?}", sketch_of(71, 3));
    assert_eq!(text, "VisitorSketch { estimate: 3 }");
}
