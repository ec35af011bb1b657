//! The command line: argument structs, the progress bars, and what each command found, printed.
//! The commands themselves live in `commands`. Messages and progress go to stderr; stdout
//! carries data only (`--format json`).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands;
use crate::engine::{Phase, Reporter, RuleStatus};
use crate::error::Error;
use crate::job::Severity;

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
    Run(Box<RunArgs>),
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
        /// Where the fixtures run: `polars` here, or `spark` (all fixtures in one
        /// spark-submit), where an `sql` query that means something else shows as a failure.
        #[arg(long, value_enum, default_value = "polars")]
        engine: EngineArg,
        /// The Spark master for `--engine spark`.
        #[arg(long, default_value = "local[2]")]
        master: String,
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
    /// Turn the results of a bundle submitted by hand (compile --target spark, then
    /// spark-submit) into the usual outputs, as `run --engine spark` would have written them.
    ImportResults {
        /// The bundle folder (`compile --target spark --out BUNDLE`).
        bundle: PathBuf,
        /// Where spark-submit wrote the results: a path or a file:// URI (default:
        /// BUNDLE/results).
        #[arg(long)]
        results: Option<PathBuf>,
        #[command(flatten)]
        run: Box<RunArgs>,
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
        /// Size multiplier: 1 is the committed sample city (4,000 people).
        #[arg(long, default_value_t = 1, conflicts_with = "people")]
        scale: u32,
        /// Grow the city by people instead: about this many (enrolments, registers, deaths,
        /// dibao and payments grow with them), e.g. 2000000.
        #[arg(long)]
        people: Option<u64>,
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
    /// column filled in, a CSV with lead_id, status, note, or a folder of them (the teams'
    /// returned workbooks); repeatable, merged by lead ID.
    #[arg(long)]
    pub dispositions: Vec<PathBuf>,
    /// Also write one workbook per value of this expression over the leads under teams/
    /// (e.g. `region`, or an evidence label in double quotes); empty values go to
    /// teams/unassigned.xlsx.
    #[arg(long, value_name = "EXPR")]
    pub split_by: Option<String>,
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
    /// The Spark master for `--engine spark`: local[2], spark://host:7077, yarn, … (default:
    /// the job's `spark.master`, else local[*]).
    #[arg(long)]
    pub master: Option<String>,
    /// A Spark setting passed to spark-submit as --conf K=V (repeatable; wins over the job's
    /// `spark.conf`).
    #[arg(long = "spark-conf", value_name = "K=V")]
    pub spark_conf: Vec<String>,
    /// spark-submit's --deploy-mode: `client` (the results come back through this machine).
    #[arg(long)]
    pub deploy_mode: Option<String>,
    /// A folder on the cluster's file system (hdfs://…, s3a://…, file:// on a shared mount)
    /// for a cluster that cannot read this machine's disk: the inputs are staged there and the
    /// results written there, then fetched back and both removed (default: the job's
    /// `spark.work`; none: the cluster reads and writes the bundle on this machine's disk).
    #[arg(long = "spark-work", value_name = "URI")]
    pub spark_work: Option<String>,
    /// The YARN queue to submit to.
    #[arg(long)]
    pub queue: Option<String>,
    /// Kerberos principal for spark-submit (with --keytab).
    #[arg(long)]
    pub principal: Option<String>,
    /// Kerberos keytab file for the principal.
    #[arg(long)]
    pub keytab: Option<PathBuf>,
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

pub fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let bars = Bars {
        quiet: cli.quiet,
        bar: std::sync::Mutex::new(None),
    };
    match cli.command {
        Command::Check { target, config: c } => {
            let spark = target == Some(TargetArg::Spark);
            let report = commands::check::check(&c.config, spark)?;
            for p in &report.dataset_problems {
                eprintln!("{p}");
            }
            if !report.dataset_problems.is_empty() {
                eprintln!(
                    "{} dataset(s) cannot be loaded as declared",
                    report.dataset_problems.len()
                );
                return Ok(ExitStatus::Error);
            }
            for (file, rule, why) in &report.amount_warnings {
                eprintln!("warning: {}: rule `{rule}`: {why}", file.display());
            }
            for (file, rule, why) in &report.spark_warnings {
                eprintln!(
                    "warning: {}: rule `{rule}` may give other leads on Spark: {why}",
                    file.display()
                );
            }
            for (file, rule, why) in &report.spark_refusals {
                eprintln!(
                    "error: {}: rule `{rule}` cannot run on Spark: {why}",
                    file.display()
                );
            }
            if !report.spark_refusals.is_empty() {
                eprintln!(
                    "{} rule(s) cannot run on Spark; the others can",
                    report.spark_refusals.len()
                );
                return Ok(ExitStatus::Error);
            }
            eprintln!(
                "ok: {} datasets, {} rules ({} enabled) compiled against the catalog{}",
                report.datasets,
                report.rules,
                report.enabled,
                if spark {
                    "; every enabled rule lowers to Spark SQL"
                } else {
                    ""
                }
            );
            Ok(ExitStatus::Ran)
        }
        Command::Profile { paths, write, mask } => {
            if let Some(w) = &write {
                commands::profile::check_draft_free(w)?;
            }
            // Drawn on a terminal only (indicatif hides it elsewhere).
            let bar = ProgressBar::new(0).with_prefix("分析文件 profile");
            if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            let profiles = commands::profile::profile(&paths, &|f, total| {
                bar.set_length(total as u64);
                bar.set_message(f.display().to_string());
                bar.inc(1);
            })?;
            bar.finish_and_clear();
            print!("{}", crate::profile::report(&profiles, mask));
            if let Some(w) = write {
                commands::profile::write_draft(&profiles, &w)?;
                eprintln!("wrote the draft catalog {}", w.display());
            }
            Ok(ExitStatus::Ran)
        }
        Command::Kinds => {
            print!("{}", crate::plan::kinds::reference::markdown());
            Ok(ExitStatus::Ran)
        }
        Command::Explain { rule_id, config } => {
            print!("{}", commands::explain::explain(&config.config, &rule_id)?);
            Ok(ExitStatus::Ran)
        }
        Command::Generate {
            out,
            scale,
            people,
            seed,
            round,
            payment_history,
        } => {
            let scale = people.map_or(scale, samplecity::scale_for_people);
            let summary = samplecity::generate_city(&out, scale, seed, round, payment_history)
                .map_err(|e| Error::Input {
                    path: out.clone(),
                    message: e.to_string(),
                })?;
            eprintln!("wrote the sample city to {} ({summary})", out.display());
            Ok(ExitStatus::Ran)
        }
        Command::Run(args) => run_job(*args, None, &bars),
        Command::ImportResults {
            bundle,
            results,
            run,
        } => {
            let results = results.unwrap_or_else(|| bundle.join("results"));
            run_job(*run, Some((bundle, results)), &bars)
        }
        Command::Compile {
            target: TargetArg::Spark,
            out,
            rules,
            no_cache,
            config,
        } => {
            let c = commands::compile::compile(&config.config, &out, &rules, no_cache, &bars)?;
            let refused = &c.bundle.refused;
            for (rule, why) in refused {
                eprintln!("error: rule `{}` cannot run on Spark: {why}", rule.id);
            }
            eprintln!(
                "wrote {} ({} rules, {} datasets); run it with:\n  spark-submit --master URL {} {}",
                out.display(),
                c.bundle.rules.len(),
                c.datasets,
                out.join("runner.py").display(),
                out.join("manifest.json").display()
            );
            Ok(if refused.is_empty() {
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
            let with_money: Vec<_> = d
                .counts
                .iter()
                .filter_map(|(rule, c)| c.amounts.as_ref().map(|a| (rule, a)))
                .collect();
            if !with_money.is_empty() {
                eprintln!(
                    "{:<40} {:>14} {:>14} {:>14} {:>14} {:>14}",
                    "money (yuan)", "new", "persisting", "resolved", "rectified", "confirmed"
                );
                for (rule, a) in with_money {
                    eprintln!(
                        "{rule:<40} {:>14} {:>14} {:>14} {:>14} {:>14}",
                        a.new, a.persisting, a.resolved, a.rectified, a.confirmed
                    );
                }
            }
            eprintln!("wrote {}", xlsx.display());
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&d.counts).expect("json"));
            }
            Ok(ExitStatus::Ran)
        }
        Command::Test {
            paths,
            engine,
            master,
            config,
        } => test_rules(
            &paths,
            &config.config,
            (engine == EngineArg::Spark).then_some(master.as_str()),
        ),
    }
}

fn test_rules(
    paths: &[PathBuf],
    config: &std::path::Path,
    spark: Option<&str>,
) -> Result<ExitStatus, Error> {
    let run = commands::fixtures::test(paths, config, spark)?;
    for (rule, file) in &run.without_fixtures {
        eprintln!("warning: rule {rule} ({}) has no fixtures", file.display());
    }
    for o in &run.outcomes {
        match &o.failure {
            None => eprintln!("ok     {} :: {}", o.rule_id, o.name),
            Some(why) => eprintln!(
                "FAILED {} :: {} ({}:{})\n       {why}",
                o.rule_id,
                o.name,
                o.file.display(),
                o.line
            ),
        }
    }
    if run.rules == 0 {
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
    let failed = run.failed();
    // The closing line CI tools read.
    println!("{} passed, {failed} failed", run.outcomes.len() - failed);
    Ok(if failed == 0 {
        ExitStatus::Ran
    } else {
        ExitStatus::Error
    })
}

/// `run`, or with `import` (bundle, results) `import-results`.
fn run_job(
    args: RunArgs,
    import: Option<(PathBuf, PathBuf)>,
    bars: &Bars,
) -> Result<ExitStatus, Error> {
    let options = commands::run::RunOptions {
        import,
        config: args.config.config.clone(),
        out: args.out.clone(),
        run_id: args.run_id.clone(),
        rules: args.rules.clone(),
        tags: args.tags.clone(),
        params: args.params.clone(),
        inputs: args.inputs.clone(),
        dispositions: args.dispositions.clone(),
        no_cache: args.no_cache,
        rehash: args.rehash,
        mask: args.mask,
        split_by: args.split_by.clone(),
        lang: match args.lang {
            LangArg::Zh => crate::output::report::Lang::Zh,
            LangArg::En => crate::output::report::Lang::En,
        },
        spark: (args.engine == EngineArg::Spark).then(|| commands::run::SparkRun {
            master: args.master.clone(),
            keep_bundle: args.keep_bundle,
            conf: args.spark_conf.clone(),
            deploy_mode: args.deploy_mode.clone(),
            work: args.spark_work.clone(),
            queue: args.queue.clone(),
            principal: args.principal.clone(),
            keytab: args.keytab.clone(),
        }),
    };
    let outcome = commands::run::run(&options, bars, &|note| eprintln!("{note}"))?;
    let result = &outcome.result;
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
    for (file, leads) in &outcome.teams {
        eprintln!("team   teams/{file:<36} {leads:>5} leads");
    }
    eprintln!(
        "wrote {} (total {} ms, writing {} ms)",
        outcome.dir.display(),
        outcome.total_ms,
        outcome.write_ms
    );
    let threshold_met = outcome.threshold_met(args.fail_on.map(Severity::from));
    if args.format == Format::Json {
        let summary = serde_json::json!({
            "run_id": outcome.run_id,
            "output": outcome.dir.to_string_lossy(),
            "rules": result.outcomes.iter().map(|o| serde_json::json!({
                "id": o.rule.id,
                "severity": o.rule.severity.as_str(),
                "status": if matches!(o.status, RuleStatus::Ok) { "ok" } else { "failed" },
                "leads": o.lead_count(),
            })).collect::<Vec<_>>(),
            "failed_rules": result.failed_rules(),
            "inputs_replaced": outcome.replaced,
            "skipped_rules": outcome.skipped,
            "rule_errors": outcome.diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "threshold_met": threshold_met,
        });
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    }
    let failed = outcome.failed();
    if failed > 0 || outcome.failed_datasets() {
        eprintln!("error: {failed} rule(s) failed; the other rules' leads were written");
        return Ok(ExitStatus::Error);
    }
    Ok(if threshold_met {
        ExitStatus::ThresholdMet
    } else {
        ExitStatus::Ran
    })
}
