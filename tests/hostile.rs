//! Hostile input and careless operators: one case per way an extract or an operator could make
//! crosscheck leak a list, write outside its folder, or hand an inspector a live formula.

mod common;

use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use common::*;

/// IDs valid under GB 11643-1999 (the first is the standard's own example).
const IDS: [&str; 5] = [
    "11010519491231002X",
    "320102195003011238",
    "320104194805122341",
    "320102198001011000",
    "320106196208083454",
];

const CATALOG: &str = "datasets:
  people:
    path: people.csv
    encoding: utf-8
    columns:
      id_card: { type: id_card, aliases: [身份证号] }
      name: { type: name, aliases: [姓名] }
      amount: { type: money, aliases: [金额] }
";

/// Flags every row, keyed by the name: the key, the message and the evidence all start with
/// what the extract wrote.
const BY_NAME: &str = "id: by_name
title: 按姓名 / By name
description: every row
severity: high
evidence:
  - { label: 姓名 / Name, expr: name }
  - { label: 身份证号 / ID, expr: id_card }
message: \"{姓名 / Name}\"
row_check:
  sources: [{ dataset: people }]
  condition: \"amount > 0\"
  key: [name]
";

/// What a spreadsheet would evaluate: the first character starts a formula, and the cell is
/// not a plain signed number.
fn live_formula(cell: &str) -> bool {
    let plain_number = cell
        .strip_prefix(['-', '+'])
        .is_some_and(|r| !r.is_empty() && r.parse::<f64>().is_ok() && !r.contains(['e', 'E']));
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number
}

const HOSTILE_NAMES: [&str; 5] = [
    "=HYPERLINK(\"http://x\",\"click\")",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
];

fn hostile_extract(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("身份证号,姓名,金额\n");
    for (id, name) in IDS.iter().zip(HOSTILE_NAMES) {
        csv.push_str(&format!("{id},\"{}\",10\n", name.replace('"', "\"\"")));
    }
    // The tab a spreadsheet would skip is trimmed by the loader: what is left must still be
    // disarmed on the way out.
    csv.push_str("320102195003011238,\"\t=1+1\",20\n");
    // A ragged row, rejected with its content.
    csv.push_str("=cmd|' /C calc'!A0,-2+3\n");
    let job = custom_job(dir, CATALOG, &[("by_name.yaml", BY_NAME)]);
    std::fs::write(data_dir(dir).join("people.csv"), csv).unwrap();
    job
}

/// Item 1: no cell of anomalies.csv or rejected/<dataset>.csv is a live formula, the workbook
/// holds text and no formula, and what the extract wrote is still there to read.
#[test]
fn formulas_in_an_extract_reach_no_export_alive() {
    let dir = tempfile::tempdir().unwrap();
    let job = hostile_extract(dir.path());
    let run = run_ok(&job, "r1", &[]);

    let leads = read_csv(&run.join("anomalies.csv"));
    let rejected = read_csv(&run.join("rejected/people.csv"));
    assert_eq!(leads.len(), 1 + 6, "{leads:?}");
    assert_eq!(rejected.len(), 1 + 1, "{rejected:?}");
    for cell in leads.iter().chain(&rejected).flatten() {
        assert!(!live_formula(cell), "live formula in a CSV: {cell:?}");
    }
    // Disarmed with a leading apostrophe, the text otherwise as written.
    let keys: Vec<&str> = leads[1..].iter().map(|r| r[4].as_str()).collect();
    for name in HOSTILE_NAMES.iter().chain(&["=1+1"]) {
        assert!(
            keys.contains(&format!("'{name}").as_str()),
            "{name} in {keys:?}"
        );
    }
    assert!(rejected[1][4].starts_with("'=cmd"), "{:?}", rejected[1]);

    let mut wb: Xlsx<_> = calamine::open_workbook(run.join("anomalies.xlsx")).unwrap();
    let mut seen = 0;
    for sheet in wb.sheet_names() {
        let formulas = wb.worksheet_formula(&sheet).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "a formula in sheet {sheet}"
        );
        let range = wb.worksheet_range(&sheet).unwrap();
        for (_, _, cell) in range.used_cells() {
            if let Data::String(s) = cell
                && HOSTILE_NAMES.contains(&s.as_str())
            {
                seen += 1;
            }
        }
    }
    // Key and name evidence of each hostile row, as text cells.
    assert!(seen >= 2 * HOSTILE_NAMES.len(), "{seen}");
}

/// Item 3: a run id, dataset name or rule id that is not one safe name is refused before
/// anything is written, and nothing appears outside the output folder.
#[test]
fn names_that_would_be_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job = hostile_extract(dir.path());
    let escape = dir.path().join("escaped");
    for bad in [
        "../../escaped",
        "../escaped",
        escape.to_str().unwrap(),
        "a\nb",
        "..",
    ] {
        let out = run_job(&job, bad, &[]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            stderr(&out).contains("is not a usable run id"),
            "{bad:?}: {}",
            stderr(&out)
        );
    }
    assert!(!escape.exists());
    assert!(!dir.path().join("out").exists(), "nothing written");

    // A dataset named as a path.
    let bad_catalog = CATALOG.replace("  people:", "  ../people:");
    let bad = custom_job(&dir.path().join("d"), &bad_catalog, &[]);
    let out = crosscheck(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("dataset name `../people`"),
        "{}",
        stderr(&out)
    );

    // A rule id named as a path.
    let rule = BY_NAME.replace("id: by_name", "id: ../../by_name");
    let bad = custom_job(&dir.path().join("r"), CATALOG, &[("r.yaml", &rule)]);
    let out = crosscheck(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rule id `../../by_name`"),
        "{}",
        stderr(&out)
    );
}

/// Item 2: lead IDs are keyed with a secret kept beside the job — the same in every round of a
/// job, different for another job, never the unkeyed hash a masked ID could be found from.
#[test]
fn lead_ids_are_keyed_by_a_secret_beside_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let job = hostile_extract(dir.path());
    let key_file = dir.path().join(".crosscheck-lead-key");
    assert!(!key_file.exists());
    let r1 = run_ok(&job, "r1", &["--mask"]);
    assert!(
        key_file.is_file(),
        "the first run keeps a key beside the job"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let r2 = run_ok(&job, "r2", &[]);
    let ids1 = parquet_column(&r1, "lead_id");
    assert_eq!(ids1, parquet_column(&r2, "lead_id"), "stable across rounds");
    assert_eq!(
        parquet_column(&r1, "evidence_hash"),
        parquet_column(&r2, "evidence_hash")
    );

    // The unkeyed hash of rule id and key (what an attacker with a masked list would try).
    use sha2::{Digest, Sha256};
    let keys = parquet_column(&r2, "key");
    for (id, key) in ids1.iter().zip(&keys) {
        let mut h = Sha256::new();
        h.update(b"by_name\x1f");
        h.update(key.as_bytes());
        let unkeyed: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(*id, unkeyed);
    }

    // The same extract under another job: other IDs.
    let other = tempfile::tempdir().unwrap();
    let job2 = hostile_extract(other.path());
    let r3 = run_ok(&job2, "r1", &[]);
    let ids3 = parquet_column(&r3, "lead_id");
    assert_eq!(ids3.len(), ids1.len());
    assert!(ids3.iter().all(|id| !ids1.contains(id)));

    // The key lost: carrying dispositions is refused, with what to do.
    std::fs::remove_file(&key_file).unwrap();
    let dispositions = dir.path().join("d.csv");
    std::fs::write(
        &dispositions,
        format!("lead_id,status\n{},confirmed\n", ids1[0]),
    )
    .unwrap();
    let out = run_job(
        &job,
        "r4",
        &["--dispositions", dispositions.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Restore the key file"),
        "{}",
        stderr(&out)
    );
    // Without dispositions the run goes on with a new key and says what that means; `diff`
    // against the earlier rounds refuses to compare IDs made with another key.
    let out = run_job(&job, "r5", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("earlier run(s)"), "{}", stderr(&out));
    let run5 = dir.path().join("out/r5");
    let out = crosscheck(&["diff", r2.to_str().unwrap(), run5.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("different lead keys"),
        "{}",
        stderr(&out)
    );
}

/// Item 2: a masked run shows no full ID anywhere — not in a failed rule's message (manifest,
/// report, workbook summary), not in an inspector's note, not in evidence mixing a name and
/// an ID.
#[test]
fn a_masked_run_leaks_no_id_in_messages_notes_or_mixed_evidence() {
    let dir = tempfile::tempdir().unwrap();
    // A rule that fails naming the key (too many pairs for one ID), and one whose evidence
    // mixes a name and an ID.
    let pairs = "id: too_many_pairs
title: 配对过多 / Too many pairs
description: fails on purpose
severity: low
time_window:
  left: { dataset: people }
  on: \"l.id_card = r.id_card\"
  left_time: l.paid_on
  right_time: r.paid_on
  within: { days: 30 }
  max_pairs: 1
";
    let mixed = "id: mixed
title: 混合证据 / Mixed evidence
description: name and ID in one cell
severity: low
evidence:
  - { label: 人员 / Person, expr: \"concat(name, ' ', id_card)\" }
row_check:
  sources: [{ dataset: people }]
  condition: \"amount > 0\"
  key: [id_card]
";
    let catalog = CATALOG.replace(
        "      amount: { type: money, aliases: [金额] }",
        "      amount: { type: money, aliases: [金额] }\n      paid_on: { type: date, aliases: [日期] }",
    );
    let job = custom_job(
        dir.path(),
        &catalog,
        &[("pairs.yaml", pairs), ("mixed.yaml", mixed)],
    );
    std::fs::write(
        data_dir(dir.path()).join("people.csv"),
        format!(
            "身份证号,姓名,金额,日期\n{0},张伟,10,2025-01-01\n{0},张伟,10,2025-01-02\n{0},张伟,10,2025-01-03\n{1},李娜,5,2025-01-01\n",
            IDS[1], IDS[2]
        ),
    )
    .unwrap();
    let out = run_job(&job, "r1", &[]);
    assert_eq!(out.status.code(), Some(2), "the failing rule fails the run");
    let r1 = dir.path().join("out/r1");
    let lead = parquet_column(&r1, "lead_id")[0].clone();
    let notes = dir.path().join("notes.csv");
    std::fs::write(
        &notes,
        format!(
            "lead_id,status,note\n{lead},confirmed,户主张伟 {} 已核实\n",
            IDS[1]
        ),
    )
    .unwrap();
    let out = run_job(
        &job,
        "r2",
        &["--mask", "--dispositions", notes.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains(IDS[1]), "{}", stderr(&out));
    let r2 = dir.path().join("out/r2");

    let mut texts = vec![
        std::fs::read_to_string(r2.join("manifest.json")).unwrap(),
        std::fs::read_to_string(r2.join("report.html")).unwrap(),
        std::fs::read_to_string(r2.join("anomalies.csv")).unwrap(),
    ];
    let mut wb: Xlsx<_> = calamine::open_workbook(r2.join("anomalies.xlsx")).unwrap();
    for sheet in wb.sheet_names() {
        let range = wb.worksheet_range(&sheet).unwrap();
        texts.extend(range.used_cells().map(|(_, _, d)| d.to_string()));
    }
    for column in ["key", "message", "evidence", "disposition_note"] {
        texts.extend(parquet_column(&r2, column));
    }
    let all = texts.join("\n");
    for id in [IDS[1], IDS[2]] {
        if let Some(at) = all.find(id) {
            panic!(
                "{id} appears in a masked run: …{}…",
                &all[at.saturating_sub(200)..at + 20]
            );
        }
    }
    for name in ["张伟", "李娜"] {
        if let Some(at) = all.find(name) {
            panic!(
                "{name} appears in a masked run: …{}…",
                &all[at.saturating_sub(200)..at + 20]
            );
        }
    }
    // The unmasked run did carry them (so the check above could fail).
    let plain = std::fs::read_to_string(r1.join("manifest.json")).unwrap();
    assert!(plain.contains(IDS[1]), "the failure message names the key");
    // The masked note and failure are still there, masked.
    assert!(all.contains("已核实"));
    assert!(all.contains("would form"));
}

/// Item 11: a 10 MB one-line rule file: the message quotes a window of it, not the line.
#[test]
fn a_huge_one_line_rule_is_quoted_in_part() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!("id: [{}", "x".repeat(10 << 20));
    let job = custom_job(dir.path(), CATALOG, &[("huge.yaml", &huge)]);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("huge.yaml"), "{}", &err[..err.len().min(2000)]);
    assert!(err.len() < 8_000, "{} bytes of error", err.len());
}

/// Item 12: a lead cleared as a false positive is `cleared` in `diff`, not resolved; a rule
/// file that does not parse counts among the manifest's failed rules.
#[test]
fn a_cleared_false_positive_is_not_called_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let job = hostile_extract(dir.path());
    let r1 = run_ok(&job, "r1", &[]);
    let ids = parquet_column(&r1, "lead_id");
    let hashes = parquet_column(&r1, "evidence_hash");
    let dispositions = dir.path().join("d.csv");
    std::fs::write(
        &dispositions,
        format!(
            "lead_id,status,evidence_hash\n{},false_positive,{}\n",
            ids[0], hashes[0]
        ),
    )
    .unwrap();
    let r2 = run_ok(
        &job,
        "r2",
        &["--dispositions", dispositions.to_str().unwrap()],
    );
    let out = crosscheck(&[
        "diff",
        r1.to_str().unwrap(),
        r2.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["by_name"]["cleared"], 1, "{counts}");
    assert_eq!(counts["by_name"]["resolved"], 0, "{counts}");
    assert_eq!(counts["by_name"]["persisting"], ids.len() - 1, "{counts}");

    std::fs::write(
        dir.path().join("rules/broken.yaml"),
        "id: broken\ntitle: [\n",
    )
    .unwrap();
    let out = run_job(&job, "r3", &[]);
    assert_eq!(out.status.code(), Some(2));
    let m = manifest_of(&dir.path().join("out/r3"));
    assert_eq!(m["totals"]["rules_failed"], 1, "{}", m["totals"]);
}
