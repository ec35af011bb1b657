//! End to end over the committed sample city: the bundled rules find exactly the generator's
//! planted leads, rejected rows are listed with reasons, the accounting adds up, and two runs
//! (on any number of threads) are byte-identical.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

fn run_sample(dir: &std::path::Path, run_id: &str) -> std::path::PathBuf {
    run_ok(&sample_job(dir), run_id, &[])
}

#[test]
fn every_bundled_rule_finds_exactly_the_planted_leads() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_sample(dir.path(), "r1");
    let rows = read_csv(&run.join("anomalies.csv"));
    assert_eq!(rows[0][0], "规则编号 rule_id");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &rows[1..] {
        found.entry(r[0].clone()).or_default().insert(r[4].clone());
    }
    let expected: BTreeMap<String, BTreeSet<String>> = sample_truth()
        .leads
        .into_iter()
        .map(|(rule, keys)| (rule, keys.into_iter().collect()))
        .collect();
    // Every bundled rule has planted leads, so the rule sets must match too (recall and
    // precision 1.0; a near-miss flagged would show up as an extra key).
    assert_eq!(found, expected);
    let bundled = glob::glob(&format!("{}/rules/**/*.yaml", repo().display()))
        .unwrap()
        .count();
    assert_eq!(expected.len(), bundled, "one entry per bundled rule");
    assert_eq!(bundled, 34);
}

#[test]
fn parquet_holds_the_same_leads_with_evidence_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_sample(dir.path(), "r1");
    let csv_rows = read_csv(&run.join("anomalies.csv"));
    let col = |n: &str| parquet_column(&run, n);
    assert_eq!(col("rule_id").len(), csv_rows.len() - 1);
    let (rule, key, file, row, lead) = (
        col("rule_id"),
        col("key"),
        col("file"),
        col("row"),
        col("lead_id"),
    );
    for (i, r) in csv_rows[1..].iter().enumerate() {
        assert_eq!(
            (&rule[i], &key[i], &file[i], &row[i], &lead[i]),
            (&r[0], &r[4], &r[6], &r[8], &r[3])
        );
    }
    // A paid-after-death lead names the payment row, the death record, and both dates.
    let i = rule
        .iter()
        .position(|r| r == "pension_paid_after_death")
        .unwrap();
    assert_eq!(file[i], "pension_payments.parquet");
    let partner = col("partner");
    assert!(
        partner[i].starts_with("death_register.csv:"),
        "{}",
        partner[i]
    );
    let evidence: serde_json::Value = serde_json::from_str(&col("evidence")[i]).unwrap();
    assert!(
        evidence["死亡日期 / Date of death"]
            .as_str()
            .unwrap()
            .starts_with("2025-")
    );
}

/// Two runs give the same bytes, and so do runs on one thread and on five: the thread budget
/// changes how the work is split, never the leads, their order, or the weights a `link` rule
/// estimates.
#[test]
fn two_runs_over_the_same_inputs_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_sample(dir.path(), "a");
    let b = run_sample(dir.path(), "b");
    let on_threads = |n: &str| {
        let job = sample_job(dir.path());
        let id = format!("threads{n}");
        let out = run_command(&job, &id)
            .env("CROSSCHECK_THREADS", n)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        job.parent().unwrap().join("out").join(id)
    };
    let (one, five) = (on_threads("1"), on_threads("5"));
    for f in [
        "anomalies.csv",
        "anomalies.parquet",
        "anomalies.xlsx",
        "rejected/pension_enrolment.csv",
    ] {
        let first = std::fs::read(a.join(f)).unwrap();
        for (other, what) in [
            (&b, "a second run"),
            (&one, "one thread"),
            (&five, "five threads"),
        ] {
            assert!(
                first == std::fs::read(other.join(f)).unwrap(),
                "{f} differs on {what}"
            );
        }
    }
}

#[test]
fn rejected_rows_are_listed_with_reasons_and_the_accounting_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_sample(dir.path(), "r1");
    let truth = sample_truth();
    let rejected = read_csv(&run.join("rejected/pension_enrolment.csv"));
    let got: Vec<(String, u64)> = rejected[1..]
        .iter()
        .map(|r| (r[0].clone(), r[2].parse().unwrap()))
        .collect();
    assert_eq!(got, truth.rejected["pension_enrolment"]);
    assert!(
        rejected[1][3].contains("row has 6 fields, the header has 7"),
        "{:?}",
        rejected[1]
    );
    assert!(
        rejected[2][3].contains("'待核定' is not a number"),
        "{:?}",
        rejected[2]
    );
    // No other dataset rejects anything.
    let files: Vec<_> = std::fs::read_dir(run.join("rejected"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files,
        vec![std::ffi::OsString::from("pension_enrolment.csv")]
    );

    let manifest: serde_json::Value = manifest_of(&run);
    for d in manifest["datasets"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let (read, loaded, rej) = (
            d["rows_read"].as_u64().unwrap(),
            d["rows_loaded"].as_u64().unwrap(),
            d["rows_rejected"].as_u64().unwrap(),
        );
        assert_eq!(read, loaded + rej, "{name}");
        assert_eq!(read, truth.rows[name], "{name}: every written row is read");
        assert_eq!(
            rej as usize,
            truth.rejected.get(name).map_or(0, Vec::len),
            "{name}"
        );
    }
    // Encodings were detected or declared as written by the generator.
    let enc: BTreeMap<String, String> = manifest["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            Some((
                d["name"].as_str()?.to_string(),
                d["files"][0]["encoding"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(enc["death_register"], "UTF-8 BOM");
    assert_eq!(enc["pension_enrolment"], "GBK");
    assert_eq!(enc["property_register"], "GB18030");
    // ID quality is reported per dataset: the ID a spreadsheet stored as a number is damaged.
    let dibao = manifest["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "dibao_roll")
        .unwrap();
    assert_eq!(
        dibao["id_quality"]["id_card"]["invalid"]["spreadsheet_damage"],
        1
    );
    assert_eq!(manifest["totals"]["rules_failed"], 0);
}

#[test]
fn outputs_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let run = run_sample(dir.path(), "r1");
    for f in [
        "",
        "anomalies.csv",
        "anomalies.parquet",
        "anomalies.xlsx",
        "manifest.json",
        "rejected/pension_enrolment.csv",
    ] {
        let mode = std::fs::metadata(run.join(f)).unwrap().permissions().mode() & 0o077;
        assert_eq!(mode, 0, "{f} is readable by others");
    }
}

#[test]
fn the_generator_reproduces_the_committed_sample_city() {
    let dir = tempfile::tempdir().unwrap();
    samplecity::generate(dir.path(), 1, 20251231).unwrap();
    for f in [
        "ground_truth.json",
        "datasets.yaml",
        "pension_enrolment.csv",
        "death_register.csv",
        "property_register.csv",
        "vehicle_register.csv",
        "land_requisition.csv",
        "grain_book_stock.csv",
        "weighbridge_tickets.csv",
        "planting_subsidy.csv",
        "grain_stocktake.xlsx",
        "land_contract.xlsx",
        "dibao_roll.xlsx",
        "public_payroll.xlsx",
        "pension_payments.parquet",
    ] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(repo().join("sample_data").join(f)).unwrap(),
            "{f} differs from the committed sample; regenerate with `crosscheck generate`"
        );
    }
}

#[test]
fn a_second_run_over_unchanged_extracts_is_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_sample(dir.path(), "first");
    let second = run_sample(dir.path(), "second");
    // One field of every input file in a run's manifest.
    let field = |run: &std::path::Path, name: &str| -> Vec<serde_json::Value> {
        manifest_of(run)["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| {
                d["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f[name].clone())
            })
            .collect()
    };
    let cached = |run: &std::path::Path| field(run, "cached");
    assert!(cached(&first).iter().all(|c| *c == false));
    assert_eq!(cached(&second).len(), sample_truth().rows.len());
    assert_eq!(sample_truth().rows.len(), 35);
    assert!(
        cached(&second).iter().all(|c| *c == true),
        "{:?}",
        cached(&second)
    );
    // Same leads, same rejected rows, same accounting.
    for f in ["anomalies.csv", "rejected/pension_enrolment.csv"] {
        assert_eq!(
            std::fs::read(first.join(f)).unwrap(),
            std::fs::read(second.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        manifest_of(&first)["datasets"][0]["id_quality"],
        manifest_of(&second)["datasets"][0]["id_quality"]
    );
    // The cache holds personal data: private like the outputs.
    use std::os::unix::fs::PermissionsExt;
    let cache = dir.path().join("out/.cache");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o077,
        0
    );
    for e in std::fs::read_dir(&cache).unwrap() {
        assert_eq!(
            e.unwrap().metadata().unwrap().permissions().mode() & 0o077,
            0
        );
    }
    // The committed sample files are settled: the first run remembered their hashes and the
    // second did not read them, yet records the same hashes.
    let all = |v: Vec<serde_json::Value>, x: bool| v.iter().all(|c| *c == x);
    assert!(all(field(&first, "sha256_recalled"), false));
    assert!(all(field(&second, "sha256_recalled"), true));
    assert_eq!(field(&first, "sha256"), field(&second, "sha256"));
    let job = sample_job(dir.path());
    // --rehash reads and hashes every file again; the cache still serves the conversions.
    let rehashed = run_ok(&job, "rehashed", &["--rehash"]);
    assert!(all(field(&rehashed, "sha256_recalled"), false));
    assert!(all(cached(&rehashed), true));
    assert_eq!(field(&first, "sha256"), field(&rehashed, "sha256"));
    // --no-cache parses again, and finds the same leads with the frames in memory as the
    // group-by found reading the cache's files itself.
    let out = run_job(&job, "third", &["--no-cache"]);
    assert_eq!(out.status.code(), Some(0));
    let third = dir.path().join("out/third");
    assert!(cached(&third).iter().all(|c| c.is_null()));
    assert_eq!(
        std::fs::read(first.join("anomalies.csv")).unwrap(),
        std::fs::read(third.join("anomalies.csv")).unwrap()
    );
}

/// Cents from an exact decimal as written (`2345.60`), failing on anything else.
fn cents(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= 2, "{text}: more than two places");
    whole.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}").parse::<i64>().unwrap()
}

#[test]
fn money_at_stake_is_what_the_generator_planted_to_the_cent() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_sample(dir.path(), "r1");
    let rows = read_csv(&run.join("anomalies.csv"));
    assert_eq!(rows[0][12], "涉及金额 amount");
    let mut found: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in &rows[1..] {
        if !r[12].is_empty() {
            *found
                .entry(r[0].clone())
                .or_default()
                .entry(r[4].clone())
                .or_default() += cents(&r[12]);
        }
    }
    // Per lead: pensions paid after the month of death; dibao paid after death, or while
    // owning a car, a second home, a public salary (a household with several cars, homes or
    // salary months counted once); the subsidy for the area above the contract; fees banks
    // may not levy and fees to unregistered intermediaries (ten-thousand yuan made yuan);
    // unapproved allowances paid; school-meal money that did not arrive.
    let truth = sample_truth().amounts;
    let with_money: Vec<&str> = truth.keys().map(String::as_str).collect();
    assert_eq!(
        with_money,
        [
            "debt_prohibited_bank_fee",
            "debt_unregistered_intermediary",
            "dibao_multiple_properties",
            "dibao_on_public_payroll",
            "dibao_owns_car",
            "dibao_recipient_deceased",
            "funds_meal_received_below_allocated",
            "funds_unapproved_allowance",
            "pension_paid_after_death",
            "subsidy_area_above_contract"
        ]
    );
    assert_eq!(found, truth);
    let manifest = manifest_of(&run);
    let rule_total = |id: &str| -> i64 { truth[id].values().sum() };
    let total: i64 = truth.keys().map(|id| rule_total(id)).sum();
    assert_eq!(cents(manifest["totals"]["amount"].as_str().unwrap()), total);
    let mut by_severity: BTreeMap<String, i64> = BTreeMap::new();
    for r in manifest["rules"].as_array().unwrap() {
        if let Some(t) = truth.get(r["id"].as_str().unwrap()) {
            *by_severity
                .entry(r["severity"].as_str().unwrap().to_string())
                .or_default() += t.values().sum::<i64>();
        }
    }
    let written: BTreeMap<String, i64> = manifest["totals"]["amount_by_severity"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(s, a)| (s.clone(), cents(a.as_str().unwrap())))
        .collect();
    assert_eq!(written, by_severity);
    assert_eq!(by_severity.len(), 3, "critical, high and medium");
    for r in manifest["rules"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        if truth.contains_key(id) {
            assert_eq!(cents(r["amount"].as_str().unwrap()), rule_total(id), "{id}");
        } else {
            // A rule without `amount` reports none rather than zero.
            assert!(r["amount"].is_null(), "{id}");
        }
    }
}
