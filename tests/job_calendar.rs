//! Next year's holidays without a new build: a job names a calendar file extending the
//! shipped one; `check` refuses a malformed file with its line.

mod common;

use common::*;

const CATALOG: &str = "datasets:
  approvals:
    path: approvals.csv
    columns:
      case_no: { type: text, aliases: [案号] }
      accepted: { type: date, aliases: [受理日期] }
      decided: { type: date, aliases: [办结日期] }
";

const RULE: &str = "id: slow_approval
title: 超过3个工作日 / More than 3 working days
description: working days after acceptance up to the decision
severity: low
evidence:
  - { label: 工作日 / Working days, expr: \"working_days(accepted, decided)\" }
row_check:
  sources: [{ dataset: approvals }]
  condition: \"working_days(accepted, decided) >= 0\"
  key: [case_no]
";

fn job(dir: &std::path::Path, calendar: Option<&str>) -> std::path::PathBuf {
    let job = custom_job(dir, CATALOG, &[("slow.yaml", RULE)]);
    std::fs::write(
        data_dir(dir).join("approvals.csv"),
        "案号,受理日期,办结日期\nA1,2027-01-01,2027-01-07\n",
    )
    .unwrap();
    if let Some(text) = calendar {
        std::fs::write(dir.join("holidays-2027.csv"), text).unwrap();
        let mut j = std::fs::read_to_string(&job).unwrap();
        j.push_str("calendar: holidays-2027.csv\n");
        std::fs::write(&job, j).unwrap();
    }
    job
}

#[test]
fn a_job_calendar_file_adds_next_years_holidays() {
    // Without it, 2027 is outside the calendar: the rule stops saying how to add the year.
    let dir = tempfile::tempdir().unwrap();
    let out = run_job(&job(dir.path(), None), "r1", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("2027-01-07 is outside the working-day calendar (2015-01-01 to 2026-12-31)")
            && stderr(&out).contains("`calendar:` in the job"),
        "{}",
        stderr(&out)
    );

    // With a made-up holiday on Monday 4 January 2027: Tuesday to Thursday count, 3 days.
    let dir = tempfile::tempdir().unwrap();
    let job = job(
        dir.path(),
        Some("# made up for the test\ndate,kind,occasion\n2027-01-04,holiday,测试假日 / test\n"),
    );
    let run = run_ok(&job, "r1", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    assert_eq!(rows[1][11], "工作日 / Working days: 3", "{rows:?}");
    let m = manifest_of(&run);
    assert_eq!(m["calendar"]["last_year"], 2027);
    assert!(
        m["calendar"]["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
}

#[test]
fn a_malformed_calendar_file_is_a_check_error_with_its_line() {
    for (text, line, what) in [
        (
            "date,kind,occasion\n2027-01-04,holiday,x\n2027-01-05,workday,x\n",
            3,
            "a make-up working day",
        ),
        (
            "date,kind,occasion\n2027-01-04,holiday,x\n2027-01-04,holiday,y\n",
            3,
            "listed twice",
        ),
        (
            "date,kind,occasion\n2027-13-01,holiday,x\n",
            2,
            "is not a date",
        ),
        (
            "date,kind,occasion\n2027-01-04,off,x\n",
            2,
            "neither `holiday` nor `workday`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path(), Some(text));
        let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("holidays-2027.csv:{line}:")) && err.contains(what),
            "{text}: {err}"
        );
    }
}
