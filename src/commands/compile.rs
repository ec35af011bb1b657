//! `crosscheck compile --target spark`: the extracts loaded and checked here, then written as a
//! bundle spark-submit runs.

use std::path::Path;

use crate::engine::{self, Reporter};
use crate::error::Error;
use crate::job::Job;
use crate::plan;

pub struct Compiled {
    pub bundle: engine::spark::Bundle,
    pub datasets: usize,
}

pub fn compile(
    config: &Path,
    out: &Path,
    selection: &[String],
    no_cache: bool,
    reporter: &dyn Reporter,
) -> Result<Compiled, Error> {
    let mut job = Job::load(config)?;
    if no_cache {
        job.cache_dir = None;
    }
    super::select_rules(&mut job, selection, &[])?;
    let plan::Compiled { rules, diagnostics } = plan::compile_rules(&job);
    if !diagnostics.is_empty() {
        return Err(Error::Invalid(diagnostics));
    }
    let loaded = engine::load(&job, &rules, reporter, true);
    if let Some(d) = loaded.datasets.iter().find(|d| d.error.is_some()) {
        return Err(Error::Input {
            path: config.to_path_buf(),
            message: format!(
                "dataset `{}` could not be loaded: {}",
                d.name,
                d.error.as_deref().unwrap_or_default()
            ),
        });
    }
    let bundle = engine::spark::write_bundle(&job, &rules, &loaded, out, None)?;
    Ok(Compiled {
        bundle,
        datasets: loaded.datasets.len(),
    })
}
