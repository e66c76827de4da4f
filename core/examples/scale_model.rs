//! Prints the scale model's tables for `docs/scaling.md`:
//! `cargo run -q -p launch-edge-core --example scale_model`.

use launch_edge_core::scale::{
    check_table, drain_table, model, table, Row, MEASURED, PLATFORM, PRICES, SCENARIOS, SPIKE_MIX,
};

fn main() {
    let rows: Vec<Row> = SCENARIOS
        .iter()
        .map(|s| model(*s, &SPIKE_MIX, &MEASURED, &PLATFORM, &PRICES))
        .collect();
    println!("{}", table(&rows));
    println!("{}", check_table(&MEASURED));
    println!(
        "{}",
        drain_table(&[1_000, 10_000, 100_000], &[1, 8], &MEASURED)
    );
}
