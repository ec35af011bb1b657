//! `crosscheck test`: the fixtures inside each rule run through the real loader, pass for
//! every bundled rule, and fail — naming the rule and the fixture — when an expectation changes.

mod common;

use common::*;

#[test]
fn every_bundled_rule_has_a_hit_and_a_near_miss_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let job = crosscheck::job::Job::load(&sample_job(dir.path())).unwrap();
    for rule in &job.rules {
        let tests = &rule.spec.tests;
        let hit = tests
            .iter()
            .any(|t| t.expect.keys.as_ref().is_some_and(|k| !k.is_empty()));
        let miss = tests.iter().any(|t| {
            t.expect.count == Some(0) || t.expect.keys.as_ref().is_some_and(Vec::is_empty)
        });
        assert!(
            hit && miss,
            "rule {} needs a hit and a near-miss fixture",
            rule.id()
        );
        // Money is worked by hand in a fixture, not only against the generator.
        if rule.spec.amount.is_some() {
            assert!(
                tests.iter().any(|t| t.expect.amount.is_some()),
                "rule {} declares `amount` and needs a fixture expecting one",
                rule.id()
            );
        }
    }
}

#[test]
fn bundled_fixtures_pass() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let out = crosscheck(&["test", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "70 passed, 0 failed"
    );
}

#[test]
fn a_changed_expectation_fails_naming_the_rule_and_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_tree(&repo().join("rules"), &rules);
    let path = rules.join("pension/paid_after_death.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("expect: { count: 0 }", "expect: { count: 1 }"),
    )
    .unwrap();
    let job = write_job(
        dir.path(),
        &repo().join("sample_data/datasets.yaml"),
        &rules,
    );
    let out = crosscheck(&[
        "test",
        rules.join("pension").to_str().unwrap(),
        "--config",
        job.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("FAILED pension_paid_after_death :: 死亡当月发放属正常 / a payment for the month of death is normal"),
        "{err}"
    );
    assert!(err.contains("expected 1 lead(s), got 0"), "{err}");
    assert!(err.contains("paid_after_death.yaml:"), "{err}");
    // Only the pension folder was tested: 4 rules, 8 fixtures.
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "7 passed, 1 failed"
    );
}
