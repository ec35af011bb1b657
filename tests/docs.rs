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
