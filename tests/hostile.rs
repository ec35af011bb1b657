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

/// A job over `people.<ext>` (the catalog's path and encoding replaced), flagging every row.
fn job_over(dir: &Path, file: &str, encoding: &str) -> std::path::PathBuf {
    let catalog = CATALOG
        .replace("path: people.csv", &format!("path: {file}"))
        .replace("encoding: utf-8", &format!("encoding: {encoding}"));
    custom_job(dir, &catalog, &[("by_name.yaml", BY_NAME)])
}

/// rows read = loaded + rejected, from the manifest.
fn accounting(run: &Path) -> (u64, u64, u64) {
    let m = manifest_of(run);
    let d = &m["datasets"][0];
    let n = |k: &str| d[k].as_u64().unwrap();
    (n("rows_read"), n("rows_loaded"), n("rows_rejected"))
}

/// Item 5: a byte invalid in GBK in one row of a GBK extract rejects that row (its bytes
/// shown, escaped); the rest loads. A GBK file declared UTF-8 is still refused whole.
#[test]
fn one_undecodable_row_is_rejected_and_a_wrong_encoding_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_over(dir.path(), "people.csv", "gbk");
    let mut text = String::from("身份证号,姓名,金额\n");
    for id in IDS {
        text.push_str(&format!("{id},张伟,10\n"));
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let mut bytes = gbk.into_owned();
    // 0x81 0x20: a lead byte with no valid trail byte, on line 7.
    bytes.extend_from_slice(b"320106196208083454,\x81 ,10\n");
    for id in IDS {
        bytes.extend_from_slice(&encoding_rs::GBK.encode(&format!("{id},李娜,20\n")).0);
    }
    std::fs::write(data_dir(dir.path()).join("people.csv"), &bytes).unwrap();
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (11, 10, 1));
    let rejected = read_csv(&run.join("rejected/people.csv"));
    assert_eq!(rejected[1][2], "7");
    assert!(
        rejected[1][3].contains("not valid GBK"),
        "{:?}",
        rejected[1]
    );
    assert!(rejected[1][4].contains("\\x81"), "{:?}", rejected[1]);

    // The same GBK file declared UTF-8: every row with Chinese fails; refused, not loaded as
    // rejected rows.
    let dir = tempfile::tempdir().unwrap();
    let job = job_over(dir.path(), "people.csv", "utf-8");
    let mut bytes = b"id_card,name,amount\n".to_vec();
    for id in IDS {
        bytes.extend_from_slice(&encoding_rs::GBK.encode(&format!("{id},张伟,10\n")).0);
    }
    std::fs::write(data_dir(dir.path()).join("people.csv"), &bytes).unwrap();
    let catalog = std::fs::read_to_string(dir.path().join("data/datasets.yaml")).unwrap();
    std::fs::write(
        dir.path().join("data/datasets.yaml"),
        catalog
            .replace("aliases: [身份证号]", "aliases: [身份证号, id_card]")
            .replace("aliases: [姓名]", "aliases: [姓名, name]")
            .replace("aliases: [金额]", "aliases: [金额, amount]"),
    )
    .unwrap();
    let out = run_job(&job, "r1", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("declare the right `encoding`"),
        "{}",
        stderr(&out)
    );
}

/// Item 6: a NUL byte inside a field rejects the row with the reason; no NUL reaches an
/// export.
#[test]
fn a_nul_byte_in_a_field_rejects_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_over(dir.path(), "people.csv", "utf-8");
    let mut text = String::from("身份证号,姓名,金额\n");
    for id in IDS {
        text.push_str(&format!("{id},张伟,10\n"));
    }
    text.push_str("320106196208083454,王\0五,10\n");
    std::fs::write(data_dir(dir.path()).join("people.csv"), text).unwrap();
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (6, 5, 1));
    let rejected = read_csv(&run.join("rejected/people.csv"));
    assert!(rejected[1][3].contains("NUL"), "{:?}", rejected[1]);
    assert!(rejected[1][4].contains("王\\u{0}五"), "{:?}", rejected[1]);
    for f in ["anomalies.csv", "rejected/people.csv", "manifest.json"] {
        assert!(!std::fs::read(run.join(f)).unwrap().contains(&0), "{f}");
    }

    // The same in a Parquet extract's string column.
    let dir = tempfile::tempdir().unwrap();
    let job = job_over(dir.path(), "people.parquet", "utf-8");
    use polars::prelude::*;
    let mut df = df!(
        "身份证号" => [IDS[1], IDS[2], IDS[4]],
        "姓名" => ["张伟", "王\0五", "李娜"],
        "金额" => ["10", "20", "30"],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(data_dir(dir.path()).join("people.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (3, 2, 1));
    let rejected = read_csv(&run.join("rejected/people.csv"));
    assert!(rejected[1][3].contains("NUL"), "{:?}", rejected[1]);
    assert_eq!(rejected[1][2], "3");
}

/// Item 7: a delimiter that is not one ASCII character is refused with what to do; never
/// split inside characters.
#[test]
fn a_non_ascii_delimiter_is_refused_clearly() {
    for delimiter in ["，", "；", "·"] {
        let dir = tempfile::tempdir().unwrap();
        let catalog = CATALOG.replace(
            "    encoding: utf-8\n",
            &format!("    encoding: utf-8\n    delimiter: \"{delimiter}\"\n"),
        );
        let job = custom_job(dir.path(), &catalog, &[("by_name.yaml", BY_NAME)]);
        std::fs::write(
            data_dir(dir.path()).join("people.csv"),
            format!(
                "身份证号{delimiter}姓名{delimiter}金额\n{}{delimiter}张伟{delimiter}10\n",
                IDS[1]
            ),
        )
        .unwrap();
        for args in [vec!["check", "--config"], vec!["run", "-q", "--config"]] {
            let mut args = args.clone();
            args.push(job.to_str().unwrap());
            let out = crosscheck(&args);
            assert_eq!(out.status.code(), Some(2), "{delimiter}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("delimiter") && stderr(&out).contains("not supported"),
                "{delimiter}: {}",
                stderr(&out)
            );
        }
    }
    // A semicolon, as some exports use, works.
    let dir = tempfile::tempdir().unwrap();
    let catalog = CATALOG.replace(
        "    encoding: utf-8\n",
        "    encoding: utf-8\n    delimiter: \";\"\n",
    );
    let job = custom_job(dir.path(), &catalog, &[("by_name.yaml", BY_NAME)]);
    std::fs::write(
        data_dir(dir.path()).join("people.csv"),
        format!("身份证号;姓名;金额\n{};张伟;10\n", IDS[1]),
    )
    .unwrap();
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (1, 1, 0));
}

/// Writes a workbook of a header and two rows, then has `edit` rewrite its sheet's XML.
fn workbook_with(path: &Path, dates: bool, edit: impl Fn(String) -> String) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["身份证号", "姓名", "金额", "日期"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=2u32 {
        ws.write_string(r, 0, IDS[r as usize]).unwrap();
        ws.write_string(r, 1, "张伟").unwrap();
        ws.write_number(r, 2, 10.0).unwrap();
        // Row 2's date serial is past any date (year 2.7 million).
        let serial = if dates && r == 2 { 1e12 } else { 45_000.0 };
        ws.write_number_with_format(r, 3, serial, &date).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..zin.len() {
        use std::io::{Read, Write};
        let mut f = zin.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            content = edit(String::from_utf8(content).unwrap()).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&content).unwrap();
    }
    out.finish().unwrap();
}

fn xlsx_job(dir: &Path) -> std::path::PathBuf {
    let catalog = CATALOG
        .replace("path: people.csv", "path: people.xlsx")
        .replace("    encoding: utf-8\n", "")
        .replace(
            "      amount: { type: money, aliases: [金额] }",
            "      amount: { type: money, aliases: [金额] }\n      paid_on: { type: date, aliases: [日期] }",
        );
    custom_job(dir, &catalog, &[("by_name.yaml", BY_NAME)])
}

/// Item 8: a sheet with a cell past the format's last row is refused with a clear error,
/// read as a stream (never held whole first).
#[test]
fn a_sheet_past_the_format_limits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job = xlsx_job(dir.path());
    let path = data_dir(dir.path()).join("people.xlsx");
    workbook_with(&path, false, |xml| {
        xml.replace(
            "</sheetData>",
            "<row r=\"1048577\"><c r=\"A1048577\" t=\"inlineStr\"><is><t>x</t></is></c></row></sheetData>",
        )
    });
    for cmd in ["check", "run"] {
        let out = crosscheck(&[cmd, "--config", job.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("past what an xlsx sheet holds")
                && stderr(&out).contains("row 1048577"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    // The same workbook within the limits loads.
    workbook_with(&path, false, |xml| xml);
    let run = run_ok(&job, "ok", &[]);
    assert_eq!(accounting(&run), (2, 2, 0));
}

/// Item 9: a date serial or a Parquet date past any calendar rejects its row; no panic in
/// `check` or `run`.
#[test]
fn dates_out_of_range_reject_their_row() {
    let dir = tempfile::tempdir().unwrap();
    let job = xlsx_job(dir.path());
    workbook_with(&data_dir(dir.path()).join("people.xlsx"), true, |xml| xml);
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (2, 1, 1));
    let rejected = read_csv(&run.join("rejected/people.csv"));
    assert_eq!(rejected[1][2], "3", "{rejected:?}");

    let dir = tempfile::tempdir().unwrap();
    let job = parquet_job(
        dir.path(),
        "      paid_on: { type: date, aliases: [日期] }",
        BY_NAME,
    );
    use polars::prelude::*;
    let mut df = df!(
        "身份证号" => [IDS[1], IDS[2]],
        "姓名" => ["张伟", "李娜"],
        "金额" => ["10", "20"],
        "日期" => [20_000i32, i32::MAX],
    )
    .unwrap();
    df.apply("日期", |c| c.cast(&DataType::Date).unwrap())
        .unwrap();
    write_people_parquet(dir.path(), &mut df);
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (2, 1, 1));
}

/// A job over `people.parquet`: the catalog's columns and `extra` ones, and `rule`.
fn parquet_job(dir: &Path, extra: &str, rule: &str) -> std::path::PathBuf {
    let catalog = CATALOG
        .replace("path: people.csv", "path: people.parquet")
        .replace("    encoding: utf-8\n", "")
        .replace(
            "      amount: { type: money, aliases: [金额] }",
            &format!("      amount: {{ type: money, aliases: [金额] }}\n{extra}"),
        );
    custom_job(dir, &catalog, &[("by_name.yaml", rule)])
}

fn write_people_parquet(dir: &Path, df: &mut polars::prelude::DataFrame) {
    polars::prelude::ParquetWriter::new(
        std::fs::File::create(data_dir(dir).join("people.parquet")).unwrap(),
    )
    .finish(df)
    .unwrap();
}

/// A register's Parquet timestamps (to the millisecond, as databases write them) load as
/// date-times, not as text a date-time column rejects; a date before 1900, which Excel cannot
/// show as a date, reaches the workbook as text (it crashed the writer), and so do numbers
/// past Excel's 15 digits.
#[test]
fn timestamps_and_old_dates_load_and_reach_the_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let rule = BY_NAME.replace(
        "  - { label: 身份证号 / ID, expr: id_card }",
        "  - { label: 身份证号 / ID, expr: id_card }\n  - { label: born, expr: born }\n  - { label: seen_at, expr: seen_at }\n  - { label: seen_text, expr: seen_text }\n  - { label: count, expr: count }",
    );
    let job = parquet_job(
        dir.path(),
        "      born: { type: date, aliases: [出生] }\n      seen_at: { type: datetime, aliases: [时间] }\n      seen_text: { type: datetime, aliases: [时间文本] }\n      count: { type: int, aliases: [次数] }",
        &rule,
    );
    use polars::prelude::*;
    let mut df = df!(
        "身份证号" => [IDS[1], IDS[2]],
        "姓名" => ["张伟", "李娜"],
        "金额" => ["10", "20"],
        // 0712-05-19 and 1891-10-01.
        "出生" => [-459_337i32, -28_581],
        "时间" => [1_709_283_200_246i64, -2_208_988_800_000],
        "时间文本" => ["2024-03-01 08:53:20.246", "2024-03-01T08:53:20.0"],
        "次数" => ["1234567890123456", "7"],
    )
    .unwrap();
    df.apply("出生", |c| c.cast(&DataType::Date).unwrap())
        .unwrap();
    df.apply("时间", |c| {
        c.cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap()
    })
    .unwrap();
    write_people_parquet(dir.path(), &mut df);
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(accounting(&run), (2, 2, 0));
    let evidence: Vec<String> = read_csv(&run.join("anomalies.csv"))[1..]
        .iter()
        .map(|r| r[11].clone())
        .collect();
    assert_eq!(
        evidence,
        [
            "姓名 / Name: 张伟; 身份证号 / ID: 320102195003011238; born: 0712-05-19; seen_at: 2024-03-01 08:53:20.246; seen_text: 2024-03-01 08:53:20.246; count: 1234567890123456",
            "姓名 / Name: 李娜; 身份证号 / ID: 320104194805122341; born: 1891-10-01; seen_at: 1900-01-01 00:00:00.000; seen_text: 2024-03-01 08:53:20.000; count: 7",
        ]
    );
    let mut wb: Xlsx<_> = calamine::open_workbook(run.join("anomalies.xlsx")).unwrap();
    let range = wb.worksheet_range("by_name").unwrap();
    let cells: Vec<String> = range
        .used_cells()
        .map(|(_, _, c)| format!("{c:?}"))
        .collect();
    for shown in [
        "String(\"0712-05-19\")",
        "String(\"1891-10-01\")",
        "String(\"1234567890123456\")",
    ] {
        assert!(cells.iter().any(|c| c == shown), "{shown} not in {cells:?}");
    }
}

/// Item 10: what a run killed while writing (or while Spark ran) left beside the runs is
/// removed by the next run once its process is gone; a live process's, and run folders, are
/// not.
#[test]
fn leftovers_of_killed_runs_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let job = hostile_extract(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    // No process has a number this large (Linux numbers them below 2^22).
    let own = std::process::id();
    let names = [
        ".r0.partial-4000000000".to_string(),
        ".r0.spark-4000000000".into(),
        format!(".r9.partial-{own}"),
        "r8.partial-4000000000".into(),
    ];
    for name in &names {
        let d = out.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("anomalies.csv"), "320102195003011238").unwrap();
        std::fs::File::open(&d)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }
    run_ok(&job, "r1", &[]);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".cache"))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            format!(".r9.partial-{own}"),
            "r1".into(),
            "r8.partial-4000000000".into()
        ]
    );
}

/// The cache's data files (`<key>.parquet`) of a job's output folder.
fn cache_files(job: &Path) -> Vec<std::path::PathBuf> {
    let dir = job.parent().unwrap().join("out/.cache");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

/// The manifest's files: (path, cached, why rebuilt).
fn served(run: &Path) -> Vec<(String, bool, Option<String>)> {
    let m = manifest_of(run);
    let mut out = Vec::new();
    for d in m["datasets"].as_array().unwrap() {
        for f in d["files"].as_array().unwrap() {
            out.push((
                f["path"].as_str().unwrap().to_string(),
                f["cached"].as_bool().unwrap(),
                f["cache_rebuilt"].as_str().map(str::to_string),
            ));
        }
    }
    out
}

/// Item 4: a cache file that is not exactly what was written for its source and declaration
/// — a flipped byte, another entry's file copied over it, a damaged header — is rebuilt from
/// the source with a note in the manifest: never used, never fatal; the leads are the same.
#[test]
fn a_damaged_cache_file_is_rebuilt_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let first = run_ok(&job, "r0", &[]);
    let leads = std::fs::read(first.join("anomalies.csv")).unwrap();
    let files = cache_files(&job);
    assert!(files.len() > 30, "{}", files.len());

    // A byte flipped in the middle of every cached file.
    for f in &files {
        let mut bytes = std::fs::read(f).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(f, bytes).unwrap();
    }
    let run = run_ok(&job, "r1", &[]);
    assert_eq!(std::fs::read(run.join("anomalies.csv")).unwrap(), leads);
    let notes = served(&run);
    assert_eq!(notes.len(), files.len());
    for (path, cached, why) in &notes {
        assert!(!cached, "{path} served from a damaged cache");
        assert!(
            why.as_deref()
                .is_some_and(|w| w.contains("not what was written")),
            "{path}: {why:?}"
        );
    }
    // Rebuilt: served again, with no note.
    let run = run_ok(&job, "r2", &[]);
    assert!(
        served(&run)
            .iter()
            .all(|(_, cached, why)| *cached && why.is_none())
    );

    // Another entry's file copied over one; a header cut short.
    let files = cache_files(&job);
    std::fs::copy(&files[0], &files[1]).unwrap();
    let mut bytes = std::fs::read(&files[2]).unwrap();
    bytes.truncate(bytes.len() - 9);
    std::fs::write(&files[2], bytes).unwrap();
    let run = run_ok(&job, "r3", &[]);
    assert_eq!(std::fs::read(run.join("anomalies.csv")).unwrap(), leads);
    let rebuilt = served(&run)
        .into_iter()
        .filter(|(_, _, why)| why.is_some())
        .count();
    assert_eq!(rebuilt, 2);
}
