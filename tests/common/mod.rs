//! Helpers shared by the integration tests: a job over the committed sample city written into
//! a temporary folder, and running the real binary.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the committed sample city's generator planted (`sample_data/ground_truth.json`).
pub fn sample_truth() -> samplecity::GroundTruth {
    let path = repo().join("sample_data/ground_truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes an audit.yaml into `dir` naming the given catalog and rule folder.
pub fn write_job(dir: &Path, catalog: &Path, rules: &Path) -> PathBuf {
    let job = dir.join("audit.yaml");
    std::fs::write(
        &job,
        format!(
            "name: test\ncatalog: {}\nrules: [{}]\noutput: {}\nas_of: 2025-06-30\n",
            catalog.display(),
            rules.display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    job
}

/// A job over the committed sample city and the bundled rules.
pub fn sample_job(dir: &Path) -> PathBuf {
    write_job(
        dir,
        &repo().join("sample_data/datasets.yaml"),
        &repo().join("rules"),
    )
}

pub fn crosscheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crosscheck"))
        .args(args)
        .output()
        .expect("the crosscheck binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Copies a folder tree (rule folders that a test then breaks).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Rows of a CSV written by crosscheck (UTF-8 with BOM), header included.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "{} starts with a UTF-8 BOM",
        path.display()
    );
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// A run folder's manifest.json.
pub fn manifest_of(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap()
}

/// `dir/data`, created: where a test writes its own extracts.
pub fn data_dir(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    data
}

/// A job over the extracts in `dir/data`, described by `catalog` (written as
/// `dir/data/datasets.yaml`), with the rule files `rules` (name, YAML) in `dir/rules`.
pub fn custom_job(dir: &Path, catalog: &str, rules: &[(&str, &str)]) -> PathBuf {
    let data = data_dir(dir);
    std::fs::write(data.join("datasets.yaml"), catalog).unwrap();
    let folder = dir.join("rules");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text) in rules {
        std::fs::write(folder.join(name), text).unwrap();
    }
    write_job(dir, &data.join("datasets.yaml"), &folder)
}

/// `crosscheck run -q --config <job> --run-id <run_id> <extra…>`, whatever its outcome.
/// `crosscheck run -q --config JOB --run-id ID`, for a test to add arguments or environment.
pub fn run_command(job: &Path, run_id: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crosscheck"));
    c.args([
        "run",
        "-q",
        "--config",
        job.to_str().unwrap(),
        "--run-id",
        run_id,
    ]);
    c
}

pub fn run_job(job: &Path, run_id: &str, extra: &[&str]) -> Output {
    run_command(job, run_id)
        .args(extra)
        .output()
        .expect("the crosscheck binary runs")
}

/// Runs a job that must succeed; returns its run folder (`out/<run_id>` beside the job file).
pub fn run_ok(job: &Path, run_id: &str, extra: &[&str]) -> PathBuf {
    let out = run_job(job, run_id, extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    job.parent().unwrap().join("out").join(run_id)
}

/// A text column of a run's anomalies.parquet (NULL as "").
pub fn parquet_column(run: &Path, name: &str) -> Vec<String> {
    use polars::prelude::*;
    let df = ParquetReader::new(std::fs::File::open(run.join("anomalies.parquet")).unwrap())
        .finish()
        .unwrap();
    let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

/// A job whose leads sit exactly on and one unit past decimal thresholds, as an analyst with a
/// calculator decides them: `a − b > 0.5`, within 1 % of the right value, within 3 % of the
/// left value, a sum of a thousand amounts above 100.
pub fn threshold_job(dir: &Path) -> PathBuf {
    let catalog = "datasets:
  pairs:
    path: pairs.csv
    columns:
      case: { type: text, aliases: [情形] }
      a: { type: decimal, aliases: [甲] }
      b: { type: decimal, aliases: [乙] }
  book:
    path: book.csv
    columns:
      depot: { type: text, aliases: [库点] }
      tonnes: { type: decimal, aliases: [账面数量] }
  measured:
    path: measured.csv
    columns:
      depot: { type: text, aliases: [库点] }
      tonnes: { type: decimal, aliases: [实测数量] }
  payments:
    path: payments.csv
    columns:
      person: { type: text, aliases: [人员] }
      amount: { type: money, aliases: [金额] }
";
    let rules: [(&str, &str); 4] = [
        (
            "difference.yaml",
            "id: difference_above_half
title: 差额超过0.5 / Difference above 0.5
description: a − b > 0.5
severity: low
evidence:
  - { label: 差额 / Difference, expr: \"a - b\" }
row_check:
  sources: [{ dataset: pairs }]
  condition: \"a - b > 0.5\"
  key: [case]
",
        ),
        (
            "one_percent.yaml",
            "id: beyond_one_percent_of_measured
title: 超过实测1% / Beyond 1 % of measured
description: relative to the right value
severity: low
evidence:
  - { label: 差额 / Difference, expr: difference }
reconcile:
  left: { dataset: book, where: \"depot LIKE 'A%'\" }
  right: { dataset: measured, where: \"depot LIKE 'A%'\" }
  on: \"l.depot = r.depot\"
  left_value: \"sum(tonnes)\"
  right_value: \"sum(tonnes)\"
  direction: either
  tolerance: { relative: 0.01 }
  unmatched: none
",
        ),
        (
            "three_percent.yaml",
            "id: beyond_three_percent_of_book
title: 超过账面3% / Beyond 3 % of book stock
description: relative to the left value
severity: low
evidence:
  - { label: 差额 / Difference, expr: difference }
reconcile:
  left: { dataset: book, where: \"depot LIKE 'B%'\" }
  right: { dataset: measured, where: \"depot LIKE 'B%'\" }
  on: \"l.depot = r.depot\"
  left_value: \"sum(tonnes)\"
  right_value: \"sum(tonnes)\"
  direction: either
  tolerance: { relative: 0.03, relative_to: left }
  unmatched: none
",
        ),
        (
            "sum.yaml",
            "id: paid_above_100
title: 合计超过100元 / Paid above 100 in all
description: a sum of many small amounts
severity: low
evidence:
  - { label: 合计 / Total, expr: total }
aggregate:
  source: { dataset: payments }
  group_by: [person]
  measures: { total: \"sum(amount)\" }
  having: \"total > 100\"
  rows: group
",
        ),
    ];
    let job = custom_job(dir, catalog, &rules);
    let data = data_dir(dir);
    std::fs::write(
        data.join("pairs.csv"),
        "情形,甲,乙\non,1.07,0.57\npast,1.08,0.57\nbelow,0.58,0.08\n",
    )
    .unwrap();
    std::fs::write(
        data.join("book.csv"),
        "库点,账面数量\nA-on,30.30\nA-past,30.31\nB-on,130.0\nB-past,130.0\n",
    )
    .unwrap();
    std::fs::write(
        data.join("measured.csv"),
        "库点,实测数量\nA-on,30.00\nA-past,30.00\nB-on,126.1\nB-past,126.0\n",
    )
    .unwrap();
    let mut payments = String::from("人员,金额\n");
    for _ in 0..1000 {
        payments.push_str("on,0.10\npast,0.10\n");
    }
    payments.push_str("past,0.01\n");
    // Money is shown as amounts are written: 100.10, not 100.1.
    for _ in 0..1001 {
        payments.push_str("tens,0.10\n");
    }
    std::fs::write(data.join("payments.csv"), payments).unwrap();
    job
}

/// "Two or more homes, or a car above 50,000": a `match` with alternative right sides over
/// the sample city.
pub const HOMES_OR_CAR: &str = "id: homes_or_car
title: 两套以上住房或高价车辆 / Two homes or a car
description: either holds
severity: high
evidence:
  - { label: 情形 / Finding, expr: alternative }
  - { label: 坐落 / Address, expr: r.address }
  - { label: 号牌号码 / Plate, expr: r.plate }
match:
  left: { dataset: dibao_roll }
  any:
    - label: 两套以上住房 / two or more homes
      right: { dataset: property_register }
      on: \"l.id_card = r.owner_id\"
      min_partners: 2
    - label: 高价车辆 / a car above 50,000
      right:
        dataset: vehicle_register
        where: \"vehicle_type NOT IN ('电动三轮车', '二轮摩托车', '残疾人专用车') AND price >= 50000\"
      on: \"l.id_card = r.owner_id\"
  mode: exists
";

/// `crosscheck compile --target spark` of a job into `dir/bundle`, which must succeed.
pub fn compile_bundle(job: &Path, dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let out = crosscheck(&[
        "compile",
        "--target",
        "spark",
        "--out",
        bundle.to_str().unwrap(),
        "--config",
        job.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    bundle
}
