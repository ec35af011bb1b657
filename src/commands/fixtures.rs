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

/// Runs the fixtures of the job's rules under `paths` (every rule when empty).
pub fn test(paths: &[PathBuf], config: &Path) -> Result<FixtureRun, Error> {
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
        run.outcomes.extend(crate::engine::fixtures::run_fixtures(
            &job.catalog,
            file,
            rule,
            job.as_of.as_deref(),
        ));
    }
    Ok(run)
}
