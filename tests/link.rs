//! The `link` kind end to end: the bundled rule's leads on the sample city, why each pair
//! scored what it did (evidence, manifest, the weights sheet), deduplication into clusters,
//! the guard, and the rule errors an analyst gets.

mod common;

use std::collections::BTreeSet;

use common::*;

#[test]
fn the_bundled_link_rule_finds_exactly_the_planted_pairs_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let run = run_ok(&job, "r", &["--rules", "dibao_head_on_village_payroll"]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let keys: BTreeSet<String> = rows[1..].iter().map(|r| r[4].clone()).collect();
    let truth: BTreeSet<String> = sample_truth().leads["dibao_head_on_village_payroll"]
        .iter()
        .cloned()
        .collect();
    assert_eq!(truth.len(), 12);
    assert_eq!(keys, truth);

    // Each lead shows its probability and every field's level.
    let evidence = parquet_column(&run, "evidence");
    assert_eq!(evidence.len(), 12);
    let mut levels = BTreeSet::new();
    for e in &evidence {
        let e: serde_json::Value = serde_json::from_str(e).unwrap();
        let p: f64 = e["匹配概率 / Match probability"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.9..=1.0).contains(&p), "{e}");
        levels.insert(e["姓名比对 / Names"].as_str().unwrap().to_string());
        levels.insert(e["身份证号比对 / IDs"].as_str().unwrap().to_string());
        levels.insert(
            e["出生日期比对 / Birth dates"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The planted variants show as the levels they are.
    for level in [
        "同名（繁简、异体归一） / same name",
        "同音 / same pronunciation",
        "缺失 / missing",
        "相差一位或相邻两位颠倒 / one character apart, or two adjacent swapped",
        "日月颠倒 / day and month swapped",
    ] {
        assert!(levels.contains(level), "{level} in {levels:?}");
    }

    // The manifest holds the estimated weights: the prior, m and u per level of each field.
    let manifest = manifest_of(&run);
    let link = &manifest["rules"][0]["link"];
    assert_eq!(manifest["rules"][0]["kind"], "link");
    assert_eq!(link["pairs_at_threshold"], 12);
    assert_eq!(link["prior_estimated"], true);
    let fields: Vec<&str> = link["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "birth", "id", "address"]);
    for f in link["fields"].as_array().unwrap() {
        let (m, u) = (f["m"].as_array().unwrap(), f["u"].as_array().unwrap());
        assert_eq!(m.len(), f["levels"].as_array().unwrap().len());
        let sum = |v: &Vec<serde_json::Value>| v.iter().map(|x| x.as_f64().unwrap()).sum::<f64>();
        assert!(
            (sum(m) - 1.0).abs() < 1e-9 && (sum(u) - 1.0).abs() < 1e-9,
            "{f}"
        );
        // Agreeing on a field is evidence for one person, disagreeing against.
        let w = f["weight"].as_array().unwrap();
        assert!(w[0].as_f64().unwrap() < 0.0, "{f}");
        assert!(w.last().unwrap().as_f64().unwrap() > 5.0, "{f}");
    }

    // The workbook has the weights sheet, a row per level plus the prior.
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(run.join("anomalies.xlsx")).unwrap();
    let sheet = wb.worksheet_range("匹配权重 Link weights").unwrap();
    assert_eq!(sheet.height(), 1 + 1 + 5 + 5 + 4 + 4);
    assert_eq!(sheet.get((1, 1)).unwrap().to_string(), "先验 Prior");
}

const PEOPLE: &str = "datasets:
  people:
    title: 人员 / People
    path: people.csv
    columns:
      rec_id: { type: text, aliases: [编号] }
      name: { type: name, aliases: [姓名] }
      id_card: { type: id_card, aliases: [身份证号] }
      birth_date: { type: date, aliases: [出生日期] }
      address: { type: text, aliases: [住址] }
";

fn dedupe_rule(extra: &str) -> String {
    format!(
        "id: same_person
title: 同一人多条记录 / One person recorded more than once
description: test
severity: medium
evidence:
  - {{ label: a, expr: l.rec_id }}
  - {{ label: b, expr: r.rec_id }}
link:
  left: {{ dataset: people }}
  id: rec_id
  blocking:
    - \"l.birth_date = r.birth_date\"
    - \"pinyin(l.name) = pinyin(r.name)\"
  compare:
    - {{ field: name, as: chinese_name, column: name }}
    - {{ field: birth, as: date, column: birth_date }}
    - {{ field: id, as: id, column: \"coalesce(id_card, id_card_raw)\" }}
    - {{ field: address, as: address, column: address }}
{extra}"
    )
}

/// Forty background people, one person written three ways, and a namesake born the same
/// year at another address.
fn people_csv() -> String {
    let check = |first17: &str| {
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17
            .bytes()
            .zip(W)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
    };
    let surnames = ["王", "李", "赵", "钱", "孙", "周", "吴", "郑", "冯", "陈"];
    let given = ["建国", "秀英", "志强", "桂兰", "海燕", "明", "磊", "静"];
    let mut out = String::from("编号,姓名,身份证号,出生日期,住址\n");
    for i in 0..40u32 {
        let (y, m, d) = (1940 + i, 1 + i % 12, 1 + i % 27);
        let id = check(&format!("320115{y}{m:02}{d:02}{:03}", 100 + i));
        out.push_str(&format!(
            "P{i:03},{}{},{id},{y}-{m:02}-{d:02},江宁区第{i}村{}号\n",
            surnames[(i % 10) as usize],
            given[(i % 8) as usize],
            i + 1
        ));
    }
    let id = check("32011519550307123");
    out.push_str(&format!(
        "A1,张伟,{id},1955-03-07,江宁区汤山街道龙泉村3组12号\n"
    ));
    out.push_str("A2,張偉,,1955-07-03,江宁区汤山街道龙泉村3组12号\n");
    let fifteen = format!("{}{}", &id[..6], &id[8..17]);
    out.push_str(&format!(
        "A3,张玮,{fifteen},1955-03-07,江宁区湯山街道龍泉村3组12號\n"
    ));
    let other = check("32010219551120456");
    out.push_str(&format!("B1,张伟,{other},1955-11-20,鼓楼区中山路8号\n"));
    out
}

#[test]
fn deduplicating_joins_one_persons_records_into_one_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dedupe_rule("");
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", rule.as_str())]);
    std::fs::write(dir.path().join("data/people.csv"), people_csv()).unwrap();
    let run = run_ok(&job, "r", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let keys: BTreeSet<String> = rows[1..].iter().map(|r| r[4].clone()).collect();
    // One lead: the cluster of the three records; the namesake stays out.
    assert_eq!(keys, BTreeSet::from(["A1~A2~A3".to_string()]));
    let ev = rows[0].iter().position(|h| h.contains("evidence")).unwrap();
    let pairs: BTreeSet<&str> = rows[1..].iter().map(|r| r[ev].as_str()).collect();
    // Each two of the three ways of writing him agree enough on their own.
    assert_eq!(
        pairs,
        BTreeSet::from(["a: A1; b: A2", "a: A1; b: A3", "a: A2; b: A3"])
    );

    // The same rule, its weights fixed so that nothing links: no lead.
    let fixed = dedupe_rule(
        "  weights:\n    name: { m: [0.2, 0.2, 0.2, 0.2, 0.2], u: [0.2, 0.2, 0.2, 0.2, 0.2] }\n    \
         birth: { m: [0.2, 0.2, 0.2, 0.2, 0.2], u: [0.2, 0.2, 0.2, 0.2, 0.2] }\n    \
         id: { m: [0.25, 0.25, 0.25, 0.25], u: [0.25, 0.25, 0.25, 0.25] }\n    \
         address: { m: [0.25, 0.25, 0.25, 0.25], u: [0.25, 0.25, 0.25, 0.25] }\n  prior: 0.001\n",
    );
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", fixed.as_str())]);
    let run = run_ok(&job, "r2", &[]);
    assert_eq!(read_csv(&run.join("anomalies.csv")).len(), 1);
    let manifest = manifest_of(&run);
    assert_eq!(manifest["rules"][0]["link"]["prior"], 0.001);
    assert_eq!(manifest["rules"][0]["link"]["prior_estimated"], false);

    // The same fixed by `--param` on the estimating rule, without editing it.
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", rule.as_str())]);
    let params = [
        "same_person.prior=0.001",
        "same_person.name.m=0.2,0.2,0.2,0.2,0.2",
        "same_person.name.u=0.2,0.2,0.2,0.2,0.2",
        "same_person.birth.m=0.2,0.2,0.2,0.2,0.2",
        "same_person.birth.u=0.2,0.2,0.2,0.2,0.2",
        "same_person.id.m=0.25,0.25,0.25,0.25",
        "same_person.id.u=0.25,0.25,0.25,0.25",
        "same_person.address.m=0.25,0.25,0.25,0.25",
        "same_person.address.u=0.25,0.25,0.25,0.25",
    ];
    let mut args = Vec::new();
    for p in &params {
        args.extend(["--param", p]);
    }
    let run = run_ok(&job, "r3", &args);
    assert_eq!(read_csv(&run.join("anomalies.csv")).len(), 1);
    let link = &manifest_of(&run)["rules"][0]["link"];
    assert_eq!(link["prior"], 0.001);
    let name = &link["fields"][0];
    assert_eq!(name["m"], serde_json::json!([0.2, 0.2, 0.2, 0.2, 0.2]));
    assert_eq!(name["m_estimated"], false);
    assert_eq!(name["u_estimated"], false);

    // A threshold by `--param` is the one applied, and recorded; a bad value or a field the
    // rule does not compare is an error naming it.
    let run = run_ok(&job, "r4", &["--param", "same_person.threshold=0.35"]);
    assert_eq!(manifest_of(&run)["rules"][0]["link"]["threshold"], 0.35);
    let bad = run_job(&job, "r5", &["--param", "same_person.name.m=0.5,half"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("parameter `name.m` = `0.5,half`: give one probability per level"),
        "{}",
        stderr(&bad)
    );
    let bad = run_job(&job, "r6", &["--param", "same_person.nmae.m=0.5,0.5"]);
    assert!(
        stderr(&bad)
            .contains("the job sets parameter `nmae.m` that rule `same_person` does not declare"),
        "{}",
        stderr(&bad)
    );
    let bad = run_job(&job, "r7", &["--param", "same_person.threshold=1.5"]);
    assert!(
        stderr(&bad).contains("parameter `threshold` = `1.5`: a probability between 0 and 1"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_fields_own_thresholds_are_its_levels_in_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dedupe_rule("").replace(
        "    - { field: address, as: address, column: address }\n",
        "    - { field: address, as: address, column: address, thresholds: [0.5] }\n    \
         - { field: spelt, as: text, column: name, thresholds: [0.7, 0.95, 0.85] }\n",
    );
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", rule.as_str())]);
    std::fs::write(dir.path().join("data/people.csv"), people_csv()).unwrap();
    let run = run_ok(&job, "r", &[]);
    let fields = manifest_of(&run)["rules"][0]["link"]["fields"].clone();
    let levels = |i: usize| -> Vec<String> {
        fields[i]["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        levels(3),
        [
            "不同 / different",
            "共有 ≥ 0.5 / in common ≥ 0.5",
            "相同 / same"
        ]
    );
    assert_eq!(
        levels(4),
        [
            "不同 / different",
            "相近 ≥ 0.7 / Jaro-Winkler ≥ 0.7",
            "相近 ≥ 0.85 / Jaro-Winkler ≥ 0.85",
            "相近 ≥ 0.95 / Jaro-Winkler ≥ 0.95",
            "相同 / same"
        ]
    );
    for i in [3, 4] {
        for p in ["m", "u"] {
            let v: Vec<f64> = fields[i][p]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(v.len(), levels(i).len());
            assert!(
                (v.iter().sum::<f64>() - 1.0).abs() < 1e-9,
                "{p} of {i}: {v:?}"
            );
        }
    }
    // The same person's three records still make the one lead.
    let rows = read_csv(&run.join("anomalies.csv"));
    let keys: BTreeSet<String> = rows[1..].iter().map(|r| r[4].clone()).collect();
    assert_eq!(keys, BTreeSet::from(["A1~A2~A3".to_string()]));
}

#[test]
fn a_blocking_key_above_the_guard_stops_the_rule_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dedupe_rule("  max_pairs: 5\n").replace(
        "    - \"l.birth_date = r.birth_date\"\n",
        "    - \"substr(l.rec_id, 1, 1) = substr(r.rec_id, 1, 1)\"\n",
    );
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", rule.as_str())]);
    std::fs::write(dir.path().join("data/people.csv"), people_csv()).unwrap();
    let out = run_job(&job, "r", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("blocking rule 1 (`substr(l.rec_id, 1, 1) = substr(r.rec_id, 1, 1)`)"),
        "{err}"
    );
    assert!(err.contains("more than max_pairs = 5"), "{err}");
}

#[test]
fn an_id_that_does_not_name_one_record_stops_the_rule() {
    // A record without an `id`, or two records with one, would merge leads: the rule stops
    // naming the records by file and row (never the value) and what to choose instead.
    let dir = tempfile::tempdir().unwrap();
    for (id, run, says) in [
        (
            "id_card",
            "empty",
            "`id` (l.id_card) is empty for 1 record(s), the first at people.csv row 43",
        ),
        (
            "birth_date",
            "twice",
            "`id` (l.birth_date) names two records, people.csv row 42 and people.csv row 44",
        ),
    ] {
        let rule = dedupe_rule("").replace("  id: rec_id\n", &format!("  id: {id}\n"));
        let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", rule.as_str())]);
        std::fs::write(dir.path().join("data/people.csv"), people_csv()).unwrap();
        let out = run_job(&job, run, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{err}");
        assert!(
            err.contains("choose an `id` that names one record each"),
            "{err}"
        );
        assert!(!err.contains("320115"), "no ID in the message: {err}");
    }
}

#[test]
fn mistakes_in_a_link_rule_are_reported_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dedupe_rule("  threshold: 1.5\n  weights:\n    name: { m: [0.5, 0.5] }\n    nickname: { m: [1.0] }\n")
        .replace(
            "    - { field: address, as: address, column: address }\n",
            "    - { field: address, as: address, column: address, left: address, right: address }\n    - { field: Name, as: text, column: name }\n    - { field: born, as: date, column: birth_date, thresholds: [0.9] }\n    - { field: spelt, as: text, column: name, thresholds: [0.9, 0.9] }\n",
        )
        .replace("\"l.birth_date = r.birth_date\"", "\"l.birth_date > r.birth_date\"")
        // Deduplicating, a pairing that reads differently on the two sides.
        .replace("pinyin(r.name)", "pinyin(r.address)")
        .replace(
            "    - { field: name, as: chinese_name, column: name }\n",
            "    - { field: name, as: chinese_name, column: name }\n    - { field: nm, as: text, left: name, right: address }\n",
        );
    let job = custom_job(dir.path(), PEOPLE, &[("same.yaml", bad.as_str())]);
    std::fs::write(dir.path().join("data/people.csv"), people_csv()).unwrap();
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "same.yaml:12:",
        "`on` must be equalities between an l. and an r. expression",
        "field `address`: give `column` (the same on both sides) or both `left` and `right`",
        "field `Name`: a field is named in lower-case letters",
        "weights of `name`: `m` needs 5 probabilities above 0, one per level",
        "same.yaml:1:5: `weights` names `nickname`, which no `compare` entry is",
        "`threshold` is a probability between 0 and 1 (exclusive)",
        "field `born`: only `text` (Jaro-Winkler) and `address` (share of words in common) take `thresholds`",
        "field `spelt`: `thresholds` are distinct similarities between 0 and 1 (exclusive)",
        "same.yaml:13:7: deduplicating (no `right`), both sides are the same records: a blocking rule compares an expression with itself, `l.x = r.x`",
        "field `nm`: deduplicating (no `right`), both sides are the same records: give `column`, not `left` and `right`",
    ] {
        assert!(err.contains(expected), "{expected} in:\n{err}");
    }
}
