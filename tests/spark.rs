//! The Spark backend against the Polars one, on real Apache Spark in local mode: every bundled
//! rule over the sample city gives the same leads, byte for byte, and rules that fail (a guard,
//! a date outside the calendar) fail on both. These tests are ignored by a plain `cargo test`
//! (which says so for each: a machine with the Rust toolchain alone passes); `.ci/run` installs
//! pyspark, sets SPARK_SUBMIT and runs them with `--include-ignored`, where a missing Spark
//! fails them.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use polars::prelude::{ParquetReader, SerReader};

/// Stops with what to do when no spark-submit is found (the binary looks the same way).
fn require_spark() {
    assert!(
        crosscheck::engine::spark::find_spark_submit().is_some(),
        "these tests need Apache Spark: run `bash .ci/run`, which installs pyspark, or set \
         SPARK_SUBMIT to a spark-submit (Java 17 on PATH)"
    );
}

/// Two rules that must fail on either backend, beside the bundled ones.
const FAILING: &[(&str, &str)] = &[
    (
        "rotating_guarded.yaml",
        r#"id: zz_rotating_guarded
title: 转圈粮（配对上限 0）/ Rotating grain, no pair allowed
description: 不允许任何配对；样本城市有配对，规则应报错。/ No pair allowed.
severity: low
time_window:
  left: { dataset: weighbridge_tickets, where: "direction = '销售出库'" }
  right: { dataset: weighbridge_tickets, where: "direction = '收购入库'" }
  on: "l.plate = r.plate"
  left_time: l.weighed_at
  right_time: r.weighed_at
  within: { hours: 72 }
  order: after
  max_pairs: 0
"#,
    ),
    (
        "before_calendar.yaml",
        r#"id: zz_before_calendar
title: 日历之外的日期 / A date before the calendar
description: 2015 年以前的参保日期不在工作日日历内，规则应报错。/ Enrolments before 2015 are outside the calendar.
severity: low
row_check:
  sources: [{ dataset: pension_enrolment }]
  condition: "is_workday(enrolled_on)"
  key: [id_card]
"#,
    ),
    (
        "link_guarded.yaml",
        r#"id: zz_link_guarded
title: 低保户主查重（配对上限 0）/ Dibao heads twice, no pair allowed
description: 有户主出生日期相同，规则应报错。/ Some heads share a birth date.
severity: low
link:
  left: { dataset: rural_dibao_heads }
  id: household_no
  blocking: ["l.birth_date = r.birth_date"]
  compare:
    - { field: name, as: chinese_name, column: head_name }
  max_pairs: 0
"#,
    ),
    (
        "link_by_name.yaml",
        r#"id: zz_link_by_name
title: 以姓名为记录标识 / Records named by their names
description: 同名户主使一个标识指两条记录，规则应报错。/ Namesakes make one id name two records.
severity: low
link:
  left: { dataset: rural_dibao_heads }
  id: head_name
  blocking: ["l.birth_date = r.birth_date"]
  compare:
    - { field: birth, as: date, column: birth_date }
"#,
    ),
];

/// A job over the sample city: the bundled rules and `extra` rule files (name, YAML).
fn job_with_extra_rules(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let folder = dir.join("extra");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text) in extra {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let job = dir.join("audit.yaml");
    std::fs::write(
        &job,
        format!(
            "name: spark\ncatalog: {}\nrules: [{}, {}]\noutput: {}\nas_of: 2025-06-30\n",
            repo().join("sample_data/datasets.yaml").display(),
            repo().join("rules").display(),
            folder.display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    job
}

fn rule_status(manifest: &serde_json::Value) -> Vec<(String, String, usize)> {
    manifest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["leads"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn every_bundled_rule_gives_the_same_leads_on_spark_as_on_polars() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_extra_rules(dir.path(), FAILING);

    let local = run_job(&job, "polars", &[]);
    assert_eq!(local.status.code(), Some(2), "{}", stderr(&local));
    let spark = run_job(
        &job,
        "spark",
        &["--engine", "spark", "--master", "local[2]"],
    );
    // A failed rule is never a success, on Spark either.
    assert_eq!(spark.status.code(), Some(2), "{}", stderr(&spark));

    let out = dir.path().join("out");
    let (a, b) = (
        std::fs::read(out.join("polars/anomalies.csv")).unwrap(),
        std::fs::read(out.join("spark/anomalies.csv")).unwrap(),
    );
    assert!(
        a == b,
        "anomalies.csv differs between Polars and Spark:\n--- polars\n{}\n--- spark\n{}",
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b)
    );
    // The whole list is the planted one: 38 rules, 34 with their leads, the 4 failing ones.
    let (ml, ms) = (
        manifest_of(&out.join("polars")),
        manifest_of(&out.join("spark")),
    );
    let (sl, ss) = (rule_status(&ml), rule_status(&ms));
    assert_eq!(sl, ss);
    assert_eq!(sl.len(), 38);
    let failed: Vec<&str> = ss
        .iter()
        .filter(|(_, s, _)| s == "failed")
        .map(|(id, _, _)| id.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "zz_before_calendar",
            "zz_link_by_name",
            "zz_link_guarded",
            "zz_rotating_guarded"
        ]
    );
    assert_eq!(
        ms["totals"]["leads"], ml["totals"]["leads"],
        "lead totals agree"
    );
    let truth: samplecity::GroundTruth = serde_json::from_slice(
        &std::fs::read(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ml["totals"]["leads"],
        truth.leads.values().map(Vec::len).sum::<usize>(),
        "the sample city's planted leads"
    );

    // The failures say what and where, as a local run does.
    let error_in = |m: &serde_json::Value, id: &str| -> String {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let error = |id: &str| error_in(&ms, id);
    let guard = error("zz_rotating_guarded");
    assert!(
        guard.contains("pairs, more than max_pairs = 0"),
        "guard: {guard}"
    );
    // A `link` stopped by its guard, or by an `id` two records share, says the same on both
    // (the records named by file and row, never by the value).
    for (id, says) in [
        (
            "zz_link_guarded",
            "blocking rule 1 (`l.birth_date = r.birth_date`): one key would form 1 pairs, more than max_pairs = 0",
        ),
        (
            "zz_link_by_name",
            "`id` (l.head_name) names two records, rural_dibao_heads.csv row 18 and rural_dibao_heads.csv row 73",
        ),
    ] {
        let (on_spark, here) = (error(id), error_in(&ml, id));
        assert!(on_spark.contains(says), "{id} on Spark: {on_spark}");
        assert_eq!(
            on_spark.split_once(": ").map(|p| p.1),
            here.split_once(": ").map(|p| p.1),
            "{id}"
        );
    }
    let calendar = error("zz_before_calendar");
    assert!(
        calendar.contains("is_workday: ")
            && calendar.contains("is outside the working-day calendar"),
        "calendar: {calendar}"
    );

    // The manifest records where the rules ran; the bundle (copies of the data) is gone.
    assert_eq!(ms["engine"]["backend"], "spark");
    assert_eq!(ms["engine"]["master"], "local[2]");
    assert_eq!(ml["engine"]["backend"], "polars");
    // The `link` rules ran on Spark and estimated what the local run did, to the last bit (m,
    // u, weights, prior, the pairs per blocking rule).
    let estimates = |m: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["link"].is_null())
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["link"].clone()))
            .collect()
    };
    let (on_spark, here) = (estimates(&ms), estimates(&ml));
    assert_eq!(on_spark.len(), 2);
    assert_eq!(on_spark, here);
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("spark") && n != "spark")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn check_names_the_function_that_stops_an_sql_rule_on_spark() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_extra_rules(
        dir.path(),
        &[(
            "polars_only.yaml",
            r#"id: zz_polars_only
title: 只在 Polars 上可运行 / Runs on Polars only
description: STRPTIME 是 Polars SQL 的函数，Spark SQL 没有。/ STRPTIME is Polars SQL only.
severity: low
sql:
  query: |
    SELECT id_card, __file, __sheet, __row
    FROM death_register
    WHERE STRPTIME(id_card, '%Y') IS NULL
  key: [id_card]
"#,
        )],
    );
    let job = job.to_str().unwrap();
    // Valid for the local engine…
    let local = crosscheck(&["check", "--config", job]);
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
    // …but not on Spark: the rule, its file and the construct are named; the bundled rules pass.
    let spark = crosscheck(&["check", "--target", "spark", "--config", job]);
    assert_eq!(spark.status.code(), Some(2), "{}", stderr(&spark));
    let err = stderr(&spark);
    assert!(
        err.contains("polars_only.yaml: rule `zz_polars_only` cannot run on Spark: the query's line 3, column 7: `STRPTIME` is not a Spark SQL function"),
        "{err}"
    );
    assert!(err.contains("1 rule(s) cannot run on Spark"), "{err}");
    // Without it, every bundled rule lowers.
    let bundled = crosscheck(&["check", "--target", "spark"]);
    assert_eq!(bundled.status.code(), Some(0), "{}", stderr(&bundled));
}

#[test]
fn compile_writes_a_self_contained_bundle_and_refuses_to_overwrite_one() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let bundle = dir.path().join("bundle");
    let args = [
        "compile",
        "-q",
        "--target",
        "spark",
        "--out",
        bundle.to_str().unwrap(),
        "--config",
        job.to_str().unwrap(),
    ];
    let out = crosscheck(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runner.py") && stderr(&out).contains("manifest.json"),
        "says how to submit it: {}",
        stderr(&out)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "crosscheck-spark-bundle");
    assert_eq!(m["conf"]["spark.sql.ansi.enabled"], "true");
    // Every bundled rule, in order, each ending in the view that holds its result.
    let rules = m["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 34);
    for r in rules {
        let last = r["statements"].as_array().unwrap().last().unwrap();
        assert_eq!(last["name"], r["result"]);
        assert!(
            r["result"]
                .as_str()
                .unwrap()
                .starts_with(&format!("cc_{}_n", r["id"].as_str().unwrap()))
        );
    }
    // Each input: its Parquet, an explicit schema, and the extracts it was decoded from.
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 35);
    let death = inputs
        .iter()
        .find(|i| i["dataset"] == "death_register")
        .unwrap();
    assert!(bundle.join(death["path"].as_str().unwrap()).is_file());
    assert!(
        death["schema_ddl"]
            .as_str()
            .unwrap()
            .contains("`id_card` STRING"),
        "{}",
        death["schema_ddl"]
    );
    assert_eq!(death["sources"][0]["sha256"].as_str().unwrap().len(), 64);
    // Every row the generator wrote (the death register rejects none), in the file as said.
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(death["rows"], truth["rows"]["death_register"]);
    for input in inputs {
        let file = std::fs::File::open(bundle.join(input["path"].as_str().unwrap())).unwrap();
        let written = ParquetReader::new(file).num_rows().unwrap();
        assert_eq!(input["rows"], written, "{}", input["dataset"]);
    }
    assert_eq!(
        std::fs::read_to_string(bundle.join("runner.py")).unwrap(),
        crosscheck::engine::spark::RUNNER
    );
    // The tables the runner folds and reads Chinese names by (`link`, `name_fold`, `pinyin`).
    let names: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(m["names"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(names["fold"]["張"], "张");
    assert_eq!(names["readings"]["单"][0], "dan");
    // A second compile into the same folder is refused, naming it.
    let again = crosscheck(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already holds a bundle"),
        "{}",
        stderr(&again)
    );
}

/// SIGTERM to crosscheck while Spark runs ends the Spark job too (spark-submit, its JVM and the
/// Python driver), removes the bundle with its data copies, and exits with an error.
#[cfg(unix)]
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn sigterm_stops_the_spark_job_and_removes_its_bundle() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let mut child = run_command(&job, "s")
        .args(["--engine", "spark", "--master", "local[1]"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = dir.path().join("out");
    let bundle = format!(".s.spark-{}", child.id());
    // Wait for Spark to have started: its log is being written in the bundle.
    let log = out.join(&bundle).join("spark.log");
    wait_for(&mut child, "Spark to start", || {
        std::fs::metadata(&log).map_or(0, |m| m.len()) >= 200
    });
    let running_on = |needle: &str| -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(needle))
            .collect()
    };
    assert!(!running_on(&bundle).is_empty(), "no Spark process found");
    let err = terminate(child);
    assert!(err.contains("the Spark job was stopped"), "{err}");
    assert!(running_on(&bundle).is_empty(), "{:?}", running_on(&bundle));
    assert!(!out.join(&bundle).exists(), "the bundle is left behind");
    assert!(!out.join("s").exists());
}

/// Waits (up to three minutes) until `ready`, the run still going.
fn wait_for(child: &mut std::process::Child, what: &str, ready: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "waited in vain for {what}"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// SIGTERM to a run, which must exit 2: what it wrote to stderr.
fn terminate(child: std::process::Child) -> String {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// SIGTERM while a run works in a folder on the cluster: the driver dies before its own
/// cleanup, so crosscheck removes the inputs it staged there; nothing is left on the cluster.
#[cfg(unix)]
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn sigterm_leaves_no_copy_in_the_cluster_work_folder() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let work = dir.path().join("cluster");
    std::fs::create_dir(&work).unwrap();
    let uri = format!("file://{}/", work.display());
    let mut child = run_command(&job, "s")
        .args([
            "--engine",
            "spark",
            "--master",
            "local[1]",
            "--spark-work",
            &uri,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the driver to have staged an input on the cluster.
    let staged = || -> usize {
        std::fs::read_dir(&work)
            .unwrap()
            .filter_map(|e| std::fs::read_dir(e.ok()?.path()).ok())
            .map(|d| d.count())
            .sum()
    };
    wait_for(&mut child, "an input staged on the cluster", || {
        staged() > 0
    });
    let err = terminate(child);
    assert!(err.contains("its copy on the cluster removed"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "the cluster's folder holds {left:?}");
    assert!(!dir.path().join("out/s").exists());
}

/// Decimal thresholds on Spark as on Polars: the leads exactly on and one unit past each
/// threshold, byte for byte.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn decimal_thresholds_give_the_same_leads_on_spark() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = threshold_job(dir.path());
    let local = run_ok(&job, "polars", &[]);
    let spark = run_ok(
        &job,
        "spark",
        &["--engine", "spark", "--master", "local[1]"],
    );
    let (a, b) = (
        std::fs::read_to_string(local.join("anomalies.csv")).unwrap(),
        std::fs::read_to_string(spark.join("anomalies.csv")).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 6, "{a}");
}

/// A `match` with alternative right sides (the union of two joined plans, NULL for the other
/// alternative's columns) gives the same leads on Spark.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_match_with_alternatives_gives_the_same_leads_on_spark() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_extra_rules(dir.path(), &[("homes_or_car.yaml", HOMES_OR_CAR)]);
    let args = ["--rules", "homes_or_car"];
    let local = run_ok(&job, "polars", &args);
    let mut spark_args = args.to_vec();
    spark_args.extend(["--engine", "spark", "--master", "local[1]"]);
    let spark = run_ok(&job, "spark", &spark_args);
    let (a, b) = (
        std::fs::read_to_string(local.join("anomalies.csv")).unwrap(),
        std::fs::read_to_string(spark.join("anomalies.csv")).unwrap(),
    );
    assert_eq!(a, b);
    assert!(a.lines().count() > 5, "{a}");
}

/// A bundle submitted by hand — compiled, spark-submit run by the site's own tooling — comes
/// back through `import-results` as the same outputs: the leads byte for byte those of a local
/// run. The results are named by a `file://` URI, as a cluster's are by `hdfs://`: status.json
/// goes beside the rules' Parquet, and nothing lands in the folder spark-submit ran from.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_hand_submitted_bundle_imports_as_the_same_leads() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let local = run_ok(&job, "local", &[]);
    let bundle = compile_bundle(&job, dir.path());
    let results = dir.path().join("spark-results");
    let results_uri = format!("file://{}", results.display());
    let cwd = dir.path().join("submitted-from");
    std::fs::create_dir(&cwd).unwrap();
    let spark_submit = crosscheck::engine::spark::find_spark_submit().unwrap();
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = spark_submit.parent() {
        let dirs = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).unwrap();
    }
    let submitted = std::process::Command::new(&spark_submit)
        .env("PATH", path)
        .args([
            "--master",
            "local[2]",
            "--conf",
            "spark.sql.shuffle.partitions=4",
        ])
        .arg(bundle.join("runner.py"))
        .arg(bundle.join("manifest.json"))
        .arg(&results_uri)
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(results.join("status.json").is_file());
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(left.is_empty(), "spark-submit's folder holds {left:?}");
    let imported = run_ok_with(
        &[
            "import-results",
            bundle.to_str().unwrap(),
            "--results",
            &results_uri,
        ],
        &job,
        "imported",
    );
    assert_eq!(
        std::fs::read(local.join("anomalies.csv")).unwrap(),
        std::fs::read(imported.join("anomalies.csv")).unwrap()
    );
    assert_eq!(manifest_of(&imported)["engine"]["backend"], "spark");
}

/// A cluster that cannot read this machine's disk gets a work folder on its own file system
/// (`--spark-work`, here a `file://` folder standing for `hdfs://`): the inputs are staged
/// there (Spark's log names each one read from there), the results written there and fetched
/// back by the driver, the leads byte for byte a local run's, and the run's folder in it
/// removed afterwards — no copy of the data is left on the cluster. A plain path is refused
/// before anything is read.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_cluster_work_folder_stages_the_inputs_and_keeps_nothing() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let rules = "pension_paid_after_death,dibao_owns_car,pension_shared_bank_account";
    let local = run_ok(&job, "local", &["--rules", rules]);
    let work = dir.path().join("cluster");
    std::fs::create_dir(&work).unwrap();
    let uri = format!("file://{}/", work.display());
    let spark = run_ok(
        &job,
        "spark",
        &[
            "--rules",
            rules,
            "--engine",
            "spark",
            "--master",
            "local[2]",
            "--spark-work",
            &uri,
            "--keep-bundle",
        ],
    );
    let log = std::fs::read_to_string(dir.path().join("out/spark.spark/spark.log")).unwrap();
    for dataset in [
        "pension_payments",
        "death_register",
        "dibao_roll",
        "vehicle_register",
    ] {
        let staged = format!(
            "input {dataset} staged at file://{}/crosscheck-spark-",
            work.display()
        );
        assert!(log.contains(&staged), "{staged} not in the log:\n{log}");
    }
    let a = std::fs::read_to_string(local.join("anomalies.csv")).unwrap();
    assert_eq!(
        a,
        std::fs::read_to_string(spark.join("anomalies.csv")).unwrap()
    );
    assert!(a.lines().count() > 5, "{a}");
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "the cluster's folder holds {left:?}");

    let out = crosscheck(&[
        "run",
        "-q",
        "--config",
        job.to_str().unwrap(),
        "--engine",
        "spark",
        "--spark-work",
        work.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give a URI on the cluster's file system"),
        "{}",
        stderr(&out)
    );
}

/// `crosscheck <command…> -q --config <job> --run-id <run_id>`, which must succeed.
fn run_ok_with(command: &[&str], job: &Path, run_id: &str) -> PathBuf {
    let mut args = command.to_vec();
    args.extend(["-q", "--config", job.to_str().unwrap(), "--run-id", run_id]);
    let out = crosscheck(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    job.parent().unwrap().join("out").join(run_id)
}

/// The fixtures inside the rules run on Spark too, all in one spark-submit: the bundled ones
/// pass, and an `sql` query that means something else on Spark (a substring from position 0)
/// fails there, naming the rule and the fixture, while it passes here.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn fixtures_run_on_spark_and_show_a_dialect_difference() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let substr = r#"id: zz_substr_zero
title: 从第 0 位截取 / A substring from position 0
description: 测试 / a test
severity: info
evidence:
  - { label: 身份证号 / ID, expr: id_card }
sql:
  query: |
    SELECT id_card, __file, __sheet, __row FROM dibao_roll WHERE SUBSTR(id_card, 0, 4) = '320'
  key: [id_card]
tests:
  - name: 前三位 / the first three characters
    given:
      dibao_roll:
        - { 户主姓名: 张伟, 身份证号: "320102195003011238", 家庭人口: 2, 月保障金额: 620, 所属街道: 玄武区东街道, 纳入日期: 2019-05-01 }
    expect: { keys: ["320102195003011238"] }
"#;
    let job = job_with_extra_rules(dir.path(), &[("substr.yaml", substr)]);
    let here = crosscheck(&["test", "--config", job.to_str().unwrap()]);
    assert_eq!(here.status.code(), Some(0), "{}", stderr(&here));
    assert_eq!(
        String::from_utf8_lossy(&here.stdout).trim(),
        "71 passed, 0 failed"
    );
    let there = crosscheck(&[
        "test",
        "--engine",
        "spark",
        "--master",
        "local[2]",
        "--config",
        job.to_str().unwrap(),
    ]);
    assert_eq!(there.status.code(), Some(2), "{}", stderr(&there));
    let err = stderr(&there);
    assert_eq!(
        String::from_utf8_lossy(&there.stdout).trim(),
        "70 passed, 1 failed"
    );
    assert!(
        err.contains("FAILED zz_substr_zero :: 前三位 / the first three characters"),
        "{err}"
    );
    assert!(err.contains("expected leads"), "{err}");
}

/// The Python interpreter Spark runs the runner with: the one beside spark-submit (pip's
/// pyspark), else `python3`.
fn spark_python() -> PathBuf {
    let submit = crosscheck::engine::spark::find_spark_submit().expect("spark-submit");
    let beside = submit.with_file_name("python");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("python3")
    }
}

/// Runs `script` with the Python Spark runs the runner with, the runner importable as
/// `runner` from `dir` (its argument), and reads the JSON it wrote to `dir/output`.
fn python_on_runner(dir: &Path, script: &str, output: &str) -> serde_json::Value {
    std::fs::write(dir.join("runner.py"), crosscheck::engine::spark::RUNNER).unwrap();
    let out = std::process::Command::new(spark_python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join(output)).unwrap()).unwrap()
}

/// A seeded stream of strings over an alphabet (lengths 0..=max), for pairs nobody designed.
fn random_strings(alphabet: &[&str], max: usize, n: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    (0..n)
        .map(|_| {
            let len = next() % (max + 1);
            (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect()
        })
        .collect()
}

/// The Spark runner's linkage is a Python port of `plan::link`: its levels, name folding,
/// pinyin and EM must be the Rust code's exactly, or a lead found here is lost there. Compared
/// on pairs written to trip a port (traditional and variant characters, homophones, compound
/// surnames, full-width and combining characters, Unicode spaces Python and Rust trim
/// differently, dates and IDs in every shape) and on seeded random strings from those pieces.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn the_spark_runner_compares_and_estimates_as_the_local_engine_does() {
    use crosscheck::job::rule::CompareMethod as M;
    use crosscheck::plan::link::{compare, estimate, names};
    require_spark();
    let hostile = [
        "张伟",
        "張偉",
        "张玮",
        "章炜",
        "张伟明",
        "王伟",
        "欧阳娜娜",
        "歐陽·娜娜",
        "欧阳",
        "单丽",
        "善丽",
        "丹丽",
        "陈志峯",
        " 陳 志 峰 ",
        "ＬＩ Ｍｉｎｇ",
        "li ming",
        "Li  Ming",
        "李",
        "",
        "   ",
        "\u{3000}张伟\u{3000}",
        "\u{1f}张伟",
        "张\u{200b}伟",
        "e\u{301}mile",
        "émile",
        "क\u{93f}",
        "ΣΑΣ",
        "İstanbul",
        "👨‍👩‍👧",
        "\u{202e}伟张",
        "=HYPERLINK(\"x\")",
        "Ⅻ",
        "²³",
        "〇一",
        "𠀀𠀁",
        "1950-03-08",
        "1950/3/8",
        "19500308",
        "1950年3月8日",
        "1950-08-03",
        "1950-3-8 00:00:00",
        "195-03-08",
        "320115195003081238",
        "320115500308123",
        "32011519500308123X",
        "320115195003081239",
        "320115195003801238",
        "３２０１１５５００３０８１２３",
        "'320115195003081238",
        "江宁区汤山街道龙泉村3组12号",
        "江寧區湯山街道龍泉村3組12號",
        "12 Main St.",
        "12 main street",
        "Flat 3, 12 Main St",
    ];
    let mut pool: Vec<String> = hostile.iter().map(|s| s.to_string()).collect();
    let pieces = [
        "张", "張", "章", "伟", "偉", "玮", "炜", "欧", "阳", "陽", "单", "善", "曾", "李", "丽",
        "a", "B", "x", "X", "1", "9", "0", "３", "-", "/", " ", "\u{3000}", "\u{a0}", "\u{1c}",
        "·", ".", "'", "e\u{301}", "ß", "組", "组", "号", "村",
    ];
    pool.extend(random_strings(&pieces, 7, 300, 7));
    let digits = [
        "0", "1", "2", "3", "5", "8", "9", "X", "-", "/", " ", "年", "月",
    ];
    pool.extend(random_strings(&digits, 18, 200, 11));
    let methods = [
        (M::ChineseName, None),
        (M::Text, None),
        (M::Text, Some(vec![0.95, 0.88, 0.7])),
        (M::Date, None),
        (M::Id, None),
        (M::Address, None),
        (M::Address, Some(vec![0.9, 0.5])),
        (M::Exact, None),
    ];
    // Every pool string against a seeded choice of others, and each against its own variants.
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    let mut state: u64 = 3;
    for (method, thresholds) in &methods {
        let top = compare::level_labels(*method, thresholds.as_deref()).len() - 1;
        for (i, a) in pool.iter().enumerate() {
            for step in [0usize, 1, 2, 3, 4] {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let r = (state >> 33) as usize;
                let chars: Vec<char> = a.chars().collect();
                let at = if chars.is_empty() { 0 } else { r % chars.len() };
                let mut near = chars.clone();
                // The pool string against the next one, a random one, and itself with one
                // character replaced, two adjacent swapped, or one dropped.
                let b = match step {
                    0 => pool[(i + 1) % pool.len()].clone(),
                    1 => pool[r % pool.len()].clone(),
                    2 if !near.is_empty() => {
                        near[at] = pieces[r % pieces.len()].chars().next().unwrap();
                        near.into_iter().collect()
                    }
                    3 if near.len() > 1 => {
                        let k = at.min(near.len() - 2);
                        near.swap(k, k + 1);
                        near.into_iter().collect()
                    }
                    _ if !near.is_empty() => {
                        near.remove(at);
                        near.into_iter().collect()
                    }
                    _ => String::new(),
                };
                let b = &b;
                let level = match (
                    compare::prepare(*method, Some(a)),
                    compare::prepare(*method, Some(b)),
                ) {
                    (Some(x), Some(y)) => {
                        compare::level(*method, thresholds.as_deref(), &x, &y) as i64
                    }
                    _ => -1,
                };
                cases.push(serde_json::json!({
                    "method": method, "thresholds": thresholds, "top": top, "a": a, "b": b,
                }));
                expected.push(level);
            }
        }
    }
    let folded: Vec<(String, String)> = pool
        .iter()
        .map(|s| {
            let f = names::fold(s);
            let p = names::pinyin(&f);
            (f, p)
        })
        .collect();
    // EM over patterns of three fields from a seeded model, from the same start.
    let u = vec![
        vec![0.9, 0.08, 0.02],
        vec![0.7, 0.3],
        vec![0.5, 0.3, 0.15, 0.05],
    ];
    let mut patterns = Vec::new();
    for a in 0..3i8 {
        for b in -1..2i8 {
            for c in 0..4i8 {
                let n = ((a as i64 + 2) * 37 + (b as i64 + 3) * 11 + c as i64 * 5) % 23 + 1;
                patterns.push((vec![a, b, c], (n * 10) as f64));
            }
        }
    }
    let starts: Vec<Vec<f64>> = u.iter().map(|l| estimate::m_start(l.len())).collect();
    let mut m = starts.clone();
    let (prior, iterations) = estimate::em(
        &patterns,
        &u,
        &mut m,
        &[false, false, true],
        0.01,
        1e5,
        false,
    );

    let dir = tempfile::tempdir().unwrap();
    let input = serde_json::json!({
        "tables": serde_json::from_str::<serde_json::Value>(names::tables()).unwrap(),
        "cases": cases,
        "pool": pool,
        "em": {"patterns": patterns, "u": u, "m": starts, "starts": starts},
    });
    std::fs::write(dir.path().join("input.json"), input.to_string()).unwrap();
    let script = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import runner
d = json.load(open(sys.argv[1] + "/input.json", encoding="utf-8"))
names = runner.Names(d["tables"])
levels = []
for c in d["cases"]:
    x = runner.prepare(names, c["method"], c["a"])
    y = runner.prepare(names, c["method"], c["b"])
    levels.append(-1 if x is None or y is None else runner.level(c["method"], c["thresholds"], c["top"], x, y))
folded = [[names.fold(s), names.pinyin(names.fold(s))] for s in d["pool"]]
e = d["em"]
patterns = sorted((tuple(p), c) for p, c in e["patterns"])
m = [list(r) for r in e["m"]]
prior, its = runner.em(patterns, e["u"], m, [False, False, True], e["starts"], 0.01, 1e5, False)
json.dump({"levels": levels, "folded": folded, "em": [prior, its, m]}, open(sys.argv[1] + "/output.json", "w", encoding="utf-8"))
"#;
    let got = python_on_runner(dir.path(), script, "output.json");
    let wrong: Vec<String> = got["levels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected)
        .zip(&cases)
        .filter(|((g, e), _)| g.as_i64() != Some(**e))
        .map(|((g, e), c)| {
            format!(
                "{} {:?} vs {:?}: Python {g}, Rust {e}",
                c["method"], c["a"], c["b"]
            )
        })
        .collect();
    assert!(cases.len() > 10_000, "{} cases", cases.len());
    assert!(
        wrong.is_empty(),
        "{} of {} levels differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    // Most cases are not equal values: the partial levels are exercised, not only the top.
    let partial = expected.iter().filter(|l| **l > 0).count();
    assert!(partial > 500, "{partial} pairs above `different`");
    for ((f, p), g) in folded.iter().zip(got["folded"].as_array().unwrap()) {
        assert_eq!(
            (f.as_str(), p.as_str()),
            (g[0].as_str().unwrap(), g[1].as_str().unwrap())
        );
    }
    // EM: the same prior, iterations and m to the last bit.
    assert_eq!(got["em"][0].as_f64().unwrap().to_bits(), prior.to_bits());
    assert_eq!(got["em"][1].as_u64().unwrap() as usize, iterations);
    let pm: Vec<Vec<f64>> = serde_json::from_value(got["em"][2].clone()).unwrap();
    assert_eq!(pm, m);
}

/// A cell as the runner's `to_cell` gives it, in JSON: text, a number by its bits (NaN and
/// infinities too), yes/no, a date-time, or empty.
fn cell_json(c: &crosscheck::ingest::normalize::RawCell) -> serde_json::Value {
    use crosscheck::ingest::normalize::RawCell as C;
    match c {
        C::Empty => serde_json::Value::Null,
        C::Text(s) => serde_json::json!({ "t": s }),
        C::Number(v) => serde_json::json!({ "n": v.to_bits().to_string() }),
        C::Bool(b) => serde_json::json!({ "b": b }),
        C::DateTime(dt) => {
            serde_json::json!({ "d": dt.format("%Y-%m-%dT%H:%M:%S%.6f").to_string() })
        }
    }
}

/// What the local normaliser makes of a cell for a column type: the typed value(s) as the
/// runner carries them (dates as days since 1970, date-times as milliseconds, an ID as its
/// value, cleaned text, issue and kind), or the reason it cannot be loaded.
fn typed_here(
    ty: &str,
    scale: Option<u8>,
    c: &crosscheck::ingest::normalize::RawCell,
) -> serde_json::Value {
    use crosscheck::ingest::id_card;
    use crosscheck::ingest::normalize::{self as n, CellRef};
    use serde_json::json;
    let cell = c.as_ref();
    let num = |v: f64| json!(v.to_bits().to_string());
    let r: Result<serde_json::Value, String> =
        match ty {
            "text" => Ok(json!([n::normalize_text(cell)])),
            "plate" => Ok(json!([
                n::normalize_text(cell).map(|t| crosscheck::ingest::normalize_plate(&t))
            ])),
            "id_card" => {
                let id = match cell {
                    CellRef::Number(v) => id_card::normalize_id_number(v),
                    _ => id_card::normalize_id_card(&cell.display()),
                };
                let kind = match id.issue {
                    None => u8::from(id.was_cleaned) + 2 * u8::from(id.upgraded_legacy),
                    Some(i) => {
                        4 + [
                            "missing",
                            "length",
                            "characters",
                            "birth_date",
                            "check_character",
                            "spreadsheet_damage",
                        ]
                        .iter()
                        .position(|c| *c == i.code())
                        .unwrap() as u8
                    }
                };
                let raw = (!id.cleaned.is_empty()).then_some(id.cleaned);
                Ok(json!([id.valid, raw, id.issue.map(|i| i.code()), kind]))
            }
            "date" => n::parse_date(cell).map(|d| {
                json!([d.map(
                    |d| (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
                )])
            }),
            "datetime" => {
                n::parse_datetime(cell).map(|d| json!([d.map(|d| d.and_utc().timestamp_millis())]))
            }
            "decimal" => n::parse_decimal_at(cell, scale.unwrap()).map(|v| json!([v.map(num)])),
            "float" => n::parse_decimal(cell).map(|v| json!([v.map(num)])),
            "int" => n::parse_int(cell).map(|v| json!([v])),
            "bool" => n::parse_bool(cell).map(|v| json!([v])),
            other => panic!("{other}"),
        };
    match r {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "err": e }),
    }
}

/// Cells written to trip a port of the normalisers.
const HOSTILE_CELLS: &[&str] = &[
    "",
    " ",
    "\u{3000}",
    "\u{feff}",
    "\u{200b}",
    "\u{1c}",
    "\u{85}x",
    "\u{a0}1\u{a0}",
    "2024-03-01",
    "2024/3/1",
    "2024.3.1",
    "20240301",
    "2024年3月1日",
    "2024年3月",
    "202403",
    "2024-03",
    "2024-3",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "0000-01-01",
    "00000101",
    "9999-12-31",
    "10000-01-01",
    "1900-01-01",
    "2024-03-01 14:05",
    "2024-03-01 14:05:30",
    "2024-03-01T14:05:00",
    "2024-03-01T",
    "2024-03-01 ",
    "2024-03-01 25:00",
    "2024-03-01 9:5",
    "2024-03-01 14:05:60",
    "2024-03-01 14: 05",
    "２０２４－０３－０１",
    "2024/03/01 00:00:00",
    "45352",
    "45352.5",
    "1",
    "60",
    "2958465",
    "2958466",
    "4535",
    "2024",
    "99999",
    "2024-13-01",
    "2024-1-32",
    "24-03-01",
    "2024--03",
    "2024年3月1",
    "2024年03月01日 08:00",
    "1,234.50",
    "1,234.50元",
    "¥88",
    "￥ 88",
    "12.5万元",
    "0.125万元",
    "12.3456万元",
    "1.5万元万元",
    "元",
    "¥",
    "-0.57",
    "+3",
    "-",
    ".",
    "1.",
    ".5",
    "1e3",
    "1E-3",
    "inf",
    "-inf",
    "NaN",
    "infinity",
    "1_000",
    "1 000",
    "１２３４",
    "12，345",
    "0.125",
    "0.1",
    "0.30000000000000004",
    "31115.000000000004",
    "90000000000000.5",
    "9007199254740993",
    "123456789012345678901234567890",
    "3",
    "3.0",
    "3.5",
    "-0",
    "9000000000000000",
    "8999999999999999",
    "是",
    "否",
    "有",
    "无",
    "Y",
    "n",
    "TRUE",
    "False",
    "yes",
    "NO",
    "1.0",
    "0.0",
    "2",
    "320102195003011238",
    "32010219500301123x",
    "32010219500301123X",
    " ３２０１０２１９５００３０１１２３８ ",
    "'320102195003011238",
    "‘320102195003011238",
    "320102500301123",
    "320102195003011239",
    "320102195003011000",
    "3.20102E+17",
    "3.20102195003011E+17",
    "32010219500301",
    "32010219500301123",
    "320102185003011231",
    "320102199002301234",
    "32010219500301123４",
    "320102199913011234",
    "3201021950030112\u{200b}38",
    "3201021950\t03011238",
    "ABCDEFGHIJKLMNOPQR",
    "320102 19500301 1238",
    "苏A·12345",
    "苏a-12345",
    "苏Ａ１２３４５",
    "京 B.8888",
    "Ⅻ",
    "ß",
    "ﬁ",
    "e\u{301}",
    "=1+1",
    "\u{202e}abc",
    "张\u{3000}伟",
    " 张伟 ",
    "İ",
    "ΣΑΣ",
];

/// The runner types a dataset that lives on the cluster with a Python port of the local
/// normalisers (normalize.rs, id_card.rs): every type must give the value, or the reason, a
/// local run gives, or a lead is found on one engine and lost on the other. Compared on cells
/// written to trip a port (every date form clerks use, Excel serials, amounts with 元 / 万元 /
/// ¥ / separators, IDs full-width, legacy, damaged by a spreadsheet, yes/no words, Unicode
/// spaces Rust and Python trim differently, numbers at the edges of exactness, NaN) and on
/// seeded random strings of the pieces they are made of.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn the_spark_runner_types_cells_as_the_local_normaliser_does() {
    use crosscheck::ingest::normalize::RawCell as C;
    require_spark();
    let hostile = HOSTILE_CELLS;
    let mut cells: Vec<C> = hostile.iter().map(|s| C::Text(s.to_string())).collect();
    let pieces = [
        "0", "1", "2", "3", "9", "X", "x", "-", "/", ".", " ", ":", "T", "年", "月", "日", "元",
        "万", ",", "，", "¥", "E", "+", "_", "０", "５", "\u{3000}", "\u{a0}",
    ];
    cells.extend(
        random_strings(&pieces, 12, 1500, 17)
            .into_iter()
            .map(C::Text),
    );
    let digits = ["0", "1", "2", "3", "9", "X", "1", "2", "5"];
    cells.extend(
        random_strings(&digits, 18, 300, 23)
            .into_iter()
            .map(C::Text),
    );
    for v in [
        0.0,
        -0.0,
        1.0,
        0.5,
        1e-7,
        202403.5,
        190000.0,
        21001231.0,
        123456789.125,
        0.1 + 0.2,
        0.125,
        1.23456789,
        45352.0,
        45352.5,
        45_352.999_999_9,
        2958465.0,
        2958466.0,
        20240301.0,
        202403.0,
        19000101.5,
        210013.0,
        1e15,
        999_999_999_999_999.0,
        320102195003011238.0,
        3.20102e17,
        320102500301123.0,
        9e15,
        1e300,
        -5.5,
        12.5,
        1234.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0 / 3.0,
        9007199254740993.0,
    ] {
        cells.push(C::Number(v));
    }
    cells.extend([C::Empty, C::Bool(true), C::Bool(false)]);
    for (d, t) in [
        ("2024-03-01", "00:00:00"),
        ("2024-03-01", "14:05:30"),
        ("0001-01-01", "00:00:00"),
        ("9999-12-31", "23:59:59.500"),
    ] {
        cells.push(C::DateTime(
            chrono::NaiveDateTime::parse_from_str(&format!("{d} {t}"), "%Y-%m-%d %H:%M:%S%.f")
                .unwrap(),
        ));
    }
    let types: [(&str, Option<u8>); 13] = [
        ("text", None),
        ("plate", None),
        ("id_card", None),
        ("date", None),
        ("datetime", None),
        ("decimal", Some(0)),
        ("decimal", Some(2)),
        ("decimal", Some(4)),
        ("decimal", Some(6)),
        ("decimal", Some(9)),
        ("float", None),
        ("int", None),
        ("bool", None),
    ];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (ty, scale) in types {
        for c in &cells {
            cases.push(serde_json::json!({ "type": ty, "scale": scale, "cell": cell_json(c) }));
            expected.push(typed_here(ty, scale, c));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cases.json"),
        serde_json::Value::from(cases.clone()).to_string(),
    )
    .unwrap();
    let script = r#"
import datetime, json, struct, sys
sys.path.insert(0, sys.argv[1])
import runner
def cell(c):
    if c is None: return None
    if "t" in c: return c["t"]
    if "n" in c: return struct.unpack("<d", struct.pack("<Q", int(c["n"])))[0]
    if "b" in c: return c["b"]
    return datetime.datetime.strptime(c["d"], "%Y-%m-%dT%H:%M:%S.%f")
def bits(v):
    return str(struct.unpack("<Q", struct.pack("<d", v))[0])
out = []
for c in json.load(open(sys.argv[1] + "/cases.json", encoding="utf-8")):
    try:
        v = list(runner.typer({"type": c["type"], "scale": c["scale"]})(runner.to_cell(cell(c["cell"]))))
        if c["type"] in ("decimal", "float") and v[0] is not None:
            v[0] = bits(v[0])
        out.append({"ok": v})
    except runner.Bad as e:
        out.append({"err": str(e)})
json.dump(out, open(sys.argv[1] + "/typed.json", "w", encoding="utf-8"), ensure_ascii=False)
"#;
    let got: Vec<serde_json::Value> =
        serde_json::from_value(python_on_runner(dir.path(), script, "typed.json")).unwrap();
    assert_eq!(got.len(), expected.len());
    let wrong: Vec<String> = got
        .iter()
        .zip(&expected)
        .zip(&cases)
        .filter(|((g, e), _)| g != e)
        .map(|((g, e), c)| format!("{} {}: Python {g}, Rust {e}", c["type"], c["cell"]))
        .collect();
    assert!(cases.len() > 20_000, "{} cases", cases.len());
    assert!(
        wrong.is_empty(),
        "{} of {} cells typed differently:\n{}",
        wrong.len(),
        cases.len(),
        wrong
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Not a comparison of errors alone: most types load most of the cells written for them.
    let loaded = expected.iter().filter(|e| e.get("ok").is_some()).count();
    assert!(
        loaded > cases.len() / 3,
        "{loaded} of {} cells load",
        cases.len()
    );
}

/// The columns of the corpus both engines type: every catalog type, as text and as the
/// Parquet types registers hold (numbers, dates, yes/no, big integers).
const CORPUS_COLUMNS: &str = r#"
      line: { type: int }
      id: { type: id_card, aliases: [身份证号] }
      id_num: { type: id_card }
      name: { type: name, required: true }
      plate: { type: plate }
      d: { type: date }
      d_typed: { type: date }
      dt: { type: datetime }
      dt_typed: { type: datetime }
      amt: { type: money, scale: 2 }
      amt_num: { type: money }
      dec: { type: decimal }
      f: { type: float }
      n: { type: int }
      n_big: { type: id_card }
      b: { type: bool }
      b_typed: { type: bool }
      note: { type: text, optional: true }
"#;

/// A Parquet file of hostile cells: row i puts one hostile value into one column, the others
/// valid, so that rows load and rows are rejected, each for the cell written for it.
fn write_corpus(path: &Path) -> usize {
    use polars::prelude::*;
    let text_cols = [
        "身份证号",
        "name",
        "plate",
        "d",
        "dt",
        "amt",
        "dec",
        "f",
        "n",
        "b",
    ];
    let fine = [
        "320102195003011238",
        "张伟",
        "苏A12345",
        "2024-03-01",
        "2024-03-01 08:00",
        "12.50",
        "1.5",
        "2.25",
        "7",
        "是",
    ];
    let mut extra: Vec<String> = random_strings(
        &[
            "0", "1", "2", "3", "9", "X", "-", "/", ".", " ", ":", "年", "月", "元", "万", ",", "¥",
        ],
        12,
        120,
        29,
    );
    extra.extend(["a\u{0}b".to_string(), "\u{0}".to_string()]);
    let pool: Vec<String> = HOSTILE_CELLS
        .iter()
        .map(|s| s.to_string())
        .chain(extra)
        .collect();
    // Columns 0-9 are text, 10-15 typed, 16 none: one hostile cell a row, every hostile
    // value in every column.
    let turns = text_cols.len() + 7;
    let n = pool.len() * turns;
    let mut text: Vec<Vec<Option<String>>> = vec![Vec::new(); text_cols.len()];
    let numbers = [
        0.0,
        -0.0,
        0.5,
        1.0 / 3.0,
        45352.5,
        20240301.0,
        202403.0,
        1e15,
        320102195003011238.0,
        320102500301123.0,
        3.20102e17,
        9e15,
        1234.5,
        0.125,
        f64::NAN,
        f64::INFINITY,
        -5.5,
    ];
    let (mut id_num, mut d_typed, mut dt_typed, mut amt_num) = (vec![], vec![], vec![], vec![]);
    let (mut n_big, mut b_typed, mut line) = (vec![], vec![], vec![]);
    for i in 0..n {
        let (col, value) = (i % turns, &pool[i / turns]);
        for (c, v) in text.iter_mut().enumerate() {
            v.push(Some(if c == col {
                value.clone()
            } else {
                fine[c].to_string()
            }));
        }
        // An empty string is an empty cell; a few NULLs too.
        if i % 37 == 5 {
            text[col % text_cols.len()][i] = None;
        }
        let x = numbers[i / turns % numbers.len()];
        let hostile = |c: usize| col == text_cols.len() + c;
        id_num.push((!hostile(0) || i % 3 != 0).then_some(if hostile(0) {
            x
        } else {
            320102195003011238.0
        }));
        // Days from about 1870 to 2300, a few before year 1 or past 9999 (rejected).
        d_typed.push(Some(if hostile(1) {
            [-800_000, -719_163, -25_567, 0, 2_932_896, 2_932_897, 19_783][i / turns % 7]
        } else {
            -36_500 + (i as i32 * 7_919) % 120_000
        }));
        dt_typed.push((!hostile(2) || i % 2 == 0).then_some(if hostile(2) {
            -62_135_596_800_001 + (i as i64 % 5) * 1_000_000_000_000_000
        } else {
            i as i64 * 97_000_000_123
        }));
        amt_num.push(Some(if hostile(3) { x } else { 12.5 }));
        // IDs in a bigint column, exact; some of them not IDs.
        n_big.push((!hostile(4) || i % 2 == 0).then_some(if hostile(4) {
            i as i64 * 1_000_000_007 - 3
        } else {
            320_102_195_003_011_238 + (i as i64 % 10) * 10
        }));
        b_typed.push((!hostile(5) || i % 2 == 0).then_some(i % 3 == 0));
        line.push(i as i64 + 2);
    }
    let mut cols = vec![Column::new("line".into(), line)];
    for (name, values) in text_cols.iter().zip(text) {
        cols.push(Column::new((*name).into(), values));
    }
    cols.extend([
        Column::new("id_num".into(), id_num),
        Column::new("d_typed".into(), d_typed)
            .cast(&DataType::Date)
            .unwrap(),
        Column::new("dt_typed".into(), dt_typed)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap(),
        Column::new("amt_num".into(), amt_num),
        Column::new("n_big".into(), n_big),
        Column::new("b_typed".into(), b_typed),
    ]);
    let mut df = DataFrame::new_infer_height(cols).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
    n
}

/// The same Parquet file as a dataset here and as a dataset on the cluster (a `file://` URI,
/// read and typed by Spark): every row the same lead, every rejected row the same reason and
/// cells, the same counts and ID quality. What the cell-by-cell comparison cannot see is seen
/// here: the reading of each Parquet type, a required column, a NUL byte, the row numbers.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_dataset_on_the_cluster_loads_as_the_same_file_loads_here() {
    require_spark();
    corpus_loads_alike("local[2]", &[]);
}

/// Runs the corpus as a dataset here and the same file by URI on `master` (with `extra`
/// arguments), and compares what each engine made of it.
fn corpus_loads_alike(master: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let rows = write_corpus(&dir.path().join("corpus.parquet"));
    std::fs::write(
        dir.path().join("datasets.yaml"),
        format!(
            "datasets:\n  here:\n    path: corpus.parquet\n    columns:{CORPUS_COLUMNS}\n  there:\n    path: file://{}/corpus.parquet\n    row: line\n    columns:{CORPUS_COLUMNS}",
            dir.path().display()
        ),
    )
    .unwrap();
    let evidence: Vec<String> = [
        "line",
        "id",
        "id_raw",
        "id_issue",
        "id_num",
        "id_num_raw",
        "id_num_issue",
        "name",
        "plate",
        "d",
        "d_typed",
        "dt",
        "dt_typed",
        "amt",
        "amt_num",
        "dec",
        "f",
        "n",
        "n_big",
        "n_big_raw",
        "n_big_issue",
        "b",
        "b_typed",
        "note",
        "__row",
        "__rid",
    ]
    .iter()
    .map(|c| format!("  - {{ label: {c}, expr: \"{c}\" }}"))
    .collect();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for ds in ["here", "there"] {
        std::fs::write(
            rules.join(format!("{ds}.yaml")),
            format!(
                "id: every_row_{ds}\ntitle: 每一行 / every row\ndescription: 测试 / a test\nseverity: info\nevidence:\n{}\nrow_check:\n  sources: [{{ dataset: {ds} }}]\n  condition: \"true\"\n  key: [line]\n",
                evidence.join("\n")
            ),
        )
        .unwrap();
    }
    let job = write_job(dir.path(), &dir.path().join("datasets.yaml"), &rules);
    let mut args = vec!["--engine", "spark", "--master", master];
    args.extend(extra);
    let run = run_ok(&job, "spark", &args);

    // The leads of each rule, without what names the rule, the dataset or the file.
    let csv = std::fs::read_to_string(run.join("anomalies.csv")).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let (mut here, mut there) = (Vec::new(), Vec::new());
    for r in reader.records() {
        let r = r.unwrap();
        let kept: Vec<String> = [4, 8, 9, 10, 11]
            .iter()
            .map(|&i| r[i].to_string())
            .collect();
        match &r[5] {
            "here" => here.push(kept),
            "there" => there.push(kept),
            other => panic!("{other}"),
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let ds = |name: &str| {
        manifest["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {}", manifest["datasets"]))
            .clone()
    };
    let (h, t) = (ds("here"), ds("there"));
    assert_eq!(h["rows_read"].as_u64(), Some(rows as u64), "{h}");
    for k in ["rows_read", "rows_loaded", "rows_rejected", "id_quality"] {
        assert_eq!(h[k], t[k], "{k}: here {h}, there {t}");
    }
    let loaded = h["rows_loaded"].as_u64().unwrap() as usize;
    assert!(
        loaded > rows / 3 && loaded < rows,
        "{loaded} of {rows} rows load"
    );
    assert_eq!(here.len(), loaded);
    for (a, b) in here.iter().zip(&there) {
        assert_eq!(a, b);
    }
    assert_eq!(here.len(), there.len());

    // Rejected rows: the cluster sends the first hundred; the same rows, reasons and cells.
    let rejected = |name: &str| -> Vec<Vec<String>> {
        let text =
            std::fs::read_to_string(run.join("rejected").join(format!("{name}.csv"))).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                vec![r[2].to_string(), r[3].to_string(), r[4].to_string()]
            })
            .collect()
    };
    let (rh, rt) = (rejected("here"), rejected("there"));
    assert_eq!(rh.len() as u64, h["rows_rejected"].as_u64().unwrap());
    assert_eq!(rt.len(), 100.min(rh.len()));
    for (a, b) in rh.iter().zip(&rt) {
        assert_eq!(a, b);
    }
}

/// One register of the sample city as a province keeps it on its cluster: every record of the
/// extract (as crosscheck's readers see it: text, numbers, dates, yes/no kept as such) and the
/// record's number in a `源行号` column. Records a reader could not align (a ragged CSV line)
/// are left out: a table has none. Returns the records left out.
fn register_as_parquet(
    catalog: &crosscheck::job::catalog::Catalog,
    name: &str,
    out: &Path,
) -> usize {
    use crosscheck::ingest::normalize::CellRef;
    use crosscheck::ingest::read;
    use polars::prelude::*;
    let spec = &catalog.datasets[name];
    let path = catalog.base_dir.join(&spec.path.value);
    let o = read::ReadOptions::of(&path, spec).unwrap();
    let tables: Vec<read::SourceTable> = if o.format == crosscheck::job::catalog::Format::Xlsx {
        vec![read::read_xlsx(&path, &std::fs::read(&path).unwrap(), &o).unwrap()]
    } else {
        read::batches(&path, &o, 1 << 20, None)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let headers = tables[0].headers.clone();
    let mut cells: Vec<Vec<CellRef>> = vec![Vec::new(); headers.len()];
    let mut rows = Vec::new();
    let mut left_out = 0;
    for t in &tables {
        let bad: std::collections::HashSet<usize> = t.malformed.iter().map(|m| m.index).collect();
        left_out += bad.len();
        for i in (0..t.rows.len()).filter(|i| !bad.contains(i)) {
            rows.push(t.rows[i] as i64);
            for (c, col) in cells.iter_mut().zip(&t.columns) {
                c.push(col.get(i));
            }
        }
    }
    let mut columns = vec![Column::new("源行号".into(), rows)];
    for (h, col) in headers.iter().zip(&cells) {
        let full: Vec<&CellRef> = col
            .iter()
            .filter(|c| !matches!(c, CellRef::Empty))
            .collect();
        let column = if !full.is_empty() && full.iter().all(|c| matches!(c, CellRef::Number(_))) {
            let v: Vec<Option<f64>> = col
                .iter()
                .map(|c| match c {
                    CellRef::Number(v) => Some(*v),
                    _ => None,
                })
                .collect();
            Column::new(h.as_str().into(), v)
        } else if !full.is_empty() && full.iter().all(|c| matches!(c, CellRef::DateTime(_))) {
            let v: Vec<Option<i64>> = col
                .iter()
                .map(|c| match c {
                    CellRef::DateTime(d) => Some(d.and_utc().timestamp_micros()),
                    _ => None,
                })
                .collect();
            Column::new(h.as_str().into(), v)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .unwrap()
        } else {
            // A column of text and numbers (a workbook's): each as text. A number past 15
            // digits as a spreadsheet writes it out (3.20104197506164e17), so that an ID
            // the workbook damaged stays damaged, and reads as the same text.
            let v: Vec<Option<String>> = col
                .iter()
                .map(|c| match c {
                    CellRef::Empty => None,
                    CellRef::Number(v) if v.abs() >= 1e15 => Some(format!("{v:e}")),
                    c => Some(c.display().into_owned()),
                })
                .collect();
            Column::new(h.as_str().into(), v)
        };
        columns.push(column);
    }
    let mut df = DataFrame::new_infer_height(columns).unwrap();
    ParquetWriter::new(std::fs::File::create(out).unwrap())
        .finish(&mut df)
        .unwrap();
    left_out
}

/// The sample city's catalog with every dataset on the cluster: the odd ones as Hive tables
/// `city.<name>`, the even ones as Parquet URIs, each numbered by its `源行号`.
fn cluster_catalog(text: &str, storage: &Path, names: &[String]) -> String {
    let mut out = String::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            current = name.to_string();
        }
        let key = line.trim_start().split(':').next().unwrap_or("");
        if line.starts_with("    ") && !line.starts_with("     ") {
            match key {
                "encoding" | "sheet" | "delimiter" | "header_row" => continue,
                "path" => {
                    let i = names.iter().position(|n| *n == current).unwrap();
                    if i % 2 == 1 {
                        out.push_str(&format!("    path: hive:city.{current}\n"));
                    } else {
                        out.push_str(&format!(
                            "    path: file://{}/{current}.parquet\n",
                            storage.display()
                        ));
                    }
                    out.push_str("    row: 源行号\n");
                    continue;
                }
                _ => {}
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The sample city's registers living on a standalone cluster (a master and a worker of their
/// own), as Hive tables (an embedded metastore) and Parquet by URI, and the whole bundled audit
/// run there from a working folder that stays empty: the same leads as a local run of
/// the extracts, line for line (the file and sheet columns name the table instead), the same
/// rows loaded and rejected and the same ID quality per register, and a bundle that holds no
/// data (no input is staged: Spark reads the registers where they are).
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn the_sample_city_on_the_cluster_gives_the_local_leads() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster");
    std::fs::create_dir_all(&cluster).unwrap();
    let standalone = Standalone::start(&cluster);
    let storage = cluster.join("registers");
    std::fs::create_dir_all(&storage).unwrap();
    let sample =
        crosscheck::job::catalog::Catalog::load(&repo().join("sample_data/datasets.yaml")).unwrap();
    let names: Vec<String> = sample.datasets.keys().cloned().collect();
    let mut left_out = std::collections::HashMap::new();
    for name in &names {
        let n = register_as_parquet(&sample, name, &storage.join(format!("{name}.parquet")));
        left_out.insert(name.clone(), n as u64);
    }
    // The metastore and its warehouse live with the cluster, not where crosscheck runs.
    let conf = [
        format!(
            "spark.sql.warehouse.dir=file://{}/warehouse",
            cluster.display()
        ),
        format!(
            "spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={}/metastore_db;create=true",
            cluster.display()
        ),
        format!(
            "spark.driver.extraJavaOptions=-Dderby.system.home={}",
            cluster.display()
        ),
    ];
    let tables: Vec<&String> = names.iter().skip(1).step_by(2).collect();
    let setup = format!(
        "from pyspark.sql import SparkSession\nspark = SparkSession.builder.enableHiveSupport().getOrCreate()\nspark.sql('CREATE DATABASE IF NOT EXISTS city')\nfor name in {:?}:\n    spark.read.parquet('file://{}/' + name + '.parquet').write.saveAsTable('city.' + name)\nspark.stop()\n",
        tables,
        storage.display()
    );
    std::fs::write(cluster.join("setup.py"), setup).unwrap();
    let mut cmd = crosscheck::engine::spark::submit_command(
        &crosscheck::engine::spark::find_spark_submit().unwrap(),
        standalone.url.as_str(),
        &conf
            .iter()
            .flat_map(|c| ["--conf".to_string(), c.clone()])
            .collect::<Vec<_>>(),
    );
    let out = cmd
        .arg(cluster.join("setup.py"))
        .current_dir(&cluster)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let catalog_text = std::fs::read_to_string(repo().join("sample_data/datasets.yaml")).unwrap();
    let catalog = dir.path().join("datasets.yaml");
    std::fs::write(&catalog, cluster_catalog(&catalog_text, &storage, &names)).unwrap();
    std::fs::create_dir(dir.path().join("here")).unwrap();
    let here = sample_job(&dir.path().join("here"));
    let local = run_ok(&here, "local", &[]);
    // Beside the local job: the same secret keys the lead IDs.
    let job = dir.path().join("here/cluster.yaml");
    std::fs::write(
        &job,
        format!(
            "name: test\ncatalog: {}\nrules: [{}]\noutput: {}\nas_of: 2025-06-30\n",
            catalog.display(),
            repo().join("rules").display(),
            dir.path().join("here/out").display()
        ),
    )
    .unwrap();
    // crosscheck runs from a folder of its own, which must stay empty.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut args: Vec<String> = [
        "run",
        "-q",
        "--config",
        job.to_str().unwrap(),
        "--run-id",
        "cluster",
        "--engine",
        "spark",
        "--master",
        standalone.url.as_str(),
        "--keep-bundle",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for c in &conf {
        args.extend(["--spark-conf".to_string(), c.clone()]);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crosscheck"))
        .args(&args)
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = dir.path().join("here/out/cluster");
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "crosscheck's folder holds {left:?}");

    // The bundle: the manifest names each register where it lives; no input is in it.
    let bundle = dir.path().join("here/out/cluster.spark");
    let inputs: Vec<_> = std::fs::read_dir(bundle.join("inputs")).unwrap().collect();
    assert!(inputs.is_empty(), "the bundle holds {inputs:?}");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let sources: Vec<String> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["shown"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sources.len(), names.len());
    assert_eq!(
        sources
            .iter()
            .filter(|s| s.starts_with("hive:city."))
            .count(),
        tables.len()
    );

    // The leads, with the file and sheet of each named as the local run names them.
    let shown: std::collections::HashMap<String, (String, String)> = names
        .iter()
        .map(|n| {
            let spec = &sample.datasets[n];
            let there = catalog_text_shown(n, &storage, &names);
            (
                there,
                (
                    spec.path.value.clone(),
                    spec.sheet.clone().unwrap_or_default(),
                ),
            )
        })
        .collect();
    let leads = |run: &Path, map: bool| -> Vec<Vec<String>> {
        read_csv(&run.join("anomalies.csv"))
            .into_iter()
            .map(|mut r| {
                if map && let Some((file, sheet)) = shown.get(&r[6]) {
                    // Sheet names come from the workbook, not the catalog, when absent there.
                    r[7] = if sheet.is_empty() {
                        r[7].clone()
                    } else {
                        sheet.clone()
                    };
                    r[6] = file.clone();
                }
                if map
                    && let Some((partner, row)) = r[9].rsplit_once(':')
                    && let Some((file, _)) = shown.get(partner)
                {
                    r[9] = format!("{file}:{row}");
                }
                r
            })
            .collect()
    };
    let (a, b) = (leads(&local, false), leads(&run, true));
    assert!(a.len() > 200, "{} leads", a.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), b.len());

    // Each register's accounting: the same rows loaded and rejected, the same ID quality.
    let (ml, mc) = (manifest_of(&local), manifest_of(&run));
    for name in &names {
        let find = |m: &serde_json::Value| {
            m["datasets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == name.as_str())
                .unwrap()
                .clone()
        };
        let (l, c) = (find(&ml), find(&mc));
        let lost = left_out[name];
        assert_eq!(
            l["rows_read"].as_u64().unwrap(),
            c["rows_read"].as_u64().unwrap() + lost,
            "{name}"
        );
        assert_eq!(l["rows_loaded"], c["rows_loaded"], "{name}");
        assert_eq!(
            l["rows_rejected"].as_u64().unwrap(),
            c["rows_rejected"].as_u64().unwrap() + lost,
            "{name}"
        );
        assert_eq!(l["id_quality"], c["id_quality"], "{name}");
    }
}

/// How the cluster run names a register (`cluster_catalog`'s choice).
fn catalog_text_shown(name: &str, storage: &Path, names: &[String]) -> String {
    if names.iter().position(|n| n == name).unwrap() % 2 == 1 {
        format!("hive:city.{name}")
    } else {
        format!("file://{}/{name}.parquet", storage.display())
    }
}

/// Without Spark: a job whose registers live on a cluster is refused by the local engine (and
/// by a `check` for it) with what to do, passes `check --target spark`, and compiles to a
/// bundle that names each register where it lives and holds no data.
#[test]
fn registers_on_a_cluster_are_read_by_spark_only_and_never_copied() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        crosscheck::job::catalog::Catalog::load(&repo().join("sample_data/datasets.yaml")).unwrap();
    let names: Vec<String> = sample.datasets.keys().cloned().collect();
    let text = std::fs::read_to_string(repo().join("sample_data/datasets.yaml")).unwrap();
    let catalog = dir.path().join("datasets.yaml");
    std::fs::write(
        &catalog,
        cluster_catalog(&text, Path::new("/cluster/registers"), &names),
    )
    .unwrap();
    let job = write_job(dir.path(), &catalog, &repo().join("rules"));
    let config = job.to_str().unwrap();

    let out = crosscheck(&["check", "--config", config]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dataset `pension_payments` (line 19) lives on a cluster (hive:city.pension_payments): only Spark reads it there (`run --engine spark`, `check --target spark`)"),
        "{}",
        stderr(&out)
    );
    let out = crosscheck(&["check", "--target", "spark", "--config", config]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run_job(&job, "local", &[]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dataset `pension_enrolment` could not be loaded")
            && stderr(&out).contains("only Spark reads it there"),
        "{}",
        stderr(&out)
    );

    let bundle = dir.path().join("bundle");
    let out = crosscheck(&[
        "compile",
        "-q",
        "--target",
        "spark",
        "--out",
        bundle.to_str().unwrap(),
        "--config",
        config,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["rules"].as_array().unwrap().len(), 34);
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), names.len());
    for (i, input) in inputs.iter().enumerate() {
        let name = input["dataset"].as_str().unwrap();
        assert!(input.get("path").is_none(), "{input}");
        assert_eq!(input["row"], "源行号");
        let expected = if names.iter().position(|n| n == name).unwrap() % 2 == 1 {
            serde_json::json!({ "table": format!("city.{name}") })
        } else {
            serde_json::json!({ "uri": format!("file:///cluster/registers/{name}.parquet"), "format": "parquet" })
        };
        assert_eq!(input["cluster"], expected, "input {i}");
    }
    let payments = inputs
        .iter()
        .find(|i| i["dataset"] == "pension_payments")
        .unwrap();
    assert!(
        payments["schema_ddl"]
            .as_str()
            .unwrap()
            .contains("`amount` DOUBLE"),
        "{}",
        payments["schema_ddl"]
    );
    let copies: Vec<_> = std::fs::read_dir(bundle.join("inputs")).unwrap().collect();
    assert!(copies.is_empty(), "the bundle holds {copies:?}");
}

/// A Spark standalone cluster on this machine: a master and a worker started from the pyspark
/// distribution as processes of their own (stopped on drop), the worker's executors running
/// the runner's Python on their own.
struct Standalone {
    procs: Vec<std::process::Child>,
    url: String,
}

impl Standalone {
    fn start(dir: &Path) -> Standalone {
        use std::os::unix::process::CommandExt;
        let submit = crosscheck::engine::spark::find_spark_submit().unwrap();
        let class = submit.with_file_name("spark-class");
        assert!(
            class.is_file(),
            "no spark-class beside {}",
            submit.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("spark://127.0.0.1:{port}");
        let path = std::env::join_paths(
            std::iter::once(submit.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )
        .unwrap();
        let spawn = |args: &[&str], log: &str| {
            std::process::Command::new(&class)
                .args(args)
                .env("PATH", &path)
                .env("PYSPARK_PYTHON", spark_python())
                .env("SPARK_LOCAL_IP", "127.0.0.1")
                .current_dir(dir)
                .stdout(std::fs::File::create(dir.join(format!("{log}.out"))).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("{log}.log"))).unwrap())
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let port = port.to_string();
        let master = spawn(
            &[
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--webui-port",
                "0",
            ],
            "master",
        );
        let mut cluster = Standalone {
            procs: vec![master],
            url: url.clone(),
        };
        let work = dir.join("worker");
        std::fs::create_dir_all(&work).unwrap();
        cluster.procs.push(spawn(
            &[
                "org.apache.spark.deploy.worker.Worker",
                &url,
                "--host",
                "127.0.0.1",
                "--cores",
                "2",
                "--memory",
                "2g",
                "--work-dir",
                work.to_str().unwrap(),
                "--webui-port",
                "0",
            ],
            "worker",
        ));
        // Up when the master has registered the worker.
        let started = std::time::Instant::now();
        loop {
            let log = std::fs::read_to_string(dir.join("master.log")).unwrap_or_default();
            if log.contains("Registering worker") {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "the standalone cluster did not start:\n{log}"
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        cluster
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        for p in &mut self.procs {
            // SAFETY: a signal to the process group this test started.
            unsafe { libc::kill(-(p.id() as i32), libc::SIGTERM) };
            let _ = p.wait();
        }
    }
}

/// On a standalone cluster (a master and a worker started as processes of their own, the
/// executors in the worker's) with a work folder on the cluster's storage: the dataset read
/// there by URI types as the same file does here (and the one staged from here too), the
/// application ran on the master, and the work folder is left empty.
#[cfg(unix)]
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_standalone_cluster_reads_registers_where_they_live() {
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let cluster = Standalone::start(dir.path());
    let storage = dir.path().join("storage");
    std::fs::create_dir(&storage).unwrap();
    let uri = format!("file://{}/", storage.display());
    corpus_loads_alike(&cluster.url, &["--spark-work", &uri]);
    let left: Vec<_> = std::fs::read_dir(&storage).unwrap().collect();
    assert!(left.is_empty(), "the cluster's folder holds {left:?}");
    let log = std::fs::read_to_string(dir.path().join("master.log")).unwrap();
    assert!(
        log.contains("Registering app crosscheck"),
        "no application ran on the master:\n{log}"
    );
    let executors = std::fs::read_dir(dir.path().join("worker"))
        .unwrap()
        .count();
    assert!(executors > 0, "the worker ran no executor");
    drop(cluster);
}

/// A register on the cluster that cannot be read as declared fails its own rules with why,
/// naming the register, the column and what to do; the other registers' rules still run.
#[test]
#[ignore = "needs Apache Spark (spark-submit and Java 17): `bash .ci/run` installs it and runs this"]
fn a_register_that_does_not_fit_its_declaration_fails_its_rules_with_why() {
    use polars::prelude::*;
    require_spark();
    let dir = tempfile::tempdir().unwrap();
    let mut df = df!(
        "身份证号" => ["320102195003011238", "320104194805122341", "11010519491231002X"],
        "发放金额" => ["10", "20", "30"],
        "rec" => [1i64, 2, 2],
    )
    .unwrap();
    df.with_column(
        Column::new("发放日期".into(), [19_000i32, 19_001, 19_002])
            .cast(&DataType::Date)
            .unwrap(),
    )
    .unwrap();
    let file = dir.path().join("payments.parquet");
    ParquetWriter::new(std::fs::File::create(&file).unwrap())
        .finish(&mut df)
        .unwrap();
    let uri = format!("file://{}", file.display());
    let catalog = format!(
        "datasets:
  good:
    path: {uri}
    columns:
      id_card: {{ type: id_card, aliases: [身份证号] }}
  wrong_type:
    path: {uri}
    columns:
      id_card: {{ type: id_card, aliases: [身份证号] }}
      paid_on: {{ type: money, aliases: [发放日期] }}
  no_column:
    path: {uri}
    columns:
      id_card: {{ type: id_card, aliases: [身份证号] }}
      bank_account: {{ type: text, aliases: [银行账号] }}
  twice_numbered:
    path: {uri}
    row: rec
    columns:
      id_card: {{ type: id_card, aliases: [身份证号] }}
  missing:
    path: file://{}/nowhere.parquet
    columns:
      id_card: {{ type: id_card, aliases: [身份证号] }}
",
        dir.path().display()
    );
    let rules: Vec<(String, String)> = ["good", "wrong_type", "no_column", "twice_numbered", "missing"]
        .iter()
        .map(|d| {
            (
                format!("{d}.yaml"),
                format!(
                    "id: rows_of_{d}\ntitle: 行 / rows\ndescription: 测试 / a test\nseverity: info\nrow_check:\n  sources: [{{ dataset: {d} }}]\n  condition: \"true\"\n  key: [id_card]\n"
                ),
            )
        })
        .collect();
    let rules: Vec<(&str, &str)> = rules
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let job = custom_job(dir.path(), &catalog, &rules);
    let out = run_job(&job, "r", &["--engine", "spark", "--master", "local[2]"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for expected in [
        "rule rows_of_wrong_type failed: dataset `wrong_type` could not be loaded:",
        "column 发放日期 is DATE, which cannot hold a money (paid_on); declare the column's type to match the table",
        "rule rows_of_no_column failed: dataset `no_column` could not be loaded:",
        "has no column for `bank_account` (looked for: bank_account, 银行账号); its columns are: 身份证号, 发放金额, rec, 发放日期. Add the column's name to `aliases`, or mark it `optional: true`",
        "the row column rec must number every record once (0 empty, 1 repeated)",
        "rule rows_of_missing failed: dataset `missing` could not be loaded:",
        "nowhere.parquet",
    ] {
        assert!(err.contains(expected), "{expected} not in:\n{err}");
    }
    let m = manifest_of(&dir.path().join("out/r"));
    let leads: Vec<_> = rule_status(&m)
        .into_iter()
        .filter(|(_, status, _)| status == "ok")
        .collect();
    assert_eq!(leads, [("rows_of_good".to_string(), "ok".to_string(), 3)]);
}
