//! The rule language beyond the bundled rules: the time_window guard, the sql escape hatch,
//! parameter overrides, rule selection, and the errors each of them gives.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use polars::prelude::SerReader;

/// A job over the sample city with the given extra rule files (name, YAML) in their own folder.
fn job_with_rules(dir: &Path, rules: &[(&str, &str)]) -> std::path::PathBuf {
    let folder = dir.join("rules");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text) in rules {
        std::fs::write(folder.join(name), text).unwrap();
    }
    write_job(dir, &repo().join("sample_data/datasets.yaml"), &folder)
}

fn leads(run: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = read_csv(&run.join("anomalies.csv"))[1..]
        .iter()
        .map(|r| (r[0].clone(), r[4].clone()))
        .collect();
    v.dedup();
    v
}

const EVERY_TICKET_PAIR: &str = "id: every_pair
title: 测试 / test
description: pairs every ticket of a depot with every other
severity: low
time_window:
  left: { dataset: weighbridge_tickets }
  on: \"l.depot = r.depot\"
  left_time: l.weighed_at
  right_time: r.weighed_at
  within: { days: 100 }
  order: either
  max_pairs: 50
";

#[test]
fn a_time_window_partition_above_the_guard_stops_with_the_guard_error() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(dir.path(), &[("every_pair.yaml", EVERY_TICKET_PAIR)]);
    let out = run_job(&job, "r", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("error: rule every_pair failed"), "{err}");
    assert!(
        err.contains("more than max_pairs = 50; narrow `on` or the `where` filters"),
        "{err}"
    );
    assert!(err.contains("the key JS0101 would form"), "{err}");
    // Raised high enough, the same rule runs.
    let relaxed = EVERY_TICKET_PAIR.replace("max_pairs: 50", "max_pairs: 100000");
    let job = job_with_rules(dir.path(), &[("every_pair.yaml", relaxed.as_str())]);
    run_ok(&job, "s", &[]);
}

#[test]
fn a_failed_rule_has_no_money_total_rather_than_zero() {
    let dir = tempfile::tempdir().unwrap();
    let with_amount = format!("{EVERY_TICKET_PAIR}amount: l.net_kg\n");
    let job = job_with_rules(dir.path(), &[("every_pair.yaml", with_amount.as_str())]);
    assert_eq!(run_job(&job, "r", &[]).status.code(), Some(2));
    let m = manifest_of(&dir.path().join("out/r"));
    assert!(m["rules"][0]["amount"].is_null(), "{}", m["rules"][0]);
    assert!(m["totals"]["amount"].is_null(), "{}", m["totals"]);
    assert!(m["totals"]["amount_by_severity"]["low"].is_null());
    // Once it runs, the total is there.
    let relaxed = with_amount.replace("max_pairs: 50", "max_pairs: 100000");
    let job = job_with_rules(dir.path(), &[("every_pair.yaml", relaxed.as_str())]);
    let m = manifest_of(&run_ok(&job, "s", &[]));
    let total = m["totals"]["amount"].as_str().unwrap();
    assert_eq!(m["rules"][0]["amount"].as_str(), Some(total));
    assert!(total.parse::<f64>().unwrap() > 0.0, "{total}");
}

const SQL_RULE: &str = "id: big_payments
title: 大额发放 / Large payments
description: payments above 4,000 yuan in a month
severity: low
evidence:
  - { label: 金额, expr: amount }
sql:
  query: |
    SELECT id_card, amount, __file, __sheet, __row
    FROM pension_payments
    WHERE amount > 4000
  key: [id_card]
";

#[test]
fn an_sql_rule_runs_its_query_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(dir.path(), &[("big.yaml", SQL_RULE)]);
    let run = run_ok(&job, "r", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    assert!(rows.len() > 1);
    for r in &rows[1..] {
        assert_eq!(r[6], "pension_payments.parquet");
        let amount: f64 = r[11].trim_start_matches("金额: ").parse().unwrap();
        assert!(amount > 4000.0, "{r:?}");
    }
    // The same payments found by reading the Parquet file directly.
    let df = polars::prelude::ParquetReader::new(
        std::fs::File::open(repo().join("sample_data/pension_payments.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    let big = df
        .column("发放金额")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .filter(|v| v.is_some_and(|v| v > 4000.0))
        .count();
    assert_eq!(rows.len() - 1, big);
}

#[test]
fn sql_syntax_errors_and_unknown_datasets_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = SQL_RULE
        .replace("WHERE amount > 4000", "WHERE amount >> AND 4000")
        .replace("FROM pension_payments", "FROM pension_payment");
    let job = job_with_rules(dir.path(), &[("big.yaml", broken.as_str())]);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("big.yaml:") && err.contains("SQL syntax error"),
        "{err}"
    );
    let only_table = SQL_RULE.replace("FROM pension_payments", "FROM pension_payment");
    let job = job_with_rules(dir.path(), &[("big.yaml", only_table.as_str())]);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(
        err.contains("big.yaml:10:10: unknown dataset `pension_payment`"),
        "{err}"
    );
    assert!(err.contains("did you mean `pension_payments`?"), "{err}");
}

#[test]
fn unknown_datasets_and_duplicate_rule_ids_are_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let a = "id: same\ntitle: t\ndescription: d\nseverity: low\nrow_check:\n  sources: [{ dataset: dibao_rol }]\n  condition: \"household_size > 5\"\n  key: [id_card]\n";
    let b = "id: same\ntitle: t\ndescription: d\nseverity: low\nrow_check:\n  sources: [{ dataset: dibao_roll }]\n  condition: \"household_size > 5\"\n  key: [id_card]\n";
    let job = job_with_rules(dir.path(), &[("a.yaml", a), ("b.yaml", b)]);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("a.yaml:6:24: unknown dataset `dibao_rol`"),
        "{err}"
    );
    assert!(err.contains("did you mean `dibao_roll`?"), "{err}");
    assert!(
        err.contains("b.yaml:1:5: duplicate rule id `same`: also used by"),
        "{err}"
    );
}

#[test]
fn params_from_the_command_line_override_the_rule_default() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let job = job.to_str().unwrap();
    let out = crosscheck(&[
        "run",
        "-q",
        "--config",
        job,
        "--run-id",
        "r",
        "--rules",
        "pension_shared_bank_account",
        "--param",
        "pension_shared_bank_account.min_people=2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The couple sharing an account is flagged once the threshold is 2.
    assert_eq!(leads(&dir.path().join("out/r")).len(), 2);
    let manifest: serde_json::Value = manifest_of(&dir.path().join("out/r"));
    assert_eq!(manifest["rules"][0]["params"]["min_people"], "2");
    let out = crosscheck(&[
        "run",
        "-q",
        "--config",
        job,
        "--run-id",
        "s",
        "--param",
        "pension_shared_bank_account.min_peple=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not declare"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rules_are_selected_by_folder_and_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let job = job.to_str().unwrap();
    let grain = repo().join("rules/grain");
    let out = crosscheck(&[
        "run",
        "-q",
        "--config",
        job,
        "--run-id",
        "a",
        "--rules",
        grain.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rules: std::collections::BTreeSet<String> = leads(&dir.path().join("out/a"))
        .into_iter()
        .map(|l| l.0)
        .collect();
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        ["grain_paper_stock", "grain_rotating"]
    );
    let out = crosscheck(&[
        "run", "-q", "--config", job, "--run-id", "b", "--tags", "subsidy",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rules: std::collections::BTreeSet<String> = leads(&dir.path().join("out/b"))
        .into_iter()
        .map(|l| l.0)
        .collect();
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        ["subsidy_area_above_contract"]
    );
}

#[test]
fn a_disabled_rule_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let disabled = SQL_RULE.replace("severity: low\n", "severity: low\nenabled: false\n");
    let job = job_with_rules(
        dir.path(),
        &[
            ("big.yaml", disabled.as_str()),
            (
                "every_pair.yaml",
                &EVERY_TICKET_PAIR.replace("max_pairs: 50", "max_pairs: 100000"),
            ),
        ],
    );
    let run = run_ok(&job, "r", &[]);
    let ran: Vec<String> = manifest_of(&run)["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ran, ["every_pair"]);
}

#[test]
fn a_reconcile_lead_points_at_one_real_source_row() {
    // Regression: the key's file came from one row and its row number from another when the
    // key's rows were spread over two files.
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    std::fs::write(
        data.join("book_a.csv"),
        "depot,bin,t\nD1,P9,1\nD1,P9,1\nD1,P9,1\nD1,P1,100\n",
    )
    .unwrap();
    std::fs::write(data.join("book_b.csv"), "depot,bin,t\nD1,P1,50\n").unwrap();
    std::fs::write(
        data.join("measured.csv"),
        "depot,bin,t\nD1,P1,10\nD1,P9,3\n",
    )
    .unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  book:\n    path: book_*.csv\n    columns: { depot: { type: text }, bin: { type: text }, t: { type: decimal } }\n  measured:\n    path: measured.csv\n    columns: { depot: { type: text }, bin: { type: text }, t: { type: decimal } }\n",
        &[(
            "r.yaml",
            "id: r\ntitle: t\ndescription: d\nseverity: low\nreconcile:\n  left: { dataset: book }\n  right: { dataset: measured }\n  on: \"l.depot = r.depot AND l.bin = r.bin\"\n  left_value: sum(t)\n  right_value: sum(t)\n  direction: left_above\n  unmatched: none\n",
        )],
    );
    let run = run_ok(&job, "x", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let got: Vec<(&str, &str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[4].as_str(), r[6].as_str(), r[8].as_str(), r[9].as_str()))
        .collect();
    // D1|P1: 150 booked, 10 measured; its first row is book_a.csv row 5 (not row 2 of book_b).
    assert_eq!(got, [("D1|P1", "book_a.csv", "5", "measured.csv:2")]);
}

#[test]
fn benford_and_sequence_gaps_are_measures_of_an_aggregate_rule() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    // Depot A's amounts are log-uniform over three decades (they follow Benford's law) and its
    // vouchers are numbered without gaps; depot B's amounts all start with 5–9, and vouchers
    // 1005 and 1007 are missing.
    let mut csv = String::from("depot,voucher,amount\n");
    for k in 0..3000 {
        csv.push_str(&format!(
            "A,{},{:.2}\n",
            1000 + k,
            10f64.powf(1.0 + k as f64 / 1000.0)
        ));
    }
    for (i, k) in (0..600).filter(|k| *k != 5 && *k != 7).enumerate() {
        csv.push_str(&format!("B,{},{}\n", 1000 + k, 500 + (i * 7) % 500));
    }
    std::fs::write(data.join("vouchers.csv"), csv).unwrap();
    let rule = |id: &str, having: &str, rows: &str| {
        format!(
            "id: {id}\ntitle: t\ndescription: d\nseverity: low\nevidence:\n  - {{ label: mad, expr: mad }}\n  - {{ label: gaps, expr: gaps }}\naggregate:\n  source: {{ dataset: vouchers }}\n  group_by: [depot]\n  measures:\n    n: \"count(*)\"\n    mad: \"benford_mad(amount)\"\n    gaps: \"max(voucher) - min(voucher) + 1 - count(distinct voucher)\"\n  having: \"{having}\"\n  rows: {rows}\n"
        )
    };
    let (benford, gaps) = (
        rule("benford", "n >= 300 AND mad > 0.015", "members"),
        rule("gaps", "gaps > 0", "group"),
    );
    let job = custom_job(
        dir.path(),
        "datasets:\n  vouchers:\n    path: vouchers.csv\n    columns: { depot: { type: text }, voucher: { type: int }, amount: { type: money } }\n",
        &[("benford.yaml", &benford), ("gaps.yaml", &gaps)],
    );
    let run = run_ok(&job, "r", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let leads: BTreeSet<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        leads,
        [
            ("benford".to_string(), "B".to_string()),
            ("gaps".to_string(), "B".to_string())
        ]
        .into_iter()
        .collect()
    );
    // `rows: members` lists each of B's 598 vouchers; `rows: group` one row, B's first record
    // (line 3002 of the file, after the header and A's 3000).
    assert_eq!(rows.iter().filter(|r| r[0] == "benford").count(), 598);
    let g: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "gaps").collect();
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0][6].as_str(), g[0][8].as_str()),
        ("vouchers.csv", "3002")
    );
    assert!(g[0][11].contains("gaps: 2"), "{:?}", g[0][11]);
    let mad: f64 = rows.iter().find(|r| r[0] == "benford").unwrap()[11]
        .split("; ")
        .next()
        .unwrap()
        .trim_start_matches("mad: ")
        .parse()
        .unwrap();
    // Digits 5–9 at 20 % each against Benford (30.1 %, 17.6 %, …, 4.6 %): MAD = 1.398 / 9 ≈ 0.1553.
    assert!((mad - 0.1553).abs() < 0.001, "{mad}");
}

#[test]
fn amounts_are_stratified_into_bands() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    std::fs::write(
        data.join("p.csv"),
        "amount\n50\n99.99\n100\n999\n1000\n250000\n-5\n",
    )
    .unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  p:\n    path: p.csv\n    columns: { amount: { type: money } }\n",
        &[(
            "strata.yaml",
            "id: strata\ntitle: t\ndescription: d\nseverity: info\nevidence: [{ label: n, expr: n }, { label: total, expr: total }]\naggregate:\n  source: { dataset: p }\n  group_by: [\"stratum(amount, 0, 100, 1000)\"]\n  measures: { n: \"count(*)\", total: \"sum(amount)\" }\n  having: \"n > 0\"\n",
        )],
    );
    let run = run_ok(&job, "r", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let mut bands: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[4].clone(), r[11].split("; ").next().unwrap().to_string()))
        .collect();
    bands.dedup();
    assert_eq!(
        bands,
        [
            ("00 (-∞, 0)".to_string(), "n: 1".to_string()),
            ("01 [0, 100)".to_string(), "n: 2".to_string()),
            ("02 [100, 1000)".to_string(), "n: 2".to_string()),
            ("03 [1000, ∞)".to_string(), "n: 2".to_string()),
        ]
    );
}

const NOT_EXISTS_WITH_CONDITION: &str = "id: alive_paid
title: t
description: payments with no death recorded before the paid month
severity: low
match:
  left: { dataset: pension_payments }
  right: { dataset: death_register }
  on: \"l.id_card = r.id_card\"
  condition: \"year_month(r.death_date) < year_month(l.pay_month)\"
  mode: not_exists
tests:
  - name: a death before the month removes the payment; one after it does not
    given:
      pension_payments:
        - { 身份证号码: \"320102195003011238\", 姓名: 张伟, 发放年月: \"202503\", 发放金额: 1.0, 银行账号: a }
        - { 身份证号码: \"320104194805122341\", 姓名: 李娜, 发放年月: \"202503\", 发放金额: 1.0, 银行账号: b }
        - { 身份证号码: \"320106196208083454\", 姓名: 王强, 发放年月: \"202503\", 发放金额: 1.0, 银行账号: c }
      death_register:
        - { 姓名: 张伟, 公民身份号码: \"320102195003011238\", 死亡日期: 2025-01-05 }
        - { 姓名: 李娜, 公民身份号码: \"320104194805122341\", 死亡日期: 2025-06-05 }
    expect: { keys: [\"320104194805122341\", \"320106196208083454\"] }
";

#[test]
fn not_exists_with_a_pair_condition_keeps_rows_whose_partners_all_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(dir.path(), &[("alive.yaml", NOT_EXISTS_WITH_CONDITION)]);
    let out = crosscheck(&["test", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "1 passed, 0 failed"
    );
}

#[test]
fn having_may_apply_functions_to_a_grouped_column() {
    // Regression: a grouped column inside a function in `having` was not renamed to its group
    // value, and the rule failed while running.
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(
        dir.path(),
        &[(
            "shared.yaml",
            "id: shared\ntitle: t\ndescription: d\nseverity: low\naggregate:\n  source: { dataset: pension_payments }\n  group_by: [bank_account]\n  measures: { people: \"count(distinct id_card)\" }\n  having: \"people >= 3 AND length(bank_account) = 19\"\n",
        )],
    );
    let run = run_ok(&job, "r", &[]);
    let keys: BTreeSet<String> = read_csv(&run.join("anomalies.csv"))[1..]
        .iter()
        .map(|r| r[4].clone())
        .collect();
    let truth: samplecity::GroundTruth = sample_truth();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        truth.leads["pension_shared_bank_account"]
    );
}

#[test]
fn only_the_columns_some_rule_reads_are_kept_and_unread_columns_still_reject_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        data_dir(dir.path()).join("p.csv"),
        "编号,金额,备注,笔数\nA1,100,ok,1\nA2,200,ok,x\nA3,300,ok,3\n",
    )
    .unwrap();
    let catalog = "datasets:\n  p:\n    path: p.csv\n    columns:\n      code: { type: text, aliases: [编号] }\n      amount: { type: money, aliases: [金额] }\n      note: { type: text, aliases: [备注] }\n      n: { type: int, aliases: [笔数] }\n  q:\n    path: p.csv\n    columns:\n      code: { type: text, aliases: [编号] }\n      amount: { type: money, aliases: [金额] }\n      note: { type: text, aliases: [备注] }\n      n: { type: int, aliases: [笔数] }\n";
    let big = "id: big\ntitle: t\ndescription: d\nseverity: low\nevidence: [{ label: note, expr: note }]\nrow_check:\n  sources: [{ dataset: p }]\n  condition: \"amount > 150\"\n  key: [code]\n";
    let sql = "id: all\ntitle: t\ndescription: d\nseverity: low\nsql:\n  query: \"SELECT code FROM q WHERE amount > 150\"\n  key: [code]\n";
    let job = custom_job(dir.path(), catalog, &[("big.yaml", big), ("all.yaml", sql)]);
    let run = run_ok(&job, "r", &[]);
    let manifest = manifest_of(&run);
    let columns = |name: &str| -> Vec<String> {
        let d = manifest["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap();
        // `n` is never read by `big`, yet its bad cell still rejects row 3 (A2): what is
        // rejected does not depend on which rules run.
        assert_eq!(
            (d["rows_loaded"].as_u64(), d["rows_rejected"].as_u64()),
            (Some(2), Some(1))
        );
        serde_json::from_value(d["columns_loaded"].clone()).unwrap()
    };
    assert_eq!(
        columns("p"),
        ["code", "amount", "note", "__file", "__sheet", "__row"]
    );
    // An `sql` query may read any column: all are kept.
    assert_eq!(
        columns("q"),
        ["code", "amount", "note", "n", "__file", "__sheet", "__row"]
    );
    let leads: Vec<String> = read_csv(&run.join("anomalies.csv"))[1..]
        .iter()
        .map(|r| format!("{}:{}", r[0], r[4]))
        .collect();
    assert_eq!(leads, ["all:A3", "big:A3"]);
}

/// \"Two or more homes, or a car above 50,000\" in one `match`: exactly the leads of the two
/// bundled rules together, each row saying which alternative holds and carrying its partner's
/// own evidence (an address or a plate).
#[test]
fn a_match_with_alternatives_flags_a_lead_when_any_holds() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(dir.path(), &[("homes_or_car.yaml", HOMES_OR_CAR)]);
    let run = run_ok(&job, "r", &["--rules", "homes_or_car"]);
    let truth: samplecity::GroundTruth = serde_json::from_slice(
        &std::fs::read(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap();
    let want: BTreeSet<String> = ["dibao_multiple_properties", "dibao_owns_car"]
        .iter()
        .flat_map(|r| truth.leads[*r].iter().cloned())
        .collect();
    let rows = read_csv(&run.join("anomalies.csv"));
    let got: BTreeSet<String> = rows[1..].iter().map(|r| r[4].clone()).collect();
    assert_eq!(got, want);
    for r in &rows[1..] {
        let ev: std::collections::BTreeMap<&str, &str> = r[11]
            .split("; ")
            .filter_map(|kv| kv.split_once(": "))
            .collect();
        let (address, plate) = (ev["坐落 / Address"], ev["号牌号码 / Plate"]);
        if ev["情形 / Finding"] == "两套以上住房 / two or more homes" {
            assert!(!address.is_empty() && plate.is_empty(), "{ev:?}");
            assert!(r[9].starts_with("property_register.csv:"), "{r:?}");
        } else {
            assert_eq!(ev["情形 / Finding"], "高价车辆 / a car above 50,000");
            assert!(address.is_empty() && plate.starts_with("苏A"), "{ev:?}");
            assert!(r[9].starts_with("vehicle_register.csv:"), "{r:?}");
        }
    }
    // Alternatives and a single right side are one or the other.
    let both = HOMES_OR_CAR.replace("  any:", "  right: { dataset: property_register }\n  any:");
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_rules(dir.path(), &[("homes_or_car.yaml", both.as_str())]);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not both"), "{}", stderr(&out));
}
