//! The command line: argument structs, the commands, and the progress bars. Messages and
//! progress go to stderr; stdout carries data only (`--format json`).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{self, Phase, Reporter, RuleStatus};
use crate::error::Error;
use crate::job::{Job, Severity};
use crate::plan::{self, CompiledRule};

/// Exit codes: 0 the job ran, 1 a `--fail-on` threshold was met, 2 an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Ran,
    ThresholdMet,
    Error,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Ran => 0,
            ExitStatus::ThresholdMet => 1,
            ExitStatus::Error => 2,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "crosscheck",
    version,
    about = "Cross-check government extracts and list leads for inspection teams"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a job: load the datasets, run every rule, write out/<run-id>/.
    Run(RunArgs),
    /// Validate a job (catalog, rules, expressions, types) without scanning any data.
    Check {
        /// Also check that every rule runs on this engine (`spark`: lowered to Spark SQL, and
        /// each `sql` query's functions exist in Spark SQL).
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Run the fixtures embedded in each rule (`tests:`) through the real loader.
    Test {
        /// Rule folders or files to test (default: every rule of the job).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Profile extracts nobody described (files, folders, globs): each file's format,
    /// encoding, sheets, header row and rows; each column's likely type, share empty, distinct
    /// values, samples and ID quality; the same column recognised across files by its values.
    Profile {
        /// Files, folders (their CSV, xlsx and Parquet files) or globs.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write a draft catalog here (never over an existing file), paths relative to it.
        #[arg(long)]
        write: Option<PathBuf>,
        /// Mask ID numbers and names in the samples shown.
        #[arg(long)]
        mask: bool,
    },
    /// Print the reference of every rule kind: its keys, defaults, what evidence may read,
    /// what one lead is, and which ends of windows and tolerances count (Markdown).
    Kinds,
    /// Print a rule's logical plan and the Polars plan it lowers to.
    Explain {
        rule_id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write a job as a bundle another engine runs (`--target spark`): the rows the rules read
    /// as Parquet, every rule as Spark SQL, and a PySpark runner for spark-submit.
    Compile {
        #[arg(long, value_enum)]
        target: TargetArg,
        /// The bundle folder to create.
        #[arg(long)]
        out: PathBuf,
        /// Only these rules: rule ids, or folders / files of rules.
        #[arg(long, value_delimiter = ',')]
        rules: Vec<String>,
        /// Parse every input again instead of taking converted files from the cache.
        #[arg(long)]
        no_cache: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Compare two runs: per rule, leads new, persisting, resolved and reappeared.
    Diff {
        /// The older run folder (out/<run-id>).
        old: PathBuf,
        /// The newer run folder.
        new: PathBuf,
        /// Where to write diff-<old>.xlsx and .parquet (default: the newer run folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// `json` prints the counts on stdout.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Write the sample city (datasets, catalog, ground truth) into a folder.
    Generate {
        #[arg(long, default_value = "sample_data")]
        out: PathBuf,
        /// Size multiplier: 1 is the committed sample city.
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// The inspection round: 1 is the committed city; 2 and 3 are later extracts of the
        /// same city with leads put right, new leads, and one lead back in round 3.
        #[arg(long, default_value_t = 1)]
        round: u32,
        #[arg(long, default_value_t = 20251231)]
        seed: u64,
        /// Months of pension payments before 2025 for every retiree (benchmarks: 162 at
        /// scale 100 makes about ten million payment rows). The leads do not change.
        #[arg(long, default_value_t = 0)]
        payment_history: u32,
    },
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// The job file.
    #[arg(long, short, default_value = "audit.yaml")]
    pub config: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output folder (overrides the job's `output`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Name of the run folder (default: the local time, e.g. 20260301-093000).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Exit 1 when a lead at or above this severity exists.
    #[arg(long, value_enum)]
    pub fail_on: Option<SeverityArg>,
    /// `json` prints the run summary on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Run only these rules: rule ids, or folders / files of rules (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub rules: Vec<String>,
    /// Run only rules carrying one of these tags.
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Inspectors' dispositions from the previous round: its anomalies.xlsx with the status
    /// column filled in, or a CSV with lead_id, status, note.
    #[arg(long)]
    pub dispositions: Option<PathBuf>,
    /// The language of report.html.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: LangArg,
    /// Parse every input again instead of taking converted files from the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Hash every input file again, even one unchanged on disk since an earlier run hashed it
    /// (same device, inode, size, modification and change times).
    #[arg(long)]
    pub rehash: bool,
    /// Mask ID numbers (keep region and last four) and names (keep the surname) in every export.
    #[arg(long)]
    pub mask: bool,
    /// Override a rule parameter: RULE_ID.NAME=VALUE (repeatable); wins over the job file.
    #[arg(long = "param", value_name = "RULE.NAME=VALUE")]
    pub params: Vec<String>,
    /// Where the rules run: `polars` in this process, or `spark` through spark-submit
    /// ($SPARK_SUBMIT, else spark-submit on PATH).
    #[arg(long, value_enum, default_value = "polars")]
    pub engine: EngineArg,
    /// The Spark master for `--engine spark`: local[2], spark://host:7077, yarn, …
    #[arg(long, default_value = "local[*]")]
    pub master: String,
    /// Keep the Spark bundle (inputs, SQL, runner, Spark's log) beside the run folder as
    /// <run-id>.spark; by default it is removed, as it holds copies of the data.
    #[arg(long)]
    pub keep_bundle: bool,
    /// Screen a file before paying it: DATASET=FILE reads FILE instead of the dataset's
    /// declared files, typed by the same declaration (repeatable); only the rules reading a
    /// replaced dataset run.
    #[arg(long = "input", value_name = "DATASET=FILE")]
    pub inputs: Vec<String>,
}

/// Replaces datasets' files for this run (`run --input DATASET=FILE`); the names replaced.
fn replace_inputs(job: &mut Job, inputs: &[String]) -> Result<Vec<String>, Error> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Polars,
    Spark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Spark,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Progress bars on stderr, one per phase; hidden when stderr is not a terminal or --quiet.
struct Bars {
    quiet: bool,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl Reporter for Bars {
    fn start(&self, phase: Phase, total: u64) {
        if self.quiet {
            return;
        }
        let label = match phase {
            Phase::Loading => "读取数据 loading",
            Phase::Rules => "运行规则 rules",
            Phase::Writing => "写出结果 writing",
        };
        let bar =
            ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(label);
        *self.bar.lock().expect("bar lock") = Some(bar);
    }
    fn advance(&self, _phase: Phase, item: &str) {
        if let Some(b) = &*self.bar.lock().expect("bar lock") {
            b.set_message(item.to_string());
            b.inc(1);
        }
    }
    fn finish(&self, _phase: Phase) {
        if let Some(b) = self.bar.lock().expect("bar lock").take() {
            b.finish_and_clear();
        }
    }
}

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

pub fn run(cli: Cli) -> Result<ExitStatus, Error> {
    match cli.command {
        Command::Check { target, config: c } => {
            let (job, rules) = load_and_compile(&c.config)?;
            // Files, formats, encodings and headers — without reading the data.
            let mut problems = Vec::new();
            for name in job.catalog.datasets.keys() {
                if let Err(e) = crate::ingest::check_dataset(&job.catalog, name) {
                    problems.push(e.to_string());
                }
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("{} dataset(s) cannot be loaded as declared", problems.len());
                return Ok(ExitStatus::Error);
            }
            if target == Some(TargetArg::Spark) {
                let mut refused = 0;
                for rule in &rules {
                    let frames = crate::ingest::empty_frames(&job.catalog, &rule.datasets)?;
                    if let Err(why) = plan::spark::refusal(&rule.id, &rule.plan, &frames) {
                        refused += 1;
                        eprintln!(
                            "error: {}: rule `{}` cannot run on Spark: {why}",
                            rule.path.display(),
                            rule.id
                        );
                    }
                }
                if refused > 0 {
                    eprintln!("{refused} rule(s) cannot run on Spark; the others can");
                    return Ok(ExitStatus::Error);
                }
            }
            eprintln!(
                "ok: {} datasets, {} rules ({} enabled) compiled against the catalog{}",
                job.catalog.datasets.len(),
                job.rules.len(),
                rules.len(),
                if target == Some(TargetArg::Spark) {
                    "; every enabled rule lowers to Spark SQL"
                } else {
                    ""
                }
            );
            Ok(ExitStatus::Ran)
        }
        Command::Profile { paths, write, mask } => {
            if let Some(w) = &write
                && w.exists()
            {
                return Err(Error::Input {
                    path: w.clone(),
                    message:
                        "already exists; profile never overwrites a catalog: name another file"
                            .into(),
                });
            }
            let files = crate::profile::files(&paths)?;
            // Drawn on a terminal only (indicatif hides it elsewhere).
            let bar = ProgressBar::new(files.len() as u64).with_prefix("profile");
            if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            {
                bar.set_style(style);
            }
            let mut profiles = Vec::new();
            for f in &files {
                bar.set_message(f.display().to_string());
                profiles.push(crate::profile::profile_file(f)?);
                bar.inc(1);
            }
            bar.finish_and_clear();
            crate::profile::name_columns(&mut profiles);
            print!("{}", crate::profile::report(&profiles, mask));
            if let Some(w) = write {
                let dir = w
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let text = crate::profile::draft(&profiles, &dir);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&w)
                    .map_err(|e| Error::Io {
                        path: w.clone(),
                        source: e,
                    })?;
                use std::io::Write;
                f.write_all(text.as_bytes())?;
                eprintln!("wrote the draft catalog {}", w.display());
            }
            Ok(ExitStatus::Ran)
        }
        Command::Kinds => {
            print!("{}", crate::plan::kinds::reference::markdown());
            Ok(ExitStatus::Ran)
        }
        Command::Explain { rule_id, config } => {
            let (job, rules) = load_and_compile(&config.config)?;
            let Some(rule) = rules.iter().find(|r| r.id == rule_id) else {
                let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
                let hint = crate::error::nearest(&rule_id, ids.iter().copied())
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| format!("rules: {}", ids.join(", ")));
                return Err(Error::Input {
                    path: config.config,
                    message: format!("no enabled rule `{rule_id}`; {hint}"),
                });
            };
            println!(
                "rule {} ({}) — {}\n\nlogical plan:\n{}",
                rule.id, rule.kind, rule.title, rule.plan
            );
            // The Polars plan needs schemas only: lower over empty frames of the catalog's types.
            let frames = crate::ingest::empty_frames(&job.catalog, &rule.datasets)?;
            let lf = plan::lower::lower(&rule.plan, &frames)?;
            println!(
                "polars plan (optimised):\n{}",
                lf.describe_optimized_plan()?
            );
            let own = plan::lower::own_group_bys(&rule.plan, &frames)?;
            if own > 0 {
                println!(
                    "\n{own} aggregate(s) grouped by one text column run on crosscheck's own \
                     group-by, not on Polars' group_by shown: fed by the scan above, or reading \
                     the cache's files itself when the cache serves the dataset"
                );
            }
            Ok(ExitStatus::Ran)
        }
        Command::Generate {
            out,
            scale,
            seed,
            round,
            payment_history,
        } => {
            let summary =
                crate::samplecity::generate_city(&out, scale, seed, round, payment_history)?;
            eprintln!("wrote the sample city to {} ({summary})", out.display());
            Ok(ExitStatus::Ran)
        }
        Command::Run(args) => run_job(args, cli.quiet),
        Command::Compile {
            target: TargetArg::Spark,
            out,
            rules: selection,
            no_cache,
            config,
        } => {
            let mut job = Job::load(&config.config)?;
            if no_cache {
                job.cache_dir = None;
            }
            select_rules(&mut job, &selection, &[])?;
            let plan::Compiled { rules, diagnostics } = plan::compile_rules(&job);
            if !diagnostics.is_empty() {
                return Err(Error::Invalid(diagnostics));
            }
            let reporter = Bars {
                quiet: cli.quiet,
                bar: std::sync::Mutex::new(None),
            };
            let loaded = engine::load(&job, &rules, &reporter);
            if let Some(d) = loaded.datasets.iter().find(|d| d.error.is_some()) {
                return Err(Error::Input {
                    path: config.config,
                    message: format!(
                        "dataset `{}` could not be loaded: {}",
                        d.name,
                        d.error.as_deref().unwrap_or_default()
                    ),
                });
            }
            let bundle = engine::spark::write_bundle(&job, &rules, &loaded, &out, None)?;
            for (rule, why) in &bundle.refused {
                eprintln!("error: rule `{}` cannot run on Spark: {why}", rule.id);
            }
            eprintln!(
                "wrote {} ({} rules, {} datasets); run it with:\n  spark-submit --master URL {} {}",
                out.display(),
                bundle.rules.len(),
                loaded.datasets.len(),
                out.join("runner.py").display(),
                out.join("manifest.json").display()
            );
            Ok(if bundle.refused.is_empty() {
                ExitStatus::Ran
            } else {
                ExitStatus::Error
            })
        }
        Command::Diff {
            old,
            new,
            out,
            format,
        } => {
            let d = crate::diff::diff(&old, &new)?;
            let (xlsx, _) = crate::diff::write(&d, out.as_deref().unwrap_or(&new))?;
            eprintln!(
                "{:<40} {:>5} {:>10} {:>8} {:>10} {:>7} {:>20}",
                "rule",
                "new",
                "persisting",
                "resolved",
                "reappeared",
                "cleared",
                "rectified-persisting"
            );
            for (rule, c) in &d.counts {
                eprintln!(
                    "{rule:<40} {:>5} {:>10} {:>8} {:>10} {:>7} {:>20}",
                    c.new,
                    c.persisting,
                    c.resolved,
                    c.reappeared,
                    c.cleared,
                    c.rectified_but_persisting
                );
            }
            eprintln!("wrote {}", xlsx.display());
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&d.counts).expect("json"));
            }
            Ok(ExitStatus::Ran)
        }
        Command::Test { paths, config } => test_rules(&paths, &config.config),
    }
}

/// `--param RULE.NAME=VALUE`: the value is read as a YAML scalar (number, bool or text).
fn apply_param_overrides(job: &mut Job, params: &[String]) -> Result<(), Error> {
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
fn select_rules(job: &mut Job, rules: &[String], tags: &[String]) -> Result<(), Error> {
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

fn test_rules(paths: &[PathBuf], config: &std::path::Path) -> Result<ExitStatus, Error> {
    let (job, rules) = load_and_compile(config)?;
    let roots: Vec<PathBuf> = paths
        .iter()
        .map(|p| fs_err::canonicalize(p).map_err(Error::from))
        .collect::<Result<_, _>>()?;
    let selected = |file: &std::path::Path| {
        roots.is_empty()
            || std::fs::canonicalize(file).is_ok_and(|f| roots.iter().any(|r| f.starts_with(r)))
    };
    let (mut passed, mut failed, mut tested) = (0, 0, 0);
    for rule in &rules {
        let Some(file) = job.rules.iter().find(|f| f.id() == rule.id) else {
            continue;
        };
        if !selected(&file.path) {
            continue;
        }
        tested += 1;
        if file.spec.tests.is_empty() {
            eprintln!(
                "warning: rule {} ({}) has no fixtures",
                rule.id,
                file.path.display()
            );
        }
        for o in engine::fixtures::run_fixtures(&job.catalog, file, rule) {
            match &o.failure {
                None => {
                    passed += 1;
                    eprintln!("ok     {} :: {}", o.rule_id, o.name);
                }
                Some(why) => {
                    failed += 1;
                    eprintln!(
                        "FAILED {} :: {} ({}:{})\n       {why}",
                        o.rule_id,
                        o.name,
                        o.file.display(),
                        o.line
                    );
                }
            }
        }
    }
    if tested == 0 {
        eprintln!(
            "error: no rule under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitStatus::Error);
    }
    // The closing line CI tools read.
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitStatus::Ran
    } else {
        ExitStatus::Error
    })
}

fn run_job(args: RunArgs, quiet: bool) -> Result<ExitStatus, Error> {
    let t0 = Instant::now();
    // A broken rule is reported and skipped; the others still run, and the exit code is 2.
    let mut job = Job::load(&args.config.config)?;
    if args.no_cache {
        job.cache_dir = None;
    }
    job.rehash = args.rehash;
    apply_param_overrides(&mut job, &args.params)?;
    select_rules(&mut job, &args.rules, &args.tags)?;
    let replaced = replace_inputs(&mut job, &args.inputs)?;
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
        eprintln!(
            "screening {}: {} rule(s) read it; {} skipped (they do not read it)",
            replaced.join(", "),
            rules.len(),
            skipped.len()
        );
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
    if !diagnostics.is_empty() {
        eprintln!("{}", Error::Invalid(diagnostics.clone()));
        eprintln!(
            "the rules above do not run; the other {} rules do",
            rules.len()
        );
    }
    let reporter = Bars {
        quiet,
        bar: std::sync::Mutex::new(None),
    };
    // Read before any data: a bad dispositions file is an error, not a half-applied run.
    let dispositions = match &args.dispositions {
        Some(p) => Some(crate::ingest::dispositions::read_dispositions(p)?),
        None => None,
    };
    let output_dir = args.out.clone().unwrap_or_else(|| job.output_dir.clone());
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| crate::output::new_run_id(&output_dir));
    // Checked again when writing; here so a taken name fails before minutes of loading.
    crate::output::check_run_folder_free(&output_dir, &run_id)?;
    if let Some(warning) = job
        .lead_key
        .keep_for_run(&output_dir, args.dispositions.is_some())?
    {
        eprintln!("{warning}");
    }
    let mut result = match args.engine {
        EngineArg::Polars => engine::run(&job, &rules, &reporter),
        EngineArg::Spark => {
            let spark_submit = engine::spark::find_spark_submit().ok_or_else(|| Error::Input {
                path: "spark-submit".into(),
                message: "not found: put Spark's bin folder on PATH, set SPARK_SUBMIT, or `pip install pyspark` (see the README)".into(),
            })?;
            crate::private::create_private_dir(&output_dir)?;
            let bundle = if args.keep_bundle {
                output_dir.join(format!("{run_id}.spark"))
            } else {
                output_dir.join(format!(".{run_id}.spark-{}", std::process::id()))
            };
            let opts = engine::spark::SparkOptions {
                master: args.master.clone(),
                spark_submit,
                bundle,
                keep_bundle: args.keep_bundle,
            };
            engine::spark::run(&job, &rules, &opts, &reporter)?
        }
    };
    if let Some(d) = &dispositions {
        engine::apply_dispositions(&mut result, d);
    }
    if args.mask {
        crate::output::mask::apply(&mut result);
    }
    let t_write = Instant::now();
    reporter.start(Phase::Writing, 1);
    let timings = serde_json::json!({
        "load": result.load_ms,
        "rules": result.rules_ms,
        "compile_and_load_total": t0.elapsed().as_millis(),
    });
    let dir = crate::output::write_run(
        &job,
        &result,
        &diagnostics,
        match args.lang {
            LangArg::Zh => crate::output::report::Lang::Zh,
            LangArg::En => crate::output::report::Lang::En,
        },
        &output_dir,
        &run_id,
        timings,
    )?;
    reporter.advance(Phase::Writing, "outputs");
    reporter.finish(Phase::Writing);
    let write_ms = t_write.elapsed().as_millis();

    for d in &result.datasets {
        match (&d.report, &d.error) {
            (Some(r), _) => eprintln!(
                "dataset {:<22} read {:>7}  loaded {:>7}  rejected {:>5}",
                d.name, r.rows_read, r.rows_loaded, r.rows_rejected
            ),
            (None, Some(e)) => eprintln!("error: dataset {} could not be loaded: {e}", d.name),
            _ => {}
        }
    }
    for o in &result.outcomes {
        match &o.status {
            RuleStatus::Ok => eprintln!(
                "rule {:<40} {:>8} {:>5} leads",
                o.rule.id,
                o.rule.severity.as_str(),
                o.lead_count()
            ),
            RuleStatus::Failed(e) => eprintln!("error: rule {} failed: {e}", o.rule.id),
        }
    }
    eprintln!(
        "wrote {} (total {} ms, writing {} ms)",
        dir.display(),
        t0.elapsed().as_millis(),
        write_ms
    );

    let threshold_met = args.fail_on.map(Severity::from).is_some_and(|min| {
        result
            .outcomes
            .iter()
            .any(|o| o.rule.severity >= min && !o.rows.is_empty())
    });
    if args.format == Format::Json {
        let summary = serde_json::json!({
            "run_id": run_id,
            "output": dir.to_string_lossy(),
            "rules": result.outcomes.iter().map(|o| serde_json::json!({
                "id": o.rule.id,
                "severity": o.rule.severity.as_str(),
                "status": if matches!(o.status, RuleStatus::Ok) { "ok" } else { "failed" },
                "leads": o.lead_count(),
            })).collect::<Vec<_>>(),
            "failed_rules": result.failed_rules(),
            "inputs_replaced": replaced,
            "skipped_rules": skipped,
            "rule_errors": diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "threshold_met": threshold_met,
        });
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    }
    let failed_datasets = result.datasets.iter().any(|d| d.error.is_some());
    let broken_files: std::collections::BTreeSet<_> = diagnostics.iter().map(|d| &d.file).collect();
    let failed = result.failed_rules() + broken_files.len();
    if failed > 0 || failed_datasets {
        eprintln!("error: {failed} rule(s) failed; the other rules' leads were written");
        return Ok(ExitStatus::Error);
    }
    Ok(if threshold_met {
        ExitStatus::ThresholdMet
    } else {
        ExitStatus::Ran
    })
}
