//! The README's rule reference is checked against the kinds themselves: every kind the engine
//! accepts has its documented file (`plan/kinds/<kind>.rs` opening with what it flags) and a
//! row in the README's table, and every bundled rule uses only documented kinds.

mod common;

use common::repo;

#[test]
fn every_rule_kind_is_documented_in_its_file_and_in_the_readme() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for kind in crosscheck::plan::compile::KINDS {
        let file = if kind == "match" {
            "matching".to_string()
        } else {
            kind.to_string()
        };
        let source =
            std::fs::read_to_string(repo().join(format!("src/plan/kinds/{file}.rs"))).unwrap();
        assert!(
            source.starts_with(&format!("//! `{kind}` — ")),
            "src/plan/kinds/{file}.rs opens with what `{kind}` flags"
        );
        assert!(
            source.contains("//! Example") && source.contains("//! ```yaml"),
            "{kind}: an example rule"
        );
        assert!(
            source.contains("Output:") && source.contains("Limits:"),
            "{kind}: output and limits"
        );
        assert!(
            readme.contains(&format!("| `{kind}` |")),
            "README lists `{kind}`"
        );
    }
}

#[test]
fn the_readme_names_every_expression_function() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for f in crosscheck::plan::expr::FUNCTIONS {
        assert!(readme.contains(&format!("`{f}")), "README documents `{f}`");
    }
}

/// The kinds reference in the README is exactly what `crosscheck kinds` prints, and each
/// kind's keys there are exactly the keys the rule parser accepts for it.
#[test]
fn the_kinds_reference_is_the_engines_own() {
    use crosscheck::plan::kinds::reference::{REFERENCE, markdown};
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = "<!-- kinds-reference: start -->\n";
    let end = "<!-- kinds-reference: end -->";
    let from = readme
        .find(start)
        .expect("the README has the kinds reference")
        + start.len();
    let to = readme.find(end).unwrap();
    assert_eq!(
        &readme[from..to],
        markdown(),
        "README's kinds reference is stale: paste `crosscheck kinds` between the markers"
    );
    let kinds: Vec<&str> = REFERENCE.iter().map(|k| k.kind).collect();
    assert_eq!(kinds, crosscheck::plan::compile::KINDS);
    let dir = tempfile::tempdir().unwrap();
    for k in REFERENCE {
        // An unknown key makes the parser list the keys it accepts.
        let path = dir.path().join(format!("{}.yaml", k.kind));
        std::fs::write(
            &path,
            format!(
                "id: r\ntitle: t\ndescription: d\nseverity: low\n{}:\n  not_a_key: 1\n",
                k.kind
            ),
        )
        .unwrap();
        let err = crosscheck::job::rule::RuleFile::load(&path)
            .unwrap_err()
            .to_string();
        let listed = err
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{}: {err}", k.kind))
            .lines()
            .next()
            .unwrap();
        let mut accepted: Vec<&str> = listed.split(", ").map(str::trim).collect();
        let mut documented: Vec<&str> = k.keys.iter().map(|key| key.name).collect();
        accepted.sort();
        documented.sort();
        assert_eq!(documented, accepted, "{}", k.kind);
    }
}
