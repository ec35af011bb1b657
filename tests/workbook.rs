//! anomalies.xlsx read back with calamine: per rule exactly the leads of anomalies.parquet, IDs
//! as text (including those ending in X), numbers and dates typed, and rules too long for one
//! sheet spilling onto further sheets.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use common::*;

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[test]
fn the_workbook_holds_per_rule_exactly_the_leads_of_the_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let run = run_ok(&job, "r", &[]);

    let col = |n: &str| parquet_column(&run, n);
    let mut from_parquet: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for ((rule, lead), key) in col("rule_id")
        .into_iter()
        .zip(col("lead_id"))
        .zip(col("key"))
    {
        from_parquet.entry(rule).or_default().push((lead, key));
    }

    let mut wb: Xlsx<_> = calamine::open_workbook(run.join("anomalies.xlsx")).unwrap();
    let names = wb.sheet_names();
    assert_eq!(names[0], "汇总 Summary");
    let summary = wb.worksheet_range("汇总 Summary").unwrap();
    let mut from_xlsx: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut ids_ending_in_x = BTreeSet::new();
    for row in summary.rows().skip(1).take_while(|r| r[0] != Data::Empty) {
        let rule = cell_text(&row[0]);
        let sheet = cell_text(&row[7]);
        let range = wb.worksheet_range(&sheet).unwrap();
        let header: Vec<String> = range.rows().next().unwrap().iter().map(cell_text).collect();
        assert_eq!(
            header[..2],
            ["线索编号 Lead ID".to_string(), "线索键 Key".to_string()]
        );
        for r in range.rows().skip(1) {
            // Keys and lead IDs are text cells, never numbers Excel would round.
            assert!(
                matches!(r[1], Data::String(_)),
                "{rule}: key stored as {:?}",
                r[1]
            );
            let key = cell_text(&r[1]);
            if key.ends_with('X') {
                ids_ending_in_x.insert(key.clone());
            }
            from_xlsx
                .entry(rule.clone())
                .or_default()
                .push((cell_text(&r[0]), key));
        }
        assert_eq!(
            row[3],
            Data::Float(
                from_parquet.get(&rule).map_or(0, |v| v
                    .iter()
                    .map(|x| &x.1)
                    .collect::<BTreeSet<_>>()
                    .len()) as f64
            )
        );
    }
    assert_eq!(from_xlsx, from_parquet);
    let truth_x: BTreeSet<String> = serde_json::from_str::<samplecity::GroundTruth>(
        &std::fs::read_to_string(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap()
    .leads
    .into_values()
    .flatten()
    .filter(|k| k.ends_with('X'))
    .collect();
    assert!(!truth_x.is_empty());
    assert_eq!(ids_ending_in_x, truth_x);

    // Evidence is typed: the death date is a date cell, the amount a number.
    let range = wb.worksheet_range("pension_paid_after_death").unwrap();
    let header: Vec<String> = range.rows().next().unwrap().iter().map(cell_text).collect();
    let row1: Vec<Data> = range.rows().nth(1).unwrap().to_vec();
    let at = |label: &str| header.iter().position(|h| h == label).unwrap();
    assert!(
        matches!(row1[at("死亡日期 / Date of death")], Data::DateTime(_)),
        "{:?}",
        row1[at("死亡日期 / Date of death")]
    );
    assert!(matches!(row1[at("发放金额 / Amount")], Data::Float(_)));
    // The money at stake is a number column before the message; the summary totals it.
    let amount = at("涉及金额 Amount");
    assert_eq!(amount + 5, header.len());
    let mut cents = 0i64;
    for r in range.rows().skip(1) {
        match r[amount] {
            Data::Float(v) => cents += (v * 100.0).round() as i64,
            ref other => panic!("amount cell {other:?}"),
        }
    }
    let truth: samplecity::GroundTruth = sample_truth();
    let expected: i64 = truth.amounts["pension_paid_after_death"].values().sum();
    assert_eq!(cents, expected);
    let summary = wb.worksheet_range("汇总 Summary").unwrap();
    let top: Vec<String> = summary
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(cell_text)
        .collect();
    let col = top.iter().position(|h| h == "涉及金额 Amount").unwrap();
    let paid = summary
        .rows()
        .find(|r| cell_text(&r[0]) == "pension_paid_after_death")
        .unwrap();
    match paid[col] {
        Data::Float(v) => assert_eq!((v * 100.0).round() as i64, expected),
        ref other => panic!("summary amount {other:?}"),
    }
    assert!(header.ends_with(&[
        "说明 Message".to_string(),
        "证据指纹 Evidence hash".to_string(),
        "核查状态 Status".to_string(),
        "核查说明 Note".to_string()
    ]));
}

#[test]
fn a_rule_with_more_rows_than_a_sheet_spills_onto_further_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let job = crosscheck::job::Job::load(&sample_job(dir.path())).unwrap();
    let compiled = crosscheck::plan::compile_rules(&job);
    let result = crosscheck::engine::run(&job, &compiled.rules, &crosscheck::engine::Silent);
    let bytes = crosscheck::output::workbook::workbook_bytes(&result, 4).unwrap();
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let paid = result
        .outcomes
        .iter()
        .find(|o| o.rule.id == "pension_paid_after_death")
        .unwrap();
    let expected_sheets = paid.rows.len().div_ceil(4);
    assert!(expected_sheets > 1);
    let summary = wb.worksheet_range("汇总 Summary").unwrap();
    let row = summary
        .rows()
        .find(|r| cell_text(&r[0]) == "pension_paid_after_death")
        .unwrap()
        .to_vec();
    let sheets_text = cell_text(&row[7]);
    assert!(
        sheets_text.contains(&format!("spread over {expected_sheets} sheets")),
        "{sheets_text}"
    );
    let mut keys = Vec::new();
    for name in sheets_text.split('（').next().unwrap().split(", ") {
        let range = wb.worksheet_range(name).unwrap();
        assert!(
            range.height() <= 5,
            "{name} holds at most 4 rows and the header"
        );
        keys.extend(range.rows().skip(1).map(|r| cell_text(&r[1])));
    }
    assert_eq!(
        keys,
        paid.rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>()
    );
}
