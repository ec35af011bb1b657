//! `crosscheck test`: the fixtures inside each rule, run through the real loader.

use std::path::{Path, PathBuf};

use crate::engine::fixtures::FixtureOutcome;
use crate::error::Error;

pub struct FixtureRun {
    pub outcomes: Vec<FixtureOutcome>,
    /// Selected rules with no fixture: id and file.
    pub without_fixtures: Vec<(String, PathBuf)>,
    /// Rules selected.
    pub rules: usize,
}

impl FixtureRun {
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.failure.is_some()).count()
    }
}

/// Runs the fixtures of the job's rules under `paths` (every rule when empty): here, or with
/// `spark` (a master) on Spark, in one spark-submit.
pub fn test(paths: &[PathBuf], config: &Path, spark: Option<&str>) -> Result<FixtureRun, Error> {
    let (job, rules) = super::load_and_compile(config)?;
    let roots: Vec<PathBuf> = paths
        .iter()
        .map(|p| fs_err::canonicalize(p).map_err(Error::from))
        .collect::<Result<_, _>>()?;
    let selected = |file: &Path| {
        roots.is_empty()
            || std::fs::canonicalize(file).is_ok_and(|f| roots.iter().any(|r| f.starts_with(r)))
    };
    let mut run = FixtureRun {
        outcomes: Vec::new(),
        without_fixtures: Vec::new(),
        rules: 0,
    };
    let mut chosen = Vec::new();
    for rule in &rules {
        let Some(file) = job.rules.iter().find(|f| f.id() == rule.id) else {
            continue;
        };
        if !selected(&file.path) {
            continue;
        }
        run.rules += 1;
        if file.spec.tests.is_empty() {
            run.without_fixtures
                .push((rule.id.clone(), file.path.clone()));
        }
        chosen.push((file, rule));
    }
    match spark {
        None => {
            for (file, rule) in chosen {
                run.outcomes.extend(crate::engine::fixtures::run_fixtures(
                    &job.catalog,
                    file,
                    rule,
                    job.as_of.as_deref(),
                ));
            }
        }
        Some(master) => {
            crate::engine::spark::check_master(master).map_err(|message| Error::Input {
                path: "--master".into(),
                message,
            })?;
            let spark_submit =
                crate::engine::spark::find_spark_submit().ok_or_else(|| Error::Input {
                    path: "spark-submit".into(),
                    message: "not found: put Spark's bin folder on PATH, set SPARK_SUBMIT, or \
                              `pip install pyspark`"
                        .into(),
                })?;
            // The bundles hold the fixtures' rows only; removed whatever happens.
            struct Scratch(PathBuf);
            impl Drop for Scratch {
                fn drop(&mut self) {
                    let _ = std::fs::remove_dir_all(&self.0);
                }
            }
            let dir = Scratch(std::env::temp_dir().join(format!(
                "crosscheck-fixtures-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            )));
            run.outcomes
                .extend(crate::engine::fixtures::run_fixtures_on_spark(
                    &job,
                    &chosen,
                    &spark_submit,
                    master,
                    &dir.0,
                )?);
        }
    }
    Ok(run)
}
