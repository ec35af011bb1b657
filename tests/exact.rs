//! Decimals compare the way a calculator does: a lead exactly on a threshold is not raised,
//! one unit past it is, whatever binary floating point would say (1.07 − 0.57 is
//! 0.5000000000000001 in doubles; 130.0 − 126.1 is 3.9000000000000057).

mod common;

use common::*;

#[test]
fn leads_exactly_on_a_threshold_are_not_raised_and_one_unit_past_are() {
    let dir = tempfile::tempdir().unwrap();
    let job = threshold_job(dir.path());
    let run = run_ok(&job, "r1", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let leads: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[4].clone(), r[11].clone()))
        .collect();
    assert_eq!(
        leads,
        [
            (
                "beyond_one_percent_of_measured".to_string(),
                "A-past".to_string(),
                "差额 / Difference: 0.31".to_string()
            ),
            (
                "beyond_three_percent_of_book".into(),
                "B-past".into(),
                "差额 / Difference: 4.0".into()
            ),
            (
                "difference_above_half".into(),
                "past".into(),
                "差额 / Difference: 0.51".into()
            ),
            (
                "paid_above_100".into(),
                "past".into(),
                "合计 / Total: 100.01".into()
            ),
            (
                "paid_above_100".into(),
                "tens".into(),
                "合计 / Total: 100.10".into()
            ),
        ]
    );
}

/// A value with more decimal places than its column keeps is rejected with what to do, never
/// rounded into a different amount.
#[test]
fn more_places_than_the_column_keeps_rejects_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let job = threshold_job(dir.path());
    let payments = dir.path().join("data/payments.csv");
    let mut text = std::fs::read_to_string(&payments).unwrap();
    text.push_str("past,0.00001\n");
    std::fs::write(&payments, text).unwrap();
    let run = run_ok(&job, "r1", &[]);
    let rejected = read_csv(&run.join("rejected/payments.csv"));
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[1][3].contains("5 decimal places") && rejected[1][3].contains("scale: 5"),
        "{:?}",
        rejected[1]
    );
}

/// `float` is a binary double with no scale: a measurement with many places loads as read.
#[test]
fn a_float_column_has_no_scale() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = "datasets:
  points:
    path: points.csv
    columns:
      name: { type: text, aliases: [名称] }
      lon: { type: float, aliases: [经度] }
";
    let rule = "id: east
title: 东经118度以东 / East of 118
description: d
severity: low
evidence:
  - { label: 经度 / Longitude, expr: lon }
row_check:
  sources: [{ dataset: points }]
  condition: \"lon > 118\"
  key: [name]
";
    let job = custom_job(dir.path(), catalog, &[("east.yaml", rule)]);
    std::fs::write(
        data_dir(dir.path()).join("points.csv"),
        "名称,经度\nA,118.7968751\nB,117.5\n",
    )
    .unwrap();
    let run = run_ok(&job, "r1", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][11], "经度 / Longitude: 118.7968751");
    assert!(!run.join("rejected").exists());
}
