//! The command line for scripts: `--format json`, `--fail-on`, `explain`, exit codes.

mod common;

use common::*;

#[test]
fn fail_on_sets_exit_1_when_a_lead_at_or_above_the_severity_exists() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let job = job.to_str().unwrap();
    // The sample city has critical leads (paid after death), so any threshold is met.
    let out = crosscheck(&[
        "run",
        "-q",
        "--config",
        job,
        "--run-id",
        "a",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Without a threshold the same job exits 0.
    let out = crosscheck(&["run", "-q", "--config", job, "--run-id", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn json_summary_goes_to_stdout_and_messages_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let out = run_job(&job, "j", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    let leads: Vec<(String, u64)> = summary["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["leads"].as_u64().unwrap(),
            )
        })
        .collect();
    let truth: samplecity::GroundTruth = sample_truth();
    let expected: Vec<(String, u64)> = truth
        .leads
        .iter()
        .map(|(r, k)| (r.clone(), k.len() as u64))
        .collect();
    assert_eq!(leads, expected);
    assert!(stderr(&out).contains("rule pension_paid_after_death"));
}

#[test]
fn explain_prints_the_logical_and_the_polars_plan_without_data() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let explain = |rule: &str| crosscheck(&["explain", rule, "--config", job.to_str().unwrap()]);
    // A rule explained: exit 0 and what it printed.
    let explained = |rule: &str| {
        let out = explain(rule);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = explained("land_lost_farmer_without_requisition");
    assert!(
        text.contains("Join Anti ON l.id_card = r.id_card"),
        "{text}"
    );
    assert!(
        text.contains("Filter (scheme = '被征地农民养老保障')"),
        "{text}"
    );
    assert!(text.contains("polars plan"), "{text}");
    // A join has no aggregate: no word about crosscheck's own group-by.
    assert!(!text.contains("own group-by"), "{text}");
    // Accounts grouped by their text: the plan says the group-by is crosscheck's own.
    let text = explained("pension_shared_bank_account");
    assert!(
        text.contains("1 aggregate(s) grouped by one text column run on crosscheck's own group-by"),
        "{text}"
    );
    let out = explain("land_lost_farmer");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `land_lost_farmer_without_requisition`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_job_file_says_what_to_do() {
    let out = crosscheck(&["check", "--config", "/nonexistent/audit.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pass --config PATH"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_taken_run_id_fails_before_any_data_is_read_and_keeps_the_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let first = run_job(&job, "same", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let manifest = dir.path().join("out/same/manifest.json");
    let before = std::fs::read(&manifest).unwrap();
    // Loading refills the cache; an empty cache left empty shows nothing was read.
    let cache = dir.path().join("out/.cache");
    assert!(cache.is_dir());
    std::fs::remove_dir_all(&cache).unwrap();
    let again = run_job(&job, "same", &[]);
    assert_eq!(again.status.code(), Some(2));
    let err = stderr(&again);
    assert!(err.contains("choose another --run-id"), "{err}");
    assert!(!cache.exists(), "the second run read the extracts: {err}");
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
}

/// Screening next month's payments before they are paid: `--input` reads one file in place of
/// the dataset's declared files, typed by the same declaration (here a workbook for a Parquet
/// dataset); only the rules reading it run, and the registers come from the catalog as usual.
#[test]
fn a_file_is_screened_against_the_registers_before_it_is_paid() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let truth: samplecity::GroundTruth = serde_json::from_slice(
        &std::fs::read(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap();
    // Someone in the death register, and three people who are not.
    let dead = truth.leads["pension_paid_after_death"][0].clone();
    let alive = [
        "11010519491231002X",
        "320104194805122341",
        "320106196208083454",
    ];
    let file = dir.path().join("next_month.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["身份证号码", "姓名", "发放年月", "发放金额", "银行账号"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, id) in std::iter::once(dead.as_str()).chain(alive).enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, id).unwrap();
        ws.write_string(r, 1, "张伟").unwrap();
        ws.write_string(r, 2, "202601").unwrap();
        ws.write_number(r, 3, 2100.5).unwrap();
        ws.write_string(r, 4, format!("62170000000000{r:05}"))
            .unwrap();
    }
    wb.save(&file).unwrap();
    let out = run_job(
        &job,
        "screen",
        &[
            "--input",
            &format!("pension_payments={}", file.display()),
            "--rules",
            repo().join("rules/pension").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["skipped_rules"],
        serde_json::json!(["pension_duplicate_active", "pension_same_person_two_ids"])
    );
    let run = dir.path().join("out/screen");
    let rows = read_csv(&run.join("anomalies.csv"));
    let leads: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(leads, [("pension_paid_after_death", dead.as_str())]);
    assert_eq!(rows[1][6], file.display().to_string());
    // A dataset the catalog does not have.
    let out = run_job(&job, "bad", &["--input", "payments=x.xlsx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `pension_payments`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_master_spark_cannot_take_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    for (master, says) in [
        ("local[two]", "is not a Spark master"),
        ("sc://host:15002", "Spark Connect is not supported"),
    ] {
        let out = run_job(&job, "spark", &["--engine", "spark", "--master", master]);
        assert_eq!(out.status.code(), Some(2), "{master}");
        let err = stderr(&out);
        assert!(err.contains(says), "{master}: {err}");
        // Refused before loading: no progress past the check, nothing written.
        assert!(!err.contains("dataset "), "{err}");
        assert!(!dir.path().join("out").exists());
    }
}

/// The site's options reach spark-submit — the job's `spark:` section under the command
/// line's — without a cluster: a stand-in spark-submit records its arguments and fails, and
/// the run fails with it, leaving no bundle behind. Cluster deploy mode and a missing keytab
/// are refused before anything is read.
#[test]
fn site_options_reach_spark_submit_and_what_cannot_work_is_refused_first() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        format!(
            "{text}spark:\n  master: yarn\n  queue: audit\n  conf: {{ spark.executor.memory: 4g, \
             spark.dynamicAllocation.enabled: 'true' }}\n"
        ),
    )
    .unwrap();
    let keytab = dir.path().join("audit.keytab");
    std::fs::write(&keytab, b"keytab").unwrap();
    let recorded = dir.path().join("args.txt");
    let fake = dir.path().join("spark-submit");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho 'Exception in thread \"main\" org.apache.hadoop.security.AccessControlException: queue audit is closed' >&2\nexit 3\n",
            recorded.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "-q",
            "--config",
            job.to_str().unwrap(),
            "--run-id",
            "s",
            "--engine",
            "spark",
            "--rules",
            "pension_paid_after_death",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_crosscheck"))
            .args(&args)
            .env("SPARK_SUBMIT", &fake)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--spark-conf",
        "spark.executor.memory=8g",
        "--principal",
        "audit@CITY.GOV",
        "--keytab",
        keytab.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cause: Exception in thread \"main\" org.apache.hadoop.security.AccessControlException: queue audit is closed"),
        "{err}"
    );
    let args = std::fs::read_to_string(&recorded).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args[..12],
        [
            "--master",
            "yarn",
            "--queue",
            "audit",
            "--principal",
            "audit@CITY.GOV",
            "--keytab",
            keytab.to_str().unwrap(),
            "--conf",
            "spark.executor.memory=8g",
            "--conf",
            "spark.dynamicAllocation.enabled=true",
        ]
    );
    assert!(args[12].ends_with("runner.py") && args[13].ends_with("manifest.json"));
    // The failed run's bundle (copies of the data) is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("spark"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    std::fs::remove_file(&recorded).unwrap();
    for (extra, says) in [
        (
            &["--deploy-mode", "cluster"][..],
            "--deploy-mode cluster: the results come back through this machine's disk",
        ),
        (
            &["--principal", "audit@CITY.GOV"][..],
            "Kerberos needs both",
        ),
        (
            &["--principal", "a@B", "--keytab", "/nonexistent/k.keytab"][..],
            "no such file",
        ),
        (&["--spark-conf", "noequals"][..], "write KEY=VALUE"),
    ] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(says), "{extra:?}: {}", stderr(&out));
        assert!(!recorded.exists(), "{extra:?} reached spark-submit");
    }
}

/// `import-results` refuses what is not this job's: a bundle without results yet, and results
/// of a rule whose parameters changed since the bundle was compiled.
#[test]
fn import_results_takes_only_the_bundle_of_these_rules_and_extracts() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let bundle = compile_bundle(&job, dir.path());
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import-results",
            bundle.to_str().unwrap(),
            "-q",
            "--config",
            job.to_str().unwrap(),
            "--run-id",
            "imported",
        ];
        args.extend_from_slice(extra);
        crosscheck(&args)
    };
    let out = import(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no results here") && err.contains("spark-submit"),
        "{err}"
    );
    // Results there, but the job's parameters moved on since the bundle was compiled.
    std::fs::create_dir_all(bundle.join("results")).unwrap();
    std::fs::write(bundle.join("results/status.json"), "{\"rules\": {}}").unwrap();
    let out = import(&["--param", "pension_shared_bank_account.min_people=4"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("rule `pension_shared_bank_account`: the bundle ran other statements"),
        "{err}"
    );
    assert!(!dir.path().join("out/imported").exists());
}
