//! `--mask`: no full ID number of the sample city appears in any output file, names keep only
//! the surname, and lead IDs are the same as in an unmasked run.

mod common;

use std::collections::BTreeSet;

use calamine::{Reader, Xlsx};
use common::*;
use polars::prelude::*;

/// Every ID of the sample city, as normalised and as written.
fn sample_ids() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let job = crosscheck::job::Job::load(&sample_job(dir.path())).unwrap();
    let mut ids = BTreeSet::new();
    for name in job.catalog.datasets.keys() {
        let loaded = crosscheck::ingest::load_dataset(&job.catalog, name).unwrap();
        for (col, _) in job
            .catalog
            .personal(name)
            .into_iter()
            .filter(|(_, p)| *p == crosscheck::job::catalog::Personal::Id)
        {
            let c = loaded
                .frame
                .clone()
                .collect()
                .unwrap()
                .column(&col)
                .unwrap()
                .str()
                .unwrap()
                .clone();
            ids.extend(
                c.iter()
                    .flatten()
                    .filter(|s| s.len() >= 15)
                    .map(str::to_string),
            );
        }
    }
    assert!(ids.len() > 2000, "{}", ids.len());
    ids
}

/// Runs of 15 or more ID characters in a text.
fn id_runs(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X'))
        .filter(|r| r.len() >= 15)
        .map(str::to_string)
        .collect()
}

#[test]
fn no_full_id_number_appears_in_any_masked_output() {
    let ids = sample_ids();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let (masked, plain) = (run_ok(&job, "m", &["--mask"]), run_ok(&job, "u", &[]));

    let mut texts: Vec<(String, String)> = Vec::new();
    for f in [
        "anomalies.csv",
        "manifest.json",
        "rejected/pension_enrolment.csv",
    ] {
        texts.push((f.into(), std::fs::read_to_string(masked.join(f)).unwrap()));
    }
    let df = ParquetReader::new(std::fs::File::open(masked.join("anomalies.parquet")).unwrap())
        .finish()
        .unwrap();
    for c in df.columns() {
        if let Ok(s) = c.str() {
            texts.extend(
                s.iter()
                    .flatten()
                    .map(|v| (format!("parquet:{}", c.name()), v.to_string())),
            );
        }
    }
    let mut wb: Xlsx<_> = calamine::open_workbook(masked.join("anomalies.xlsx")).unwrap();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        texts.extend(
            range
                .used_cells()
                .map(|(_, _, d)| (format!("xlsx:{name}"), d.to_string())),
        );
    }
    let mut checked = 0;
    for (place, text) in &texts {
        for run in id_runs(text) {
            assert!(!ids.contains(&run), "{place} shows the full ID {run}");
        }
        checked += 1;
    }
    assert!(checked > 1000);
    // The unmasked run does show them (the check above would have caught them).
    let plain_csv = std::fs::read_to_string(plain.join("anomalies.csv")).unwrap();
    assert!(id_runs(&plain_csv).iter().any(|r| ids.contains(r)));

    // Names keep the surname; lead IDs do not change.
    let rows = read_csv(&masked.join("anomalies.csv"));
    let plain_rows = read_csv(&plain.join("anomalies.csv"));
    assert_eq!(rows.len(), plain_rows.len());
    for (m, p) in rows[1..].iter().zip(&plain_rows[1..]) {
        assert_eq!(m[3], p[3], "lead IDs are computed before masking");
    }
    let deceased = rows
        .iter()
        .find(|r| r[0] == "dibao_recipient_deceased")
        .unwrap();
    let name = deceased[11]
        .split("; ")
        .next()
        .unwrap()
        .trim_start_matches("户主姓名 / Head of household: ");
    assert!(
        name.chars().count() >= 2 && name.chars().skip(1).all(|c| c == '*'),
        "{name}"
    );
}
