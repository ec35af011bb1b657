//! The job: an `audit.yaml` naming the catalog, the rule folders, parameters and the output
//! folder; loaded with every rule file, all problems collected before anything runs.

pub mod catalog;
pub mod lead_key;
pub mod names;
pub mod rule;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

pub use catalog::Catalog;
pub use rule::{RuleFile, Severity};

use crate::error::{Diagnostic, Error};
use rule::ParamValue;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// Shown in the report and the manifest.
    #[serde(default)]
    pub name: Option<String>,
    /// The dataset catalog, relative to the job file.
    pub catalog: String,
    /// Rule folders or files, relative to the job file.
    pub rules: Vec<String>,
    /// The output folder; each run writes `<output>/<run-id>/`.
    #[serde(default = "default_output")]
    pub output: String,
    /// Where converted inputs are cached (relative to the job file); `<output>/.cache` unless
    /// given.
    #[serde(default)]
    pub cache: Option<String>,
    /// Parameter overrides: `rule_id: { param: value }`.
    #[serde(default)]
    pub params: IndexMap<String, IndexMap<String, ParamValue>>,
    /// A working-day calendar file (relative to the job file) extending or correcting the
    /// shipped one: next year's holidays without a new build.
    #[serde(default)]
    pub calendar: Option<String>,
    /// The date the extracts were taken (数据截至日期): rule parameters declared
    /// `default: as_of` take it, e.g. the month a dibao benefit is counted through.
    #[serde(default)]
    pub as_of: Option<String>,
    /// How `run --engine spark` submits on this site's cluster.
    #[serde(default)]
    pub spark: SparkSite,
}

/// A site's spark-submit options, from the job's `spark:` section; the command line's
/// `--master`, `--spark-conf`, `--queue`, … win over them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkSite {
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub deploy_mode: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
    /// A folder on the cluster's file system (a URI) where the inputs are staged and the
    /// results written, for a cluster that cannot read this machine's disk.
    #[serde(default)]
    pub work: Option<String>,
    /// Kerberos: the principal and its keytab (relative to the job file).
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub keytab: Option<String>,
    /// `--conf` pairs: executor sizing, dynamic allocation, the cluster's file systems.
    #[serde(default)]
    pub conf: IndexMap<String, String>,
}

fn default_output() -> String {
    "out".into()
}

#[derive(Debug, Clone)]
pub struct Job {
    pub path: PathBuf,
    pub name: String,
    pub catalog: Catalog,
    pub rules: Vec<RuleFile>,
    pub output_dir: PathBuf,
    /// The converted-input cache; `None` when disabled (`run --no-cache`).
    pub cache_dir: Option<PathBuf>,
    /// Hash every input again, even one the cache knows unchanged (`run --rehash`).
    pub rehash: bool,
    pub params: IndexMap<String, IndexMap<String, ParamValue>>,
    /// Problems in rule files that could not be parsed; reported with the compile errors of
    /// the others so that a job's problems surface together.
    pub problems: Vec<Diagnostic>,
    /// The secret lead IDs are keyed with, kept beside the job file.
    pub lead_key: lead_key::LeadKey,
    /// The job's calendar file, in use for this process's working-day rules.
    pub calendar: Option<PathBuf>,
    /// The date the extracts were taken, as the job file writes it (checked to be a date when
    /// the rules compile).
    pub as_of: Option<String>,
    /// The job's `spark:` section, its keytab made relative to the job file's folder.
    pub spark: SparkSite,
}

impl Job {
    /// Loads the job, its catalog and every rule file; returns every problem at once.
    pub fn load(path: &Path) -> Result<Job, Error> {
        let text = fs_err::read_to_string(path).map_err(|e| {
            Error::Invalid(vec![
                Diagnostic::new(path, 0, 0, format!("cannot read the job file: {e}"))
                    .with_help("run from the folder holding audit.yaml, or pass --config PATH"),
            ])
        })?;
        let file: JobFile = yaml::parse_strict(path, &text).map_err(|d| Error::Invalid(vec![d]))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut diags = Vec::new();
        let catalog = match Catalog::load(&base.join(&file.catalog)) {
            Ok(c) => Some(c),
            Err(d) => {
                diags.extend(d);
                None
            }
        };
        let mut rules = Vec::new();
        for folder in &file.rules {
            let root = base.join(folder);
            match rule_files(&root) {
                Ok(paths) => {
                    for p in paths {
                        match RuleFile::load(&p) {
                            Ok(r) => rules.push(r),
                            Err(d) => diags.push(d),
                        }
                    }
                }
                Err(e) => diags.push(Diagnostic::new(
                    path,
                    0,
                    0,
                    format!("rule folder {}: {e}", root.display()),
                )),
            }
        }
        // Duplicate ids would give two rules the same lead IDs.
        let mut seen: BTreeMap<String, &RuleFile> = BTreeMap::new();
        for r in &rules {
            if let Some(first) = seen.get(r.id()) {
                diags.push(
                    yaml::at(
                        &r.path,
                        &r.spec.id,
                        format!(
                            "duplicate rule id `{}`: also used by {}",
                            r.id(),
                            first.path.display()
                        ),
                    )
                    .with_help("rule ids must be unique: lead IDs are derived from them"),
                );
            } else {
                seen.insert(r.id().to_string(), r);
            }
        }
        for (rule_id, _) in &file.params {
            if !seen.contains_key(rule_id) {
                diags.push(Diagnostic::new(
                    path,
                    0,
                    0,
                    format!("params for unknown rule `{rule_id}`"),
                ));
            }
        }
        let Some(catalog) = catalog else {
            return Err(Error::Invalid(diags));
        };
        rules.sort_by(|a, b| a.id().cmp(b.id()));
        let lead_key = lead_key::LeadKey::beside(&base)?;
        // A calendar file that does not read fails the job: working days would be miscounted.
        let before = diags.len();
        let calendar = match &file.calendar {
            Some(c) => {
                let cpath = base.join(c);
                match fs_err::read_to_string(&cpath) {
                    Ok(text) => match crate::calendar::check_file(&text) {
                        Ok(()) => {
                            if let Err(e) = crate::calendar::use_job_calendar(&cpath, &text) {
                                diags.push(Diagnostic::new(&cpath, 0, 0, e));
                            }
                        }
                        Err((line, why)) => {
                            diags.push(Diagnostic::new(&cpath, line as u64, 1, why).with_help(
                                "one line per day: date,kind,occasion — kind `holiday` (a day \
                                 off) or `workday` (a weekend day worked)",
                            ))
                        }
                    },
                    Err(e) => diags.push(Diagnostic::new(
                        path,
                        0,
                        0,
                        format!("calendar {}: {e}", cpath.display()),
                    )),
                }
                Some(cpath)
            }
            None => None,
        };
        if diags.len() > before {
            return Err(Error::Invalid(diags));
        }
        Ok(Job {
            path: path.to_path_buf(),
            name: file.name.unwrap_or_else(|| "crosscheck".into()),
            catalog,
            rules,
            output_dir: base.join(&file.output),
            cache_dir: Some(match &file.cache {
                Some(c) => base.join(c),
                None => base.join(&file.output).join(".cache"),
            }),
            rehash: false,
            params: file.params,
            problems: diags,
            lead_key,
            calendar,
            as_of: file.as_of,
            spark: SparkSite {
                keytab: file
                    .spark
                    .keytab
                    .as_ref()
                    .map(|k| base.join(k).to_string_lossy().to_string()),
                ..file.spark
            },
        })
    }
}

/// Every `*.yaml` / `*.yml` below a folder (or the file itself), sorted for determinism.
fn rule_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
