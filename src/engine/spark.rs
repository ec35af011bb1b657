//! Running a job on Apache Spark: crosscheck loads and checks the extracts as for a local run
//! (decoding, normalisation, rejections and their accounting stay ours), writes the rows the
//! rules read as Parquet into a bundle with the rules lowered to Spark SQL and a small PySpark
//! runner, submits it with `spark-submit`, and reads the results back into the same lead rows
//! a local run produces.
//!
//! Inputs go to Spark as Parquet rather than as the raw extracts: Spark cannot read xlsx, and
//! decoding and typing in one place is what makes both backends see identical values. A
//! dataset that lives on the cluster (a Hive table, Parquet/ORC by URI) is the exception: the
//! runner reads it there and types it with its copy of the normalisers, which the differential
//! test pins to ours; only its counts and a sample of its rejected rows come back.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use polars::prelude::*;
use serde_json::json;

use super::{
    Backend, DatasetOutcome, Loaded, Phase, Reporter, RuleOutcome, RuleStatus, RunResult,
    leads_from_frame,
};
use crate::error::{Error, Result};
use crate::ingest::{DatasetReport, InputFile, RejectedRow};
use crate::job::Job;
use crate::job::catalog::{ClusterSource, Format, uri_scheme};
use crate::plan::CompiledRule;
use crate::plan::spark::{self, SparkRule};

/// The runner shipped in every bundle; its version is checked against the manifest's.
pub const RUNNER: &str = include_str!("spark_runner.py");
pub const RUNNER_VERSION: u32 = 3;

/// Where and how to submit.
pub struct SparkOptions {
    /// `local[2]`, `spark://host:7077`, `yarn`, …
    pub master: String,
    /// More spark-submit options: `--conf K=V`, `--deploy-mode`, `--queue`, `--principal`,
    /// `--keytab` (checked by the caller).
    pub submit_args: Vec<String>,
    /// The spark-submit executable.
    pub spark_submit: PathBuf,
    /// A folder on the cluster's file system (a URI) for this run: the inputs staged in it,
    /// the results written to its `results/`, fetched back into the bundle, and the folder
    /// removed by the runner. `None`: the cluster reads and writes the bundle itself.
    pub work: Option<String>,
    /// The bundle folder (created; must not hold a bundle already).
    pub bundle: PathBuf,
    /// Keep the bundle (inputs included) after the run.
    pub keep_bundle: bool,
}

/// The spark-submit to use: `$SPARK_SUBMIT`, else `spark-submit` on PATH.
pub fn find_spark_submit() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SPARK_SUBMIT") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("spark-submit"))
            .find(|p| p.is_file())
    })
}

/// A bundle written for a job: which rules are in it, and the rules that could not be lowered.
pub struct Bundle {
    pub dir: PathBuf,
    pub rules: Vec<(CompiledRule, SparkRule)>,
    /// Rules that cannot run on Spark, with why.
    pub refused: Vec<(CompiledRule, String)>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The schema as Spark reads it: `` `name` TYPE, … ``.
fn ddl(schema: &Schema) -> std::result::Result<String, String> {
    schema
        .iter()
        .map(|(n, t)| Ok(format!("{} {}", spark::ident(n), spark::spark_type(t)?)))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map(|v| v.join(", "))
}

/// Writes the bundle: `inputs/<dataset>.parquet`, `manifest.json`, `runner.py`.
pub fn write_bundle(
    job: &Job,
    rules: &[CompiledRule],
    loaded: &Loaded,
    dir: &Path,
    master: Option<&str>,
) -> Result<Bundle> {
    if dir.join("manifest.json").exists() {
        return Err(io(
            dir,
            "already holds a bundle; choose another folder or remove it",
        ));
    }
    crate::private::create_private_dir(dir)?;
    crate::private::create_private_dir(&dir.join("inputs"))?;

    // Every input as the rules see it, and an empty frame of its schema to lower against.
    let mut empty = HashMap::new();
    let mut inputs = Vec::new();
    for d in &loaded.datasets {
        let Some(report) = &d.report else { continue };
        let Some(frame) = loaded.frames.get(&d.name) else {
            continue;
        };
        let path = dir.join("inputs").join(format!("{}.parquet", d.name));
        // Streamed to the file, never collected: an input may be larger than memory. The
        // file is created private first; the sink truncates it and keeps its mode.
        drop(crate::private::create_private_file(&path)?);
        let schema = frame
            .clone()
            .collect_schema()
            .map_err(|e| io(dir, format!("dataset `{}`: {e}", d.name)))?
            .as_ref()
            .clone();
        let parquet = ParquetWriteOptions {
            compression: ParquetCompression::Lz4Raw,
            // Row groups Spark can split the file by.
            row_group_size: Some(1 << 20),
            ..Default::default()
        };
        frame
            .clone()
            .sink(
                SinkDestination::File {
                    target: SinkTarget::Path(PlRefPath::new(path.to_string_lossy().as_ref())),
                },
                FileWriteFormat::Parquet(Arc::new(parquet)),
                UnifiedSinkArgs::default(),
            )
            .and_then(|sink| sink.collect_with_engine(Engine::Streaming))
            .map_err(|e| io(&path, e))?;
        // The rows as written, from the file's footer: the accounting is checked.
        let rows = ParquetReader::new(fs_err::File::open(&path)?.into_parts().0)
            .num_rows()
            .map_err(|e| io(&path, e))?;
        if rows as u64 != report.rows_loaded {
            return Err(Error::Bug(format!(
                "dataset `{}`: {} rows loaded but {rows} written to the bundle",
                d.name, report.rows_loaded
            )));
        }
        inputs.push(json!({
            "dataset": d.name,
            "path": format!("inputs/{}.parquet", d.name),
            "format": "parquet",
            "rows": rows,
            "schema_ddl": ddl(&schema).map_err(|e| io(&path, e))?,
            "schema": schema.iter().map(|(n, t)| json!({"name": n.as_str(), "type": spark::spark_type(t).unwrap_or("?")})).collect::<Vec<_>>(),
            // The extracts these rows were decoded and typed from.
            "sources": report.files.iter().map(|f| serde_json::to_value(f).expect("serialises")).collect::<Vec<_>>(),
        }));
        empty.insert(d.name.clone(), DataFrame::empty_with_schema(&schema).lazy());
    }

    // Datasets on the cluster: read and typed there by the runner, as declared.
    for name in &loaded.on_cluster {
        let (input, frame) = cluster_input(job, name)?;
        inputs.push(input);
        empty.insert(name.clone(), frame.lazy());
    }

    let mut lowered = Vec::new();
    let mut refused = Vec::new();
    let mut manifest_rules = Vec::new();
    for rule in rules {
        if loaded.missing(rule).is_some() {
            continue;
        }
        match spark::refusal(&rule.id, &rule.plan, &empty) {
            Ok(s) => {
                manifest_rules.push(json!({
                    "id": rule.id,
                    "datasets": rule.datasets,
                    "statements": statements_json(&s),
                    "result": s.result,
                    "output": format!("results/{}", rule.id),
                }));
                lowered.push((rule.clone(), s));
            }
            Err(e) => refused.push((rule.clone(), e)),
        }
    }

    let (cum, workday) = crate::calendar::running_counts();
    // One-row views rather than session variables, which Spark 3.5 does not have.
    let setup = vec![
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT CAST(array({}) AS ARRAY<INT>) AS v",
            spark::CALENDAR_CUM,
            cum.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT CAST(array({}) AS ARRAY<BOOLEAN>) AS v",
            spark::CALENDAR_WORKDAY,
            workday
                .iter()
                .map(|w| if *w { "true" } else { "false" })
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    let manifest = json!({
        "format": "crosscheck-spark-bundle",
        "runner_version": RUNNER_VERSION,
        "crosscheck": env!("CARGO_PKG_VERSION"),
        "job": job.name,
        "master": master,
        // ANSI semantics; UTC so that timestamps without a zone convert unchanged; results as
        // Parquet timestamps crosscheck reads exactly.
        "conf": {
            "spark.sql.ansi.enabled": "true",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            // Dates and times before 1582 / 1900 as written (proleptic Gregorian, as chrono
            // and Polars count): Spark 3.5 otherwise refuses a register holding one.
            "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
            "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
            "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
            "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
            "spark.ui.enabled": "false",
        },
        "inputs": inputs,
        "setup": setup,
        // The tables of Chinese names the runner's linkage and `name_fold` / `pinyin` read.
        "names": "names.json",
        "rules": manifest_rules,
    });
    let mpath = dir.join("manifest.json");
    let mut f = crate::private::create_private_file(&mpath)?;
    std::io::Write::write_all(
        &mut f,
        serde_json::to_string_pretty(&manifest)
            .expect("serialises")
            .as_bytes(),
    )
    .map_err(|e| io(&mpath, e))?;
    let rpath = dir.join("runner.py");
    let mut f = crate::private::create_private_file(&rpath)?;
    std::io::Write::write_all(&mut f, RUNNER.as_bytes()).map_err(|e| io(&rpath, e))?;
    let npath = dir.join("names.json");
    let mut f = crate::private::create_private_file(&npath)?;
    std::io::Write::write_all(&mut f, crate::plan::link::names::tables().as_bytes())
        .map_err(|e| io(&npath, e))?;
    Ok(Bundle {
        dir: dir.to_path_buf(),
        rules: lowered,
        refused,
    })
}

/// The manifest's entry for a dataset living on the cluster (where it is, its columns as
/// declared, the schema its typed rows take), and an empty frame of that schema.
fn cluster_input(job: &Job, name: &str) -> Result<(serde_json::Value, DataFrame)> {
    let catalog = &job.catalog;
    let spec = &catalog.datasets[name];
    let source = catalog
        .cluster(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` is not on a cluster")))?;
    let frame = crate::ingest::empty_frame(catalog, name)?;
    let schema = frame.schema().as_ref().clone();
    let where_ = match &source {
        ClusterSource::Table(t) => json!({ "table": t }),
        ClusterSource::Files { uri, format } => json!({
            "uri": uri,
            "format": if *format == Format::Orc { "orc" } else { "parquet" },
        }),
    };
    let input = json!({
        "dataset": name,
        "cluster": where_,
        "shown": source.shown(),
        "row": spec.row,
        "columns": spec.columns.iter().map(|(c, cs)| json!({
            "name": c,
            "type": cs.ty,
            "scale": cs.decimal_scale(),
            "required": cs.required,
            "optional": cs.optional,
            "aliases": cs.aliases,
        })).collect::<Vec<_>>(),
        "schema_ddl": ddl(&schema).map_err(|e| io(&catalog.path, e))?,
        "schema": schema.iter().map(|(n, t)| json!({"name": n.as_str(), "type": spark::spark_type(t).unwrap_or("?")})).collect::<Vec<_>>(),
    });
    Ok((input, frame))
}

/// What the runner says of a dataset it read on the cluster: its accounting and a sample of
/// its rejected rows, or why it could not be read.
fn cluster_outcome(
    job: &Job,
    name: &str,
    st: &serde_json::Value,
) -> std::result::Result<(DatasetReport, Vec<RejectedRow>), String> {
    if st.is_null() {
        return Err("the Spark runner reported nothing for it (a bug in crosscheck)".into());
    }
    if let Some(e) = st["error"].as_str() {
        return Err(e.to_string());
    }
    let shown = job
        .catalog
        .cluster(name)
        .map(|s| s.shown())
        .unwrap_or_default();
    let count = |k: &str| {
        st[k]
            .as_u64()
            .ok_or_else(|| format!("the Spark runner's `{k}` for it does not read"))
    };
    let id_quality = serde_json::from_value(st["id_quality"].clone())
        .map_err(|e| format!("the Spark runner's ID quality for it does not read: {e}"))?;
    let columns: Vec<Option<String>> =
        serde_json::from_value(st["columns"].clone()).unwrap_or_default();
    let personal_cols = job.catalog.personal(name);
    let spec = &job.catalog.datasets[name];
    // What each cell of a rejected row holds, by the catalog column it was read for.
    let personal: Vec<_> = columns
        .iter()
        .map(|c| {
            let c = c.as_deref()?;
            personal_cols.iter().find(|(n, _)| n == c).map(|(_, p)| *p)
        })
        .collect();
    let rejected = st["rejected"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| RejectedRow {
            file: shown.clone(),
            sheet: None,
            row: r["row"].as_u64().unwrap_or_default(),
            reason: r["reason"].as_str().unwrap_or_default().to_string(),
            content: r["content"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or_default().to_string())
                .collect(),
            personal: personal.clone(),
        })
        .collect();
    let rows_read = count("rows_read")?;
    let report = DatasetReport {
        name: name.to_string(),
        title: spec.title.clone(),
        files: vec![InputFile {
            path: shown,
            // A table has no file to hash: Spark reads it where it lies.
            sha256: String::new(),
            bytes: 0,
            sheet: None,
            encoding: None,
            rows_read,
            cached: None,
            sha256_recalled: false,
            cache_rebuilt: None,
        }],
        rows_read,
        rows_loaded: count("rows_loaded")?,
        rows_rejected: count("rows_rejected")?,
        id_quality,
        columns_loaded: Vec::new(),
        bytes_loaded: 0,
    };
    Ok((report, rejected))
}

/// Turns the results of a bundle submitted by hand (`compile --target spark`, then
/// `spark-submit … runner.py manifest.json RESULTS`) into a run, as `run --engine spark` would
/// have: the job's datasets are loaded here again (from the cache), checked to be the files the
/// bundle was made from, and every rule lowered again and checked to be the statements the
/// bundle ran — results of other rules, parameters or extracts are refused, never mixed in.
pub fn import(
    job: &Job,
    rules: &[CompiledRule],
    bundle: &Path,
    results: &Path,
    reporter: &dyn Reporter,
) -> Result<RunResult> {
    let mpath = bundle.join("manifest.json");
    let manifest: serde_json::Value = fs_err::read_to_string(&mpath)
        .map_err(|e| io(&mpath, e))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| io(&mpath, e)))?;
    if manifest["format"] != "crosscheck-spark-bundle" {
        return Err(io(
            &mpath,
            "not a crosscheck bundle (compile --target spark writes one)",
        ));
    }
    if manifest["runner_version"] != RUNNER_VERSION {
        return Err(io(
            &mpath,
            format!(
                "written for runner version {}, this crosscheck reads version {RUNNER_VERSION}: \
                 compile the bundle again",
                manifest["runner_version"]
            ),
        ));
    }
    let results = &local_results(results)?;
    if !results.join("status.json").is_file() {
        return Err(io(
            results,
            format!(
                "no results here (status.json): run `spark-submit --master URL {} {} {}` first",
                bundle.join("runner.py").display(),
                mpath.display(),
                results.display()
            ),
        ));
    }
    let loaded = super::load(job, rules, reporter, true);
    // The extracts: the ones the bundle was made from, by their SHA-256.
    let hashes = |files: &serde_json::Value| -> Vec<String> {
        files
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["sha256"].as_str().map(str::to_string))
            .collect()
    };
    for input in manifest["inputs"].as_array().into_iter().flatten() {
        let name = input["dataset"].as_str().unwrap_or_default();
        let Some(report) = loaded
            .datasets
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.report.as_ref())
        else {
            continue;
        };
        let now = hashes(&serde_json::to_value(&report.files).expect("serialises"));
        if now != hashes(&input["sources"]) {
            return Err(io(
                bundle,
                format!(
                    "dataset `{name}`: the bundle was made from other files than the job reads \
                     now (SHA-256 differ): its results are not these extracts' leads; compile \
                     and submit again"
                ),
            ));
        }
    }
    // The rules: lowered now, statement for statement the bundle's.
    let mut empty = empty_inputs(&loaded, bundle)?;
    for name in &loaded.on_cluster {
        empty.insert(name.clone(), cluster_input(job, name)?.1.lazy());
    }
    let mut lowered = Vec::new();
    let mut refused = Vec::new();
    for rule in rules {
        if loaded.missing(rule).is_some() {
            continue;
        }
        match spark::refusal(&rule.id, &rule.plan, &empty) {
            Ok(s) => {
                let ran = manifest["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["id"] == rule.id.as_str());
                if ran.is_none_or(|r| r["statements"] != statements_json(&s)) {
                    return Err(io(
                        bundle,
                        format!(
                            "rule `{}`: the bundle ran {} than the job's rule now (its file or \
                             parameters changed since): compile and submit again, or select \
                             the rules it ran with --rules",
                            rule.id,
                            if ran.is_some() {
                                "other statements"
                            } else {
                                "no such rule, rather"
                            }
                        ),
                    ));
                }
                lowered.push((rule.clone(), s));
            }
            Err(e) => refused.push((rule.clone(), e)),
        }
    }
    reporter.start(Phase::Rules, rules.len() as u64);
    let master = manifest["master"]
        .as_str()
        .unwrap_or("submitted by hand")
        .to_string();
    collect(
        job, rules, loaded, &lowered, &refused, results, master, reporter,
    )
}

/// An empty frame of each loaded dataset's schema, to lower rules against.
fn empty_inputs(loaded: &super::Loaded, dir: &Path) -> Result<HashMap<String, LazyFrame>> {
    let mut empty = HashMap::new();
    for d in &loaded.datasets {
        let Some(frame) = loaded.frames.get(&d.name) else {
            continue;
        };
        let schema = frame
            .clone()
            .collect_schema()
            .map_err(|e| io(dir, format!("dataset `{}`: {e}", d.name)))?;
        empty.insert(d.name.clone(), DataFrame::empty_with_schema(&schema).lazy());
    }
    Ok(empty)
}

/// A rule's statements as the bundle's manifest lists them.
fn statements_json(s: &SparkRule) -> serde_json::Value {
    json!(
        s.statements
            .iter()
            .map(|st| {
                let mut v = json!({"name": st.name, "sql": st.sql});
                match st.role {
                    spark::Role::View => v["role"] = json!("view"),
                    spark::Role::Guard { max_pairs } => {
                        v["role"] = json!("guard");
                        v["max_pairs"] = json!(max_pairs);
                    }
                    spark::Role::Link { ref spec } => {
                        v["role"] = json!("link");
                        v["link"] = spec.clone();
                    }
                }
                v
            })
            .collect::<Vec<_>>()
    )
}

/// Reads one rule's result from Spark's Parquet folder, cast to the types a local run gives.
fn read_result(dir: &Path, schema: &Schema) -> std::result::Result<DataFrame, String> {
    let mut parts: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    let mut out = DataFrame::empty_with_schema(schema);
    for p in parts {
        let file = fs_err::File::open(&p).map_err(|e| e.to_string())?;
        let df = ParquetReader::new(file.into_parts().0)
            .finish()
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let cols = schema
            .iter()
            .map(|(n, t)| {
                df.column(n)
                    .and_then(|c| c.cast(t))
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        out.vstack_mut_owned(DataFrame::new(df.height(), cols).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

enum Stopped {
    Start(std::io::Error),
    Wait(std::io::Error),
    /// SIGTERM or SIGINT reached crosscheck while the job ran: the job was ended too.
    Signal(i32),
}

/// Runs `cmd` in a process group of its own until it exits, or until crosscheck is asked to
/// stop (SIGTERM, SIGINT): then the whole group — spark-submit and the JVM it started — is
/// ended too, rather than left running on the cluster or the machine.
fn run_stoppable(cmd: &mut Command) -> std::result::Result<std::process::ExitStatus, Stopped> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let signals = stop_signals::Watch::install();
    let mut child = cmd.spawn().map_err(Stopped::Start)?;
    loop {
        if let Some(status) = child.try_wait().map_err(Stopped::Wait)? {
            return Ok(status);
        }
        if let Some(sig) = signals.received() {
            stop_signals::end_group(&mut child);
            return Err(Stopped::Signal(sig));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// SIGTERM and SIGINT, caught while a Spark job runs (the default action would end crosscheck
/// and leave the job running).
mod stop_signals {
    use std::sync::atomic::{AtomicI32, Ordering};

    static RECEIVED: AtomicI32 = AtomicI32::new(0);

    pub struct Watch {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        previous: [libc::sighandler_t; 2],
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    extern "C" fn note(sig: libc::c_int) {
        RECEIVED.store(sig, Ordering::SeqCst);
    }

    impl Watch {
        pub fn install() -> Watch {
            RECEIVED.store(0, Ordering::SeqCst);
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            {
                // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
                let handler = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
                let previous = unsafe {
                    [
                        libc::signal(libc::SIGTERM, handler),
                        libc::signal(libc::SIGINT, handler),
                    ]
                };
                Watch { previous }
            }
            #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
            Watch {}
        }

        pub fn received(&self) -> Option<i32> {
            match RECEIVED.load(Ordering::SeqCst) {
                0 => None,
                sig => Some(sig),
            }
        }
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: puts back the handlers `install` replaced.
            unsafe {
                libc::signal(libc::SIGTERM, self.previous[0]);
                libc::signal(libc::SIGINT, self.previous[1]);
            }
        }
    }

    /// Ends the child's process group: SIGTERM, then SIGKILL after five seconds.
    pub fn end_group(child: &mut std::process::Child) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            let group = child.id() as libc::pid_t;
            // SAFETY: signals the group the child leads (`process_group(0)`).
            unsafe { libc::kill(-group, libc::SIGTERM) };
            for _ in 0..50 {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            // SAFETY: as above; the JVM may outlive its launcher.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A master spark-submit can run the bundle on, checked before anything is loaded: `local`,
/// `local[N]`, `local[*]`, `local[N,F]`, `spark://host:port[,host:port]`, `yarn`,
/// `k8s://https://…`. Spark Connect (`sc://`) runs no Python bundle, and anything else would
/// fail only after the extracts were read.
pub fn check_master(master: &str) -> std::result::Result<(), String> {
    let threads = |t: &str| t == "*" || t.parse::<u32>().is_ok_and(|n| n > 0);
    let ok = match master {
        "local" | "yarn" => true,
        m if m.starts_with("local[") && m.ends_with(']') => {
            let inner = &m[6..m.len() - 1];
            match inner.split_once(',') {
                Some((t, f)) => threads(t) && f.parse::<u32>().is_ok(),
                None => threads(inner),
            }
        }
        m if m.starts_with("spark://") => m[8..].split(',').all(|hp| {
            hp.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
        }),
        m if m.starts_with("k8s://") => m.len() > 6,
        _ => false,
    };
    if ok {
        Ok(())
    } else if master.starts_with("sc://") {
        Err(format!(
            "--master {master}: Spark Connect is not supported (the bundle is a Python \
             application for spark-submit); give the cluster's master URL: spark://host:7077, \
             yarn or k8s://…"
        ))
    } else {
        Err(format!(
            "--master {master} is not a Spark master; use local[2], local[*], \
             spark://host:7077, yarn or k8s://https://host:443"
        ))
    }
}

/// A cluster work folder must be a URI: a plain path would mean the driver's disk to Python
/// and the cluster's default file system to Spark.
pub fn check_work(work: &str) -> std::result::Result<(), String> {
    match uri_scheme(work) {
        Some(_) if !work.contains(['\n', '\r']) => Ok(()),
        _ => Err(format!(
            "--spark-work {work}: give a URI on the cluster's file system, e.g. \
             hdfs:///user/audit/crosscheck, s3a://bucket/crosscheck or file:///shared/crosscheck"
        )),
    }
}

/// Where results named by `results` are on this machine: a path, or a `file:` URI's path.
/// Results on another file system must be copied here first.
fn local_results(results: &Path) -> Result<PathBuf> {
    let text = results.to_string_lossy();
    match uri_scheme(&text) {
        None => Ok(results.to_path_buf()),
        Some(s) if s.eq_ignore_ascii_case("file") => {
            let rest = &text[5..];
            // file:///a, file://localhost/a, file:/a
            let path = match rest.strip_prefix("//") {
                Some(r) => r.strip_prefix("localhost").unwrap_or(r),
                None => rest,
            };
            if !path.starts_with('/') {
                return Err(io(
                    results,
                    "a file: URI names an absolute path (file:///…)",
                ));
            }
            // Hadoop writes a space as %20 (and % as %25): the bytes, then the path.
            let b = path.as_bytes();
            let mut bytes = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                let hex = |c: u8| (c as char).to_digit(16);
                if b[i] == b'%' {
                    match (
                        b.get(i + 1).and_then(|c| hex(*c)),
                        b.get(i + 2).and_then(|c| hex(*c)),
                    ) {
                        (Some(h), Some(l)) => {
                            bytes.push((h * 16 + l) as u8);
                            i += 3;
                            continue;
                        }
                        _ => {
                            return Err(io(
                                results,
                                "a `%` in a URI starts an escape of two hex digits (%20 for a space)",
                            ));
                        }
                    }
                }
                bytes.push(b[i]);
                i += 1;
            }
            String::from_utf8(bytes).map(PathBuf::from).map_err(|_| {
                io(
                    results,
                    "the URI's escapes are not UTF-8 text: give the folder as a path",
                )
            })
        }
        Some(_) => Err(io(
            results,
            "crosscheck reads results from this machine's disk: copy them here first (e.g. \
             `hdfs dfs -get URI DIR`), or submit with `--fetch DIR` after the results URI so the \
             driver brings them back",
        )),
    }
}

/// The line of a Spark log that says why the job failed: the first exception or error raised
/// (Python's `…Error:` / `…Exception:` lines, Java's `Exception in thread`), not the stack
/// frames around it.
fn failure_cause(log: &str) -> Option<&str> {
    log.lines().map(str::trim).find(|l| {
        l.starts_with("Exception in thread")
            || l.starts_with("pyspark.errors")
            || l.split_once(": ").is_some_and(|(head, _)| {
                !head.contains(' ') && (head.ends_with("Exception") || head.ends_with("Error"))
            })
    })
}

/// spark-submit with its master and options, the runner's arguments to follow.
pub fn submit_command(spark_submit: &Path, master: &str, submit_args: &[String]) -> Command {
    // pip's spark-submit finds Spark through the `python` beside it: put its folder first.
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = spark_submit.parent().filter(|b| !b.as_os_str().is_empty()) {
        let dirs = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).unwrap_or(path);
    }
    // Through sh for `umask 077`: what Spark writes (the results) is readable by the owner only.
    let mut cmd = Command::new("/bin/sh");
    cmd.env("PATH", path)
        .args(["-c", "umask 077 && exec \"$0\" \"$@\""])
        .arg(spark_submit)
        .arg("--master")
        .arg(master)
        .args(submit_args);
    cmd
}

/// Submits a prepared command and waits, stopping Spark on SIGTERM / SIGINT; on failure, the
/// error carries the cause Spark's log gives and the log's last lines.
pub(crate) fn submit_and_wait(
    cmd: &mut Command,
    spark_submit: &Path,
    master: &str,
    log_path: &Path,
) -> Result<()> {
    let status = run_stoppable(cmd).map_err(|e| match e {
        Stopped::Start(e) => io(
            spark_submit,
            format!("cannot start spark-submit: {e}; install Spark (pip install pyspark) or set SPARK_SUBMIT"),
        ),
        Stopped::Wait(e) => io(spark_submit, format!("lost the Spark job: {e}")),
        Stopped::Signal(sig) => io(
            spark_submit,
            format!("interrupted (signal {sig}): the Spark job was stopped"),
        ),
    })?;
    if status.success() {
        return Ok(());
    }
    let text = fs_err::read_to_string(log_path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let cause = failure_cause(&text)
        .map(|c| format!("\ncause: {c}"))
        .unwrap_or_default();
    Err(io(
        spark_submit,
        format!(
            "spark-submit --master {master} failed ({status}){cause}\nlast lines of its log:\n{}",
            tail.join("\n")
        ),
    ))
}

/// Runs the rules on Spark: load here, submit the bundle, read the leads back.
pub fn run(
    job: &Job,
    rules: &[CompiledRule],
    opts: &SparkOptions,
    reporter: &dyn Reporter,
) -> Result<RunResult> {
    let loaded = super::load(job, rules, reporter, true);
    let t1 = Instant::now();
    let bundle = write_bundle(job, rules, &loaded, &opts.bundle, Some(&opts.master))?;
    reporter.start(Phase::Rules, rules.len() as u64);
    let log_path = opts.bundle.join("spark.log");
    let log = crate::private::create_private_file(&log_path)?;
    let mut cmd = submit_command(&opts.spark_submit, &opts.master, &opts.submit_args);
    cmd.arg(opts.bundle.join("runner.py"))
        .arg(opts.bundle.join("manifest.json"));
    if let Some(work) = &opts.work {
        cmd.arg(format!("{work}/results"))
            .args(["--stage".to_string(), work.clone()])
            .arg("--fetch")
            .arg(opts.bundle.join("results"));
    }
    cmd.stdout(log.try_clone().map_err(|e| io(&log_path, e))?)
        .stderr(log);
    let status = run_stoppable(&mut cmd).map_err(|e| match e {
        Stopped::Start(e) => io(
            &opts.spark_submit,
            format!("cannot start spark-submit: {e}; install Spark (pip install pyspark) or set SPARK_SUBMIT"),
        ),
        Stopped::Wait(e) => io(&opts.spark_submit, format!("lost the Spark job: {e}")),
        Stopped::Signal(sig) => {
            // The driver was stopped before its own cleanup: the copy it staged on the
            // cluster is removed from here, through the cluster's file system.
            let staged = opts.work.as_ref().map(|work| remove_staged(opts, work, &log_path));
            if !opts.keep_bundle {
                let _ = std::fs::remove_dir_all(&opts.bundle);
            }
            let staged = match staged {
                None => String::new(),
                Some(Ok(())) => ", its copy on the cluster removed".to_string(),
                Some(Err(why)) => format!(
                    "; its copy on the cluster could not be removed ({why}): remove {} by hand",
                    opts.work.as_deref().unwrap_or_default()
                ),
            };
            io(
                &opts.spark_submit,
                format!("interrupted (signal {sig}): the Spark job was stopped and its bundle removed{staged}; nothing was written"),
            )
        }
    })?;
    let status_path = opts.bundle.join("results").join("status.json");
    if !status.success() || !status_path.exists() {
        let text = fs_err::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let cause = failure_cause(&text)
            .map(|c| format!("\ncause: {c}"))
            .unwrap_or_default();
        // The bundle holds copies of the extracts: removed unless asked for.
        let kept = if opts.keep_bundle {
            format!(
                "the bundle and its log are kept in {}",
                opts.bundle.display()
            )
        } else {
            let _ = std::fs::remove_dir_all(&opts.bundle);
            "the bundle (copies of the data) was removed; run again with --keep-bundle to keep \
             it and Spark's whole log"
                .to_string()
        };
        return Err(io(
            &opts.spark_submit,
            format!(
                "spark-submit --master {} failed ({status}){cause}\n{kept}; last lines of its log:\n{}",
                opts.master,
                tail.join("\n")
            ),
        ));
    }
    let result = collect(
        job,
        rules,
        loaded,
        &bundle.rules,
        &bundle.refused,
        &opts.bundle.join("results"),
        opts.master.clone(),
        reporter,
    );
    if !opts.keep_bundle {
        // The inputs are copies of personal data: not left behind.
        let _ = fs_err::remove_dir_all(&opts.bundle);
    }
    let mut result = result?;
    result.rules_ms = t1.elapsed().as_millis();
    Ok(result)
}

/// Removes a run's folder on the cluster (`runner.py --remove`) with a driver of its own on
/// this machine: the site's options (Kerberos, Hadoop settings) reach the file system, no
/// executor is asked for.
fn remove_staged(
    opts: &SparkOptions,
    work: &str,
    log_path: &Path,
) -> std::result::Result<(), String> {
    let log = fs_err::OpenOptions::new()
        .append(true)
        .open(log_path)
        .map_err(|e| e.to_string())?;
    let mut cmd = submit_command(&opts.spark_submit, "local[1]", &opts.submit_args);
    cmd.arg(opts.bundle.join("runner.py"))
        .args(["--remove", work])
        .stdout(log.try_clone().map_err(|e| e.to_string())?.into_parts().0)
        .stderr(log.into_parts().0);
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("spark-submit {s}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The run's result from a Spark run's `results/` folder: `status.json` and each rule's
/// Parquet, for the rules as lowered now (`lowered`, `refused`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn collect(
    job: &Job,
    rules: &[CompiledRule],
    mut loaded: super::Loaded,
    lowered: &[(CompiledRule, SparkRule)],
    refused: &[(CompiledRule, String)],
    results: &Path,
    master: String,
    reporter: &dyn Reporter,
) -> Result<RunResult> {
    let t1 = Instant::now();
    let status_path = results.join("status.json");
    let spark_status: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(&status_path).map_err(|e| io(&status_path, e))?,
    )
    .map_err(|e| io(&status_path, e))?;

    // The datasets Spark read on the cluster: their accounting, or why their rules fail.
    for name in std::mem::take(&mut loaded.on_cluster) {
        let outcome = cluster_outcome(job, &name, &spark_status["inputs"][&name]);
        loaded.datasets.push(match outcome {
            Ok((report, rejected)) => {
                loaded.rows.insert(name.clone(), report.rows_loaded);
                DatasetOutcome {
                    name,
                    report: Some(report),
                    rejected,
                    error: None,
                }
            }
            Err(e) => {
                loaded.failed.insert(name.clone(), e.clone());
                DatasetOutcome {
                    name,
                    report: None,
                    rejected: Vec::new(),
                    error: Some(e),
                }
            }
        });
    }
    loaded.datasets.sort_by(|a, b| a.name.cmp(&b.name));

    let lowered: HashMap<&str, &SparkRule> =
        lowered.iter().map(|(r, s)| (r.id.as_str(), s)).collect();
    let refused: HashMap<&str, &String> = refused.iter().map(|(r, e)| (r.id.as_str(), e)).collect();
    let mut outcomes = Vec::new();
    for rule in rules {
        let st = &spark_status["rules"][&rule.id];
        let result = if let Some(e) = loaded.missing(rule) {
            Err(e)
        } else if let Some(e) = refused.get(rule.id.as_str()) {
            Err(format!("rule `{}` cannot run on Spark: {e}", rule.id))
        } else {
            // What a `link` estimated, for the manifest and the weights sheet; nothing when
            // the rule did not run.
            let estimated = match st.get("link").filter(|v| !v.is_null()) {
                Some(est) => Some(serde_json::from_value(est.clone()).map_err(|e| {
                    Error::Bug(format!(
                        "rule `{}`: the Spark runner's link estimates do not read: {e}",
                        rule.id
                    ))
                })?),
                None => None,
            };
            rule.plan.set_link_estimates(estimated);
            match st["status"].as_str() {
                Some("ok") => {
                    read_result(&results.join(&rule.id), &lowered[rule.id.as_str()].schema)
                        .and_then(|df| leads_from_frame(rule, &df, &job.lead_key))
                }
                Some("guard") => Err(format!(
                    "rule `{}` failed while running: the key {} would form {} pairs, more than max_pairs = {}; narrow `on` or the `where` filters, or raise `max_pairs` if this is expected",
                    rule.id,
                    st["key"]
                        .as_array()
                        .map(|k| k
                            .iter()
                            .map(|v| v
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()))
                            .collect::<Vec<_>>()
                            .join("|"))
                        .unwrap_or_default(),
                    st["pairs"].as_f64().unwrap_or(0.0) as u64,
                    st["max_pairs"]
                )),
                Some(_) => Err(format!(
                    "rule `{}` failed on Spark: {}",
                    rule.id,
                    st["error"].as_str().unwrap_or("no reason given")
                )),
                None => Err(format!(
                    "rule `{}`: the Spark runner reported nothing for it (a bug in crosscheck)",
                    rule.id
                )),
            }
        };
        reporter.advance(Phase::Rules, &rule.id);
        let (status, rows) = match result {
            Ok(rows) => (RuleStatus::Ok, rows),
            Err(e) => (RuleStatus::Failed(e), Vec::new()),
        };
        let elapsed_ms = st["elapsed_ms"].as_u64().unwrap_or(0) as u128;
        outcomes.push(RuleOutcome {
            rule: rule.clone(),
            status,
            rows,
            elapsed_ms,
            dispositions: BTreeMap::new(),
            suppressed: Vec::new(),
        });
    }
    reporter.finish(Phase::Rules);
    outcomes.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
    Ok(RunResult {
        backend: Backend::Spark {
            master,
            spark_version: spark_status["spark_version"]
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
            runner_version: RUNNER_VERSION,
        },
        started_at: loaded.started_at,
        datasets: loaded.datasets,
        outcomes,
        load_ms: loaded.load_ms,
        rules_ms: t1.elapsed().as_millis(),
    })
}

#[cfg(test)]
mod master_tests {
    use super::{check_master, check_work, failure_cause, local_results};
    use std::path::{Path, PathBuf};

    #[test]
    fn work_folders_are_uris_and_results_are_read_from_this_disk() {
        for ok in [
            "hdfs:///user/audit/crosscheck",
            "hdfs://nn:8020/a",
            "s3a://bucket/x",
            "file:///shared/x",
        ] {
            assert_eq!(check_work(ok), Ok(()), "{ok}");
        }
        for bad in ["/tmp/work", "work", "C:/work", ""] {
            let e = check_work(bad).unwrap_err();
            assert!(e.contains("give a URI"), "{bad}: {e}");
        }
        let local = |s: &str| local_results(Path::new(s)).ok();
        assert_eq!(local("/r/results"), Some(PathBuf::from("/r/results")));
        assert_eq!(local("rel/results"), Some(PathBuf::from("rel/results")));
        assert_eq!(
            local("file:///r/results"),
            Some(PathBuf::from("/r/results"))
        );
        assert_eq!(local("file://localhost/r"), Some(PathBuf::from("/r")));
        assert_eq!(local("file:/r"), Some(PathBuf::from("/r")));
        assert_eq!(local("file:r"), None);
        // Escapes as Hadoop writes them: a space, a percent sign, Chinese in UTF-8.
        assert_eq!(
            local("file:///r/%E5%AE%A1%E8%AE%A1%20results%25"),
            Some(PathBuf::from("/r/审计 results%"))
        );
        assert_eq!(local("file:///r/%2"), None);
        assert_eq!(local("file:///r/%zz"), None);
        let e = local_results(Path::new("hdfs:///r"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("copy them here first"), "{e}");
    }

    #[test]
    fn masters_spark_submit_takes_and_those_it_does_not() {
        for ok in [
            "local",
            "local[2]",
            "local[*]",
            "local[4,3]",
            "yarn",
            "spark://10.0.0.5:7077",
            "spark://a:7077,b:7077",
            "k8s://https://k8s.example:443",
        ] {
            assert_eq!(check_master(ok), Ok(()), "{ok}");
        }
        for bad in [
            "local[two]",
            "local[0]",
            "local[2",
            "spark://host",
            "spark://:7077",
            "",
            "yarn-cluster",
        ] {
            let e = check_master(bad).unwrap_err();
            assert!(e.contains("is not a Spark master"), "{bad}: {e}");
        }
        let e = check_master("sc://host:15002").unwrap_err();
        assert!(e.contains("Spark Connect is not supported"), "{e}");
    }

    #[test]
    fn the_cause_of_a_failure_is_the_exception_not_the_frames() {
        let log = "26/12/07 INFO SparkContext: Running Spark version 4.0\n\
                   Traceback (most recent call last):\n  File \"runner.py\", line 12, in <module>\n\
                   pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does not exist\n\
                   \tat org.apache.spark.sql.Dataset.ofRows(Dataset.scala:91)\n";
        assert_eq!(
            failure_cause(log),
            Some(
                "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does not exist"
            )
        );
        let java = "Exception in thread \"main\" org.apache.spark.SparkException: Master must either be yarn or start with spark, k8s, or local\n\tat x";
        assert!(
            failure_cause(java)
                .unwrap()
                .starts_with("Exception in thread")
        );
        assert_eq!(failure_cause("all fine\nINFO done"), None);
    }
}
