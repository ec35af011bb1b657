//! The commands: what each does, given its arguments as plain values, returning what it found
//! for the CLI to print. The CLI parses arguments, draws progress and prints; nothing here
//! prints but the progress a `Reporter` draws.

pub mod check;
pub mod compile;
pub mod explain;
pub mod fixtures;
pub mod profile;
pub mod run;

use crate::error::Error;
use crate::job::Job;
use crate::plan::{self, CompiledRule};

/// Loads and compiles a job; every problem is reported together.
pub fn load_and_compile(config: &std::path::Path) -> Result<(Job, Vec<CompiledRule>), Error> {
    let job = Job::load(config)?;
    let compiled = plan::compile_rules(&job);
    if compiled.diagnostics.is_empty() {
        Ok((job, compiled.rules))
    } else {
        Err(Error::Invalid(compiled.diagnostics))
    }
}

/// `--param RULE.NAME=VALUE`: the value is read as a YAML scalar (number, bool or text).
pub fn apply_param_overrides(job: &mut Job, params: &[String]) -> Result<(), Error> {
    for p in params {
        let bad = |why: &str| Error::Input {
            path: job.path.clone(),
            message: format!("--param {p}: {why}"),
        };
        let (target, value) = p
            .split_once('=')
            .ok_or_else(|| bad("expected RULE_ID.NAME=VALUE"))?;
        let (rule, name) = target
            .split_once('.')
            .ok_or_else(|| bad("expected RULE_ID.NAME=VALUE"))?;
        if !job.rules.iter().any(|r| r.id() == rule) {
            let hint = crate::error::nearest(rule, job.rules.iter().map(|r| r.id()))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(bad(&format!("no rule `{rule}`{hint}")));
        }
        let value: crate::job::rule::ParamValue = serde_saphyr::from_str(value)
            .map_err(|e| bad(&format!("cannot read the value: {e}")))?;
        job.params
            .entry(rule.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }
    Ok(())
}

/// `--rules` (ids, or folders / files of rules) and `--tags` keep a subset of the job's rules.
pub fn select_rules(job: &mut Job, rules: &[String], tags: &[String]) -> Result<(), Error> {
    let mut roots = Vec::new();
    if !rules.is_empty() {
        let mut keep = Vec::new();
        for sel in rules {
            let path = std::path::Path::new(sel);
            let matched: Vec<String> = if path.exists() {
                let root = fs_err::canonicalize(path)?;
                roots.push(root.clone());
                job.rules
                    .iter()
                    .filter(|r| std::fs::canonicalize(&r.path).is_ok_and(|p| p.starts_with(&root)))
                    .map(|r| r.id().to_string())
                    .collect()
            } else {
                job.rules
                    .iter()
                    .filter(|r| r.id() == sel)
                    .map(|r| r.id().to_string())
                    .collect()
            };
            if matched.is_empty() {
                let hint = crate::error::nearest(sel, job.rules.iter().map(|r| r.id()))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(Error::Input {
                    path: job.path.clone(),
                    message: format!(
                        "--rules {sel}: no rule with that id, and no rule file under that path{hint}"
                    ),
                });
            }
            keep.extend(matched);
        }
        job.rules.retain(|r| keep.iter().any(|k| k == r.id()));
    }
    if !tags.is_empty() {
        job.rules
            .retain(|r| r.spec.tags.iter().any(|t| tags.contains(t)));
        if job.rules.is_empty() {
            return Err(Error::Input {
                path: job.path.clone(),
                message: format!("--tags {}: no rule carries these tags", tags.join(",")),
            });
        }
    }
    // Problems in rule files that are not selected do not stop this run; a broken file under
    // a selected folder does.
    let kept: Vec<std::path::PathBuf> = job.rules.iter().map(|r| r.path.clone()).collect();
    if !rules.is_empty() || !tags.is_empty() {
        job.problems.retain(|d| {
            kept.contains(&d.file)
                || std::fs::canonicalize(&d.file)
                    .is_ok_and(|f| roots.iter().any(|r| f.starts_with(r)))
        });
    }
    Ok(())
}

/// Replaces datasets' files for this run (`run --input DATASET=FILE`); the names replaced.
pub fn replace_inputs(job: &mut Job, inputs: &[String]) -> Result<Vec<String>, Error> {
    let mut replaced = Vec::new();
    for given in inputs {
        let bad = |message: String| Error::Input {
            path: job.path.clone(),
            message,
        };
        let Some((name, file)) = given.split_once('=') else {
            return Err(bad(format!(
                "--input {given}: write DATASET=FILE, e.g. --input pension_payments=next_month.xlsx"
            )));
        };
        let names: Vec<String> = job.catalog.datasets.keys().cloned().collect();
        let Some(spec) = job.catalog.datasets.get_mut(name) else {
            let hint = crate::error::nearest(name, names.iter().map(String::as_str))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(bad(format!(
                "--input {given}: no dataset `{name}` in the catalog{hint}"
            )));
        };
        let path = std::path::absolute(file).map_err(|e| Error::Io {
            path: file.into(),
            source: e,
        })?;
        if !path.is_file() {
            return Err(Error::Input {
                path,
                message: format!("--input {given}: no such file"),
            });
        }
        // The file's own format when it differs from the declared one (this month's payments
        // as a workbook, say); a sheet named for another format does not apply.
        let declared = crate::ingest::read::format_of(&path, spec.format).ok();
        let own = crate::ingest::read::format_of(&path, None).ok();
        if declared != own {
            spec.format = None;
            spec.sheet = None;
        }
        spec.path.value = glob::Pattern::escape(&path.to_string_lossy());
        replaced.push(name.to_string());
    }
    Ok(replaced)
}
