//! Keeps the house as built: data flows one way (cli → commands → output → engine → plan →
//! job/ingest, diff after output), so no module reaches up into one that uses it.

use std::path::Path;

/// Every `crate::<module>` the Rust files under `path` (a folder or one file) name.
fn uses(path: &Path, out: &mut Vec<(String, String)>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            uses(&e.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|x| x == "rs") {
        let text = std::fs::read_to_string(path).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let m: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((path.display().to_string(), m));
        }
    }
}

#[test]
fn no_module_reaches_up_into_one_that_uses_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Each module, and the modules above it it must not name.
    const TOP: &[&str] = &["cli", "commands", "profile"];
    let above = |names: &[&'static str]| -> Vec<&'static str> {
        names.iter().chain(TOP).copied().collect()
    };
    let forbidden: Vec<(&str, Vec<&str>)> = vec![
        (
            "private",
            above(&["job", "ingest", "plan", "engine", "output", "diff"]),
        ),
        (
            "job",
            above(&["ingest", "plan", "engine", "output", "diff"]),
        ),
        ("ingest", above(&["plan", "engine", "output", "diff"])),
        ("plan", above(&["engine", "output", "diff"])),
        ("engine", above(&["output", "diff"])),
        ("output", above(&["diff"])),
        ("diff", above(&[])),
        ("commands", vec!["cli"]),
    ];
    let mut broken = Vec::new();
    for (module, above) in forbidden {
        let mut found = Vec::new();
        let dir = src.join(module);
        uses(
            &if dir.is_dir() {
                dir
            } else {
                src.join(format!("{module}.rs"))
            },
            &mut found,
        );
        for (file, m) in found {
            if above.contains(&m.as_str()) {
                broken.push(format!("{file} names crate::{m}"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The sample city generator knows nothing of the engine it tests: its crate does not depend
/// on crosscheck, so its IDs and its ground truth come from the standard, not the normaliser.
#[test]
fn the_sample_city_generator_does_not_depend_on_the_engine() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samplecity/Cargo.toml"),
    )
    .unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap();
    assert!(
        !deps
            .lines()
            .any(|l| l.trim_start().starts_with("crosscheck")),
        "{deps}"
    );
    for e in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("samplecity/src")).unwrap()
    {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                !text.contains("crosscheck::"),
                "{} names the engine",
                p.display()
            );
        }
    }
}
