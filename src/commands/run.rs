//! `crosscheck run`: load the datasets, run the rules (here or on Spark), carry the previous
//! round's dispositions, mask, and write the run folder.

use std::path::PathBuf;
use std::time::Instant;

use crate::engine::{self, Phase, Reporter, RunResult};
use crate::error::{Diagnostic, Error};
use crate::job::{Job, Severity};
use crate::plan;

/// A run's options, as plain values.
pub struct RunOptions {
    /// `import-results`: the bundle and the results folder of a hand-submitted Spark run,
    /// read instead of running the rules.
    pub import: Option<(PathBuf, PathBuf)>,
    pub config: PathBuf,
    pub out: Option<PathBuf>,
    pub run_id: Option<String>,
    pub rules: Vec<String>,
    pub tags: Vec<String>,
    pub params: Vec<String>,
    /// `DATASET=FILE`: files screened in place of a dataset's declared ones.
    pub inputs: Vec<String>,
    pub dispositions: Vec<PathBuf>,
    pub no_cache: bool,
    pub rehash: bool,
    pub mask: bool,
    /// `--split-by`: one workbook per value under `teams/`.
    pub split_by: Option<String>,
    pub lang: crate::output::report::Lang,
    /// Run the rules on Spark instead of here.
    pub spark: Option<SparkRun>,
}

pub struct SparkRun {
    /// `--master`; else the job's `spark.master`; else `local[*]`.
    pub master: Option<String>,
    pub keep_bundle: bool,
    /// `--spark-conf K=V`, `--deploy-mode`, `--queue`, `--principal`, `--keytab`: over the
    /// job's `spark:` section.
    pub conf: Vec<String>,
    pub deploy_mode: Option<String>,
    /// `--spark-work URI`; else the job's `spark.work`.
    pub work: Option<String>,
    pub queue: Option<String>,
    pub principal: Option<String>,
    pub keytab: Option<PathBuf>,
}

/// What a Spark run is submitted with: the command line over the job's `spark:` section,
/// checked before anything is loaded.
struct Submit {
    master: String,
    args: Vec<String>,
    /// The cluster's work folder (a URI), if any.
    work: Option<String>,
}

fn submit_options(spark: &SparkRun, site: &crate::job::SparkSite) -> Result<Submit, Error> {
    let bad = |message: String| Error::Input {
        path: "--engine spark".into(),
        message,
    };
    let master = spark
        .master
        .clone()
        .or_else(|| site.master.clone())
        .unwrap_or_else(|| "local[*]".into());
    engine::spark::check_master(&master).map_err(bad)?;
    let work = spark.work.clone().or_else(|| site.work.clone());
    if let Some(w) = &work {
        engine::spark::check_work(w).map_err(bad)?;
    }
    let mut conf: indexmap::IndexMap<String, String> = site.conf.clone();
    for kv in &spark.conf {
        let Some((k, v)) = kv.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(bad(format!(
                "--spark-conf {kv}: write KEY=VALUE, e.g. --spark-conf spark.executor.memory=8g"
            )));
        };
        conf.insert(k.trim().to_string(), v.to_string());
    }
    let mut args = Vec::new();
    let deploy = spark
        .deploy_mode
        .clone()
        .or_else(|| site.deploy_mode.clone());
    match deploy.as_deref() {
        None | Some("client") => {}
        Some("cluster") => {
            return Err(bad(
                "--deploy-mode cluster: the results come back through this machine's disk, \
                 which a driver on the cluster cannot write; use client mode (the default)"
                    .into(),
            ));
        }
        Some(other) => {
            return Err(bad(format!(
                "--deploy-mode {other}: spark-submit takes client or cluster"
            )));
        }
    }
    if let Some(d) = deploy {
        args.extend(["--deploy-mode".to_string(), d]);
    }
    if let Some(q) = spark.queue.clone().or_else(|| site.queue.clone()) {
        args.extend(["--queue".to_string(), q]);
    }
    let principal = spark.principal.clone().or_else(|| site.principal.clone());
    let keytab = spark
        .keytab
        .clone()
        .or_else(|| site.keytab.clone().map(PathBuf::from));
    match (&principal, &keytab) {
        (Some(p), Some(k)) => {
            if !k.is_file() {
                return Err(bad(format!(
                    "--keytab {}: no such file; give the principal's keytab",
                    k.display()
                )));
            }
            args.extend([
                "--principal".to_string(),
                p.clone(),
                "--keytab".to_string(),
                k.to_string_lossy().to_string(),
            ]);
        }
        (None, None) => {}
        _ => {
            return Err(bad(
                "Kerberos needs both --principal and --keytab (or spark.principal and \
                 spark.keytab in the job)"
                    .into(),
            ));
        }
    }
    let local = master.starts_with("local");
    if local && !conf.contains_key("spark.sql.shuffle.partitions") {
        // One machine: Spark's 200 shuffle partitions would be 200 tiny tasks per exchange.
        conf.insert("spark.sql.shuffle.partitions".into(), "4".into());
    }
    for (k, v) in conf {
        args.extend(["--conf".to_string(), format!("{k}={v}")]);
    }
    Ok(Submit { master, args, work })
}

/// What a run did.
pub struct RunOutcome {
    pub result: RunResult,
    pub dir: PathBuf,
    pub run_id: String,
    /// Rule files that did not compile (their rules did not run).
    pub diagnostics: Vec<Diagnostic>,
    /// Datasets screened from another file, and the rules skipped as they do not read them.
    pub replaced: Vec<String>,
    pub skipped: Vec<String>,
    pub total_ms: u128,
    pub write_ms: u128,
    /// The team workbooks written (`--split-by`): file name, leads.
    pub teams: Vec<(String, usize)>,
}

impl RunOutcome {
    /// Rules that failed, counting each rule file that did not compile.
    pub fn failed(&self) -> usize {
        let broken: std::collections::BTreeSet<_> =
            self.diagnostics.iter().map(|d| &d.file).collect();
        self.result.failed_rules() + broken.len()
    }

    pub fn failed_datasets(&self) -> bool {
        self.result.datasets.iter().any(|d| d.error.is_some())
    }

    /// A lead at or above `min` exists.
    pub fn threshold_met(&self, min: Option<Severity>) -> bool {
        min.is_some_and(|min| {
            self.result
                .outcomes
                .iter()
                .any(|o| o.rule.severity >= min && !o.rows.is_empty())
        })
    }
}

/// Runs a job. A broken rule file is reported through `notify` and skipped; the others run.
pub fn run(
    o: &RunOptions,
    reporter: &dyn Reporter,
    notify: &dyn Fn(&str),
) -> Result<RunOutcome, Error> {
    let t0 = Instant::now();
    let mut job = Job::load(&o.config)?;
    if o.no_cache {
        job.cache_dir = None;
    }
    job.rehash = o.rehash;
    super::apply_param_overrides(&mut job, &o.params)?;
    super::select_rules(&mut job, &o.rules, &o.tags)?;
    let replaced = super::replace_inputs(&mut job, &o.inputs)?;
    let plan::Compiled {
        mut rules,
        diagnostics,
    } = plan::compile_rules(&job);
    // Screening a file: only the rules that read it.
    let mut skipped = Vec::new();
    if !replaced.is_empty() {
        rules.retain(|r| {
            let reads = r.datasets.iter().any(|d| replaced.contains(d));
            if !reads {
                skipped.push(r.id.clone());
            }
            reads
        });
        notify(&format!(
            "screening {}: {} rule(s) read it; {} skipped (they do not read it)",
            replaced.join(", "),
            rules.len(),
            skipped.len()
        ));
        if rules.is_empty() {
            return Err(Error::Input {
                path: job.path.clone(),
                message: format!(
                    "no selected rule reads {}: choose rules with --rules",
                    replaced.join(", ")
                ),
            });
        }
    }
    for r in rules.iter().filter(|r| r.amount_unknown.is_some()) {
        notify(&format!(
            "warning: rule {}: {}",
            r.id,
            r.amount_unknown.as_deref().unwrap_or_default()
        ));
    }
    if !diagnostics.is_empty() {
        notify(&format!(
            "{}\nthe rules above do not run; the other {} rules do",
            Error::Invalid(diagnostics.clone()),
            rules.len()
        ));
    }
    // A master or an option Spark cannot take fails before the extracts are read.
    let submit = match &o.spark {
        Some(spark) => Some(submit_options(spark, &job.spark)?),
        None => None,
    };
    // Read before any data: a bad dispositions file is an error, not a half-applied run.
    let dispositions = if o.dispositions.is_empty() {
        None
    } else {
        Some(crate::ingest::dispositions::read_all(&o.dispositions)?)
    };
    // Checked before any data too: a typo in it must not cost the minutes of loading.
    let split = match &o.split_by {
        Some(text) => Some(crate::output::teams::SplitBy::compile(text, &rules)?),
        None => None,
    };
    let output_dir = o.out.clone().unwrap_or_else(|| job.output_dir.clone());
    let run_id = o
        .run_id
        .clone()
        .unwrap_or_else(|| crate::output::new_run_id(&output_dir));
    // Checked again when writing; here so a taken name fails before minutes of loading.
    crate::output::check_run_folder_free(&output_dir, &run_id)?;
    if let Some(warning) = job
        .lead_key
        .keep_for_run(&output_dir, !o.dispositions.is_empty())?
    {
        notify(&warning);
    }
    let mut result = match (&o.spark, submit) {
        _ if o.import.is_some() => {
            let (bundle, results) = o.import.as_ref().expect("checked");
            engine::spark::import(&job, &rules, bundle, results, reporter)?
        }
        (Some(spark), Some(submit)) => {
            let spark_submit = engine::spark::find_spark_submit().ok_or_else(|| Error::Input {
                path: "spark-submit".into(),
                message: "not found: put Spark's bin folder on PATH, set SPARK_SUBMIT, or `pip install pyspark` (see the README)".into(),
            })?;
            crate::private::create_private_dir(&output_dir)?;
            let bundle = if spark.keep_bundle {
                output_dir.join(format!("{run_id}.spark"))
            } else {
                output_dir.join(format!(".{run_id}.spark-{}", std::process::id()))
            };
            let opts = engine::spark::SparkOptions {
                master: submit.master,
                submit_args: submit.args,
                spark_submit,
                work: submit.work.map(|w| {
                    // One folder per run inside it: runs side by side never meet.
                    format!(
                        "{}/crosscheck-{run_id}-{}",
                        w.trim_end_matches('/'),
                        std::process::id()
                    )
                }),
                bundle,
                keep_bundle: spark.keep_bundle,
            };
            engine::spark::run(&job, &rules, &opts, reporter)?
        }
        _ => engine::run(&job, &rules, reporter),
    };
    if let Some(d) = &dispositions {
        engine::apply_dispositions(&mut result, d);
    }
    if o.mask {
        crate::output::mask::apply(&mut result);
    }
    // After masking: a team's file name and contents come from what it may see.
    let teams = match &split {
        Some(s) => Some((s.text().to_string(), s.split(&result)?)),
        None => None,
    };
    let t_write = Instant::now();
    reporter.start(Phase::Writing, 1);
    let timings = serde_json::json!({
        "load": result.load_ms,
        "rules": result.rules_ms,
        "compile_and_load_total": t0.elapsed().as_millis(),
    });
    let dir = crate::output::write_run(
        &job,
        crate::output::RunOutputs {
            result: &result,
            rule_errors: &diagnostics,
            lang: o.lang,
            timings,
            teams: teams
                .as_ref()
                .map(|(t, teams)| (t.as_str(), teams.as_slice())),
        },
        &output_dir,
        &run_id,
    )?;
    reporter.advance(Phase::Writing, "outputs");
    reporter.finish(Phase::Writing);
    Ok(RunOutcome {
        result,
        dir,
        run_id,
        diagnostics,
        replaced,
        skipped,
        total_ms: t0.elapsed().as_millis(),
        write_ms: t_write.elapsed().as_millis(),
        teams: teams
            .map(|(_, t)| t.into_iter().map(|t| (t.file, t.leads)).collect())
            .unwrap_or_default(),
    })
}
