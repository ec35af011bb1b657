//! Helpers shared by the integration tests: a job over the committed sample city written into
//! a temporary folder, and running the real binary.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes an audit.yaml into `dir` naming the given catalog and rule folder.
pub fn write_job(dir: &Path, catalog: &Path, rules: &Path) -> PathBuf {
    let job = dir.join("audit.yaml");
    std::fs::write(
        &job,
        format!(
            "name: test\ncatalog: {}\nrules: [{}]\noutput: {}\n",
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
pub fn run_job(job: &Path, run_id: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "-q",
        "--config",
        job.to_str().unwrap(),
        "--run-id",
        run_id,
    ];
    args.extend_from_slice(extra);
    crosscheck(&args)
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
