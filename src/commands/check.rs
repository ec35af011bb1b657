//! `crosscheck check`: the job, the catalog and every rule validated, every input's header
//! opened, and (for Spark) every rule lowered — without reading the data.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::plan;

pub struct CheckReport {
    pub datasets: usize,
    pub rules: usize,
    pub enabled: usize,
    /// Inputs that cannot be read as declared: each dataset's error.
    pub dataset_problems: Vec<String>,
    /// Rules that cannot run on Spark: file, rule id, why.
    pub spark_refusals: Vec<(PathBuf, String, String)>,
    /// `sql` rules whose query runs on both engines but means something else on Spark: file,
    /// rule id, where and what.
    pub spark_warnings: Vec<(PathBuf, String, String)>,
    /// Rules whose money this job cannot count: file, rule id, why.
    pub amount_warnings: Vec<(PathBuf, String, String)>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.dataset_problems.is_empty() && self.spark_refusals.is_empty()
    }
}

/// Checks the job at `config`; a bad job, catalog or rule is the error itself.
pub fn check(config: &Path, spark: bool) -> Result<CheckReport, Error> {
    let (job, rules) = super::load_and_compile(config)?;
    // Files, formats, encodings and headers — without reading the data.
    let dataset_problems: Vec<String> = job
        .catalog
        .datasets
        .keys()
        // A dataset on a cluster is read there: Spark checks it when the job starts.
        .filter(|name| !(spark && job.catalog.cluster(name).is_some()))
        .filter_map(|name| {
            crate::ingest::check_dataset(&job.catalog, name)
                .err()
                .map(|e| e.to_string())
        })
        .collect();
    let mut spark_refusals = Vec::new();
    let mut spark_warnings = Vec::new();
    if spark && dataset_problems.is_empty() {
        for rule in &rules {
            for q in plan::spark::sql_queries(&rule.plan) {
                for (line, column, why) in plan::spark::dialect_differences(q) {
                    spark_warnings.push((
                        rule.path.clone(),
                        rule.id.clone(),
                        format!("the query's line {line}, column {column}: {why}"),
                    ));
                }
            }
            let frames = crate::ingest::empty_frames(&job.catalog, &rule.datasets)?;
            if let Err(why) = plan::spark::refusal(&rule.id, &rule.plan, &frames) {
                spark_refusals.push((rule.path.clone(), rule.id.clone(), why));
            }
        }
    }
    Ok(CheckReport {
        datasets: job.catalog.datasets.len(),
        rules: job.rules.len(),
        enabled: rules.len(),
        dataset_problems,
        spark_refusals,
        spark_warnings,
        amount_warnings: rules
            .iter()
            .filter_map(|r| {
                let why = r.amount_unknown.clone()?;
                Some((r.path.clone(), r.id.clone(), why))
            })
            .collect(),
    })
}
