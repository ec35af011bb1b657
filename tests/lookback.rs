//! The next round: three rounds of the sample city, dispositions carried forward, and `diff`
//! giving exactly the planted new / persisting / resolved / reappeared leads.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use samplecity::GroundTruth;

fn leads_of(truth: &GroundTruth) -> BTreeSet<(String, String)> {
    truth
        .leads
        .iter()
        .flat_map(|(r, keys)| keys.iter().map(move |k| (r.clone(), k.clone())))
        .collect()
}

/// Generates round `n` into `dir/round<n>` and returns its job file (output: `dir/out`).
fn round(dir: &Path, n: u32) -> (PathBuf, GroundTruth) {
    let data = dir.join(format!("round{n}"));
    samplecity::generate_round(&data, 1, 20251231, n).unwrap();
    let job = dir.join(format!("audit{n}.yaml"));
    std::fs::write(
        &job,
        format!(
            "catalog: {}\nrules: [{}]\noutput: {}\nas_of: 2025-06-30\n",
            data.join("datasets.yaml").display(),
            repo().join("rules").display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    let truth =
        serde_json::from_str(&std::fs::read_to_string(data.join("ground_truth.json")).unwrap())
            .unwrap();
    (job, truth)
}

/// (rule, key) → (lead_id, evidence_hash) of a run.
fn lead_index(run: &Path) -> BTreeMap<(String, String), (String, String)> {
    let col = |n: &str| parquet_column(run, n);
    let (rules, keys, ids, hashes) = (
        col("rule_id"),
        col("key"),
        col("lead_id"),
        col("evidence_hash"),
    );
    (0..rules.len())
        .map(|i| {
            (
                (rules[i].clone(), keys[i].clone()),
                (ids[i].clone(), hashes[i].clone()),
            )
        })
        .collect()
}

fn found(run: &Path) -> BTreeSet<(String, String)> {
    lead_index(run).into_keys().collect()
}

fn diff_counts(old: &Path, new: &Path) -> serde_json::Value {
    let out = crosscheck(&[
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn three_rounds_diff_into_exactly_the_planted_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (job1, t1) = round(dir.path(), 1);
    let (job2, t2) = round(dir.path(), 2);
    let (job3, t3) = round(dir.path(), 3);
    let r1 = run_ok(&job1, "2025Q4", &[]);
    assert_eq!(found(&r1), leads_of(&t1));

    // Inspectors report one payroll lead as rectified (it is still there in round 2) and
    // confirm a car owner's.
    let index = lead_index(&r1);
    let payroll_key = t1.leads["dibao_on_public_payroll"][0].clone();
    let (lead, _) = &index[&("dibao_on_public_payroll".to_string(), payroll_key.clone())];
    let car_key = t2.leads["dibao_owns_car"][0].clone();
    let (car_lead, _) = &index[&("dibao_owns_car".to_string(), car_key.clone())];
    let dispositions = dir.path().join("round1_dispositions.csv");
    std::fs::write(
        &dispositions,
        format!(
            "lead_id,status,note\n{lead},已整改,已停发低保\n{car_lead},属实,车辆登记在户主名下\n"
        ),
    )
    .unwrap();
    let r2 = run_ok(
        &job2,
        "2026Q2",
        &["--dispositions", dispositions.to_str().unwrap()],
    );
    assert_eq!(found(&r2), leads_of(&t2));

    let counts = diff_counts(&r1, &r2);
    let (a, b) = (leads_of(&t1), leads_of(&t2));
    for rule in t1.leads.keys().chain(t2.leads.keys()) {
        let n =
            |set: BTreeSet<&(String, String)>| set.into_iter().filter(|(r, _)| r == rule).count();
        let c = &counts[rule];
        assert_eq!(c["new"], n(b.difference(&a).collect()), "{rule} new");
        assert_eq!(
            c["persisting"],
            n(b.intersection(&a).collect()),
            "{rule} persisting"
        );
        assert_eq!(
            c["resolved"],
            n(a.difference(&b).collect()),
            "{rule} resolved"
        );
        assert_eq!(c["reappeared"], 0, "{rule} reappeared");
        let attention = usize::from(rule == "dibao_on_public_payroll");
        assert_eq!(
            c["rectified_but_persisting"], attention,
            "{rule} rectified but persisting"
        );
    }
    // The money of each change, to the cent, from what the generator planted: new and
    // persisting leads at the newer round's amount, resolved ones at the older's.
    let yuan = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
    let money = |t: &GroundTruth, rule: &str, keys: &mut dyn Iterator<Item = &String>| {
        yuan(keys.map(|k| t.amounts[rule][k]).sum())
    };
    for rule in t1.amounts.keys() {
        let (old, new): (BTreeSet<&String>, BTreeSet<&String>) = (
            t1.leads[rule].iter().collect(),
            t2.leads[rule].iter().collect(),
        );
        let m = &counts[rule]["amounts"];
        assert_eq!(
            m["new"],
            money(&t2, rule, &mut new.difference(&old).copied()),
            "{rule}"
        );
        assert_eq!(
            m["persisting"],
            money(&t2, rule, &mut new.intersection(&old).copied()),
            "{rule}"
        );
        assert_eq!(
            m["resolved"],
            money(&t1, rule, &mut old.difference(&new).copied()),
            "{rule}"
        );
        let reported = |status_rule: &str, key: &String| {
            if rule == status_rule {
                money(&t2, rule, &mut std::iter::once(key))
            } else {
                "0.00".into()
            }
        };
        assert_eq!(
            m["rectified"],
            reported("dibao_on_public_payroll", &payroll_key),
            "{rule}"
        );
        assert_eq!(
            m["confirmed"],
            reported("dibao_owns_car", &car_key),
            "{rule}"
        );
    }
    let resolved_pensions = counts["pension_paid_after_death"]["amounts"]["resolved"]
        .as_str()
        .unwrap()
        .to_string();
    // Resolved money is real money: two pensions stopped and a car sold.
    assert_ne!(
        counts["pension_paid_after_death"]["amounts"]["resolved"],
        "0.00"
    );
    assert_ne!(counts["dibao_owns_car"]["amounts"]["resolved"], "0.00");
    // A rule without `amount` has no money, not zero money.
    assert!(counts["pension_duplicate_active"].get("amounts").is_none());

    // The planted changes, spelled out.
    assert_eq!(
        (
            counts["pension_paid_after_death"]["resolved"].as_u64(),
            counts["dibao_owns_car"]["resolved"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            counts["dibao_on_public_payroll"]["new"].as_u64(),
            counts["pension_duplicate_active"]["new"].as_u64()
        ),
        (Some(2), Some(1))
    );

    // Round 3: the car sold in round 2 is back — it reappears (seen in round 1).
    let r3 = run_ok(&job3, "2026Q4", &[]);
    assert_eq!(found(&r3), leads_of(&t3));
    let counts = diff_counts(&r2, &r3);
    for (rule, c) in counts.as_object().unwrap() {
        let reappeared = usize::from(rule == "dibao_owns_car");
        assert_eq!(c["reappeared"], reappeared, "{rule}");
        assert_eq!(c["new"], 0, "{rule}");
        assert_eq!(c["resolved"], 0, "{rule}");
    }
    // The look-back workbook lists the rectified-but-persisting lead first.
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(r2.join("diff-2025Q4.xlsx")).unwrap();
    use calamine::Reader;
    let rows = wb.worksheet_range("明细 Leads").unwrap();
    let first: Vec<String> = rows
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(first[0], "整改后仍存在 rectified but persisting");
    assert_eq!(first[3], *lead);
    // Its summary carries the resolved money as a number an inspector can add up.
    let summary = wb.worksheet_range("汇总 Summary").unwrap();
    let header: Vec<String> = summary
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    let col = header
        .iter()
        .position(|h| h == "已消除金额 Resolved amount")
        .unwrap();
    let pension = summary
        .rows()
        .find(|r| r[0] == "pension_paid_after_death")
        .unwrap();
    let resolved: f64 = resolved_pensions.parse().unwrap();
    assert_eq!(pension[col], calamine::Data::Float(resolved));
}

#[test]
fn a_false_positive_is_not_raised_again_unless_its_evidence_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (job1, t1) = round(dir.path(), 1);
    let (job2, _) = round(dir.path(), 2);
    let r1 = run_ok(&job1, "r1", &[]);
    let account = t1.leads["pension_shared_bank_account"][0].clone();
    let (lead, hash) =
        lead_index(&r1)[&("pension_shared_bank_account".to_string(), account.clone())].clone();

    // Recorded in a workbook, as an inspection team returns it.
    let book = dir.path().join("returned.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in [
        "线索编号 Lead ID",
        "线索键 Key",
        "证据指纹 Evidence hash",
        "核查状态 Status",
        "核查说明 Note",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (c, v) in [
        lead.as_str(),
        account.as_str(),
        hash.as_str(),
        "误报",
        "夫妻及其母亲共用账户，经核实非冒领",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    wb.save(&book).unwrap();
    let r2 = run_ok(&job2, "r2", &["--dispositions", book.to_str().unwrap()]);
    assert!(
        !found(&r2)
            .iter()
            .any(|(r, _)| r == "pension_shared_bank_account"),
        "cleared lead raised again"
    );
    let m = manifest_of(&r2);
    let rule = m["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "pension_shared_bank_account")
        .unwrap();
    assert_eq!(rule["suppressed_false_positives"], 1);
    assert_eq!(rule["dispositions"]["false_positive"], 1);

    // Recorded against other evidence: the lead comes back, carrying its status.
    let stale = dir.path().join("stale.csv");
    std::fs::write(
        &stale,
        format!("lead_id,status,evidence_hash\n{lead},false_positive,0000000000000000\n"),
    )
    .unwrap();
    let r3 = run_ok(&job2, "r3", &["--dispositions", stale.to_str().unwrap()]);
    assert!(found(&r3).contains(&("pension_shared_bank_account".to_string(), account.clone())));

    // Regression: a round's own workbook, returned with no status filled in, is a valid (empty)
    // dispositions file — evidence columns such as 参保状态 / Status are not the status column.
    let r5 = run_ok(
        &job2,
        "r5",
        &[
            "--dispositions",
            r1.join("anomalies.xlsx").to_str().unwrap(),
        ],
    );
    assert!(found(&r5).contains(&("pension_shared_bank_account".to_string(), account.clone())));

    // A status inspectors cannot mean is an error naming the place, before any data is read.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("lead_id,status\n{lead},maybe\n")).unwrap();
    let out = run_job(&job2, "r4", &["--dispositions", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.csv, row 2: unknown status `maybe`"),
        "{}",
        stderr(&out)
    );
}
