//! The rule packs beyond pensions and grain: each runs alone on the sample city and finds
//! exactly its planted leads; the working-day calendar and `sql` parameters fail clearly.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use samplecity::GroundTruth;

#[test]
fn each_pack_runs_alone_and_finds_exactly_its_planted_leads() {
    let truth: GroundTruth = sample_truth();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    for pack in ["debt", "zones", "business", "funds"] {
        let folder = repo().join("rules").join(pack);
        let run = run_ok(&job, pack, &["--rules", folder.to_str().unwrap()]);
        let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &read_csv(&run.join("anomalies.csv"))[1..] {
            found.entry(r[0].clone()).or_default().insert(r[4].clone());
        }
        let expected: BTreeMap<String, BTreeSet<String>> = truth
            .leads
            .iter()
            .filter(|(rule, _)| rule.starts_with(&format!("{pack}_")))
            .map(|(rule, keys)| (rule.clone(), keys.iter().cloned().collect()))
            .collect();
        let files = std::fs::read_dir(&folder).unwrap().count();
        assert_eq!(
            expected.len(),
            files,
            "{pack}: one ground-truth entry per rule file"
        );
        assert_eq!(found, expected, "{pack}");
        let manifest = manifest_of(&run);
        assert_eq!(manifest["rules"].as_array().unwrap().len(), files, "{pack}");
    }
}

fn approvals_job(dir: &std::path::Path, rows: &str, rule: &str) -> std::path::PathBuf {
    std::fs::write(
        data_dir(dir).join("eia.csv"),
        format!("受理编号,环评类别,受理日期,办结日期\n{rows}"),
    )
    .unwrap();
    custom_job(
        dir,
        "datasets:\n  eia:\n    path: eia.csv\n    columns:\n      case_no: { type: text, aliases: [受理编号] }\n      category: { type: text, aliases: [环评类别] }\n      accepted_on: { type: date, aliases: [受理日期] }\n      decided_on: { type: date, aliases: [办结日期] }\n",
        &[("late.yaml", rule)],
    )
}

const LATE: &str = "id: late\ntitle: t\ndescription: d\nseverity: low\nevidence:\n  - { label: days, expr: \"working_days(accepted_on, decided_on)\" }\nrow_check:\n  sources: [{ dataset: eia }]\n  condition: \"working_days(accepted_on, decided_on) > 10\"\n  key: [case_no]\n";

#[test]
fn working_days_count_holidays_and_make_up_days() {
    let dir = tempfile::tempdir().unwrap();
    // HP1: 20 calendar days across National Day 2025 are 10 working days (not late); HP2: 11
    // working days in March 2025 (late); HP3: across the 2024 Spring Festival, 2024-02-08 to
    // 2024-02-26 is 8 working days (2-9, 2-18 — a Sunday worked — and 2-19 to 2-26), 18
    // calendar days (not late).
    let job = approvals_job(
        dir.path(),
        "HP1,报告表,2025-09-26,2025-10-16\nHP2,报告表,2025-03-03,2025-03-18\nHP3,报告表,2024-02-08,2024-02-26\n",
        LATE,
    );
    let run = run_ok(&job, "r", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let keys: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(keys, ["HP2"]);
    assert!(rows[1].iter().any(|c| c == "days: 11"), "{:?}", rows[1]);
}

#[test]
fn a_date_outside_the_calendar_fails_the_rule_naming_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let job = approvals_job(dir.path(), "HP1,报告表,2014-12-30,2015-01-08\n", LATE);
    let out = run_job(&job, "r", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("rule late failed"), "{err}");
    assert!(
        err.contains("2014-12-30 is outside the working-day calendar (2015-01-01 to 2026-12-31)")
            && err.contains("`calendar:` in the job"),
        "{err}"
    );
}

#[test]
fn an_sql_rule_names_an_undeclared_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "id: late\ntitle: t\ndescription: d\nseverity: low\nparams:\n  limit: { type: int, default: 10 }\nsql:\n  query: |\n    SELECT case_no FROM eia\n    WHERE accepted_on > :limt\n  key: [case_no]\n";
    let job = approvals_job(dir.path(), "HP1,报告表,2025-03-03,2025-03-18\n", rule);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("late.yaml:10:25: unknown parameter `:limt`"),
        "{err}"
    );
    assert!(err.contains("did you mean `:limit`?"), "{err}");
}
