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
    let truth: crosscheck::samplecity::GroundTruth = serde_json::from_str(
        &std::fs::read_to_string(repo().join("sample_data/ground_truth.json")).unwrap(),
    )
    .unwrap();
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
