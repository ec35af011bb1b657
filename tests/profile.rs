//! `crosscheck profile` on the sample city's folder with no catalog: the draft it writes is
//! accepted by `check` as it stands, types every ID, date and money column as the bundled
//! catalog does, and gives columns sharing values across files one name.

mod common;

use std::collections::BTreeMap;

use common::*;
use crosscheck::job::catalog::{Catalog, SemanticType};

#[test]
fn the_draft_catalog_of_an_undescribed_folder_checks_and_types_like_the_bundled_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("extracts");
    std::fs::create_dir_all(&data).unwrap();
    for e in std::fs::read_dir(repo().join("sample_data")).unwrap() {
        let p = e.unwrap().path();
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default();
        if ["csv", "xlsx", "parquet"].contains(&ext.as_str()) {
            std::fs::copy(&p, data.join(p.file_name().unwrap())).unwrap();
        }
    }
    let draft = dir.path().join("datasets.yaml");
    let out = crosscheck(&[
        "profile",
        data.to_str().unwrap(),
        "--write",
        draft.to_str().unwrap(),
        "--mask",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("编码 encoding: GBK"), "{report}");
    // Masked samples: no full ID in the report.
    assert!(
        !report
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() == 18),
        "an unmasked ID in the report"
    );
    // Never over an existing file.
    let again = crosscheck(&[
        "profile",
        data.to_str().unwrap(),
        "--write",
        draft.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));

    // `check` accepts the draft as it stands.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let job = write_job(dir.path(), &draft, &rules);
    let check = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));

    // Every ID, date and money column of the bundled catalog has the same type in the draft.
    let bundled = Catalog::load(&repo().join("sample_data/datasets.yaml")).unwrap();
    let drafted = Catalog::load(&draft).unwrap();
    let by_file: BTreeMap<String, &crosscheck::job::catalog::DatasetSpec> = drafted
        .datasets
        .values()
        .map(|d| (d.path.value.trim_start_matches("extracts/").to_string(), d))
        .collect();
    let mut compared = 0;
    for ds in bundled.datasets.values() {
        let d = by_file[&ds.path.value];
        for (name, col) in &ds.columns {
            if !matches!(
                col.ty,
                SemanticType::IdCard | SemanticType::Date | SemanticType::Money
            ) {
                continue;
            }
            let found = d.columns.values().find(|c| {
                c.aliases
                    .iter()
                    .any(|a| col.aliases.contains(a) || a == name)
            });
            let Some(found) = found else {
                panic!("{}: no drafted column for `{name}`", ds.path.value)
            };
            assert_eq!(found.ty, col.ty, "{} `{name}`", ds.path.value);
            compared += 1;
        }
    }
    assert!(compared >= 50, "{compared}");

    // Columns sharing values across files share a name: every ID column is `id_card`, and
    // the zone projects' numbers have one name in all three files holding them.
    let names_of = |file: &str, header: &str| -> String {
        let d = by_file[file];
        d.columns
            .iter()
            .find(|(_, c)| c.aliases.iter().any(|a| a == header))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| panic!("{file}: {header}"))
    };
    for (file, header) in [
        ("pension_enrolment.csv", "身份证号"),
        ("death_register.csv", "公民身份号码"),
        ("property_register.csv", "权利人证件号"),
    ] {
        assert_eq!(names_of(file, header), "id_card");
    }
    let project = names_of("zone_projects.xlsx", "项目编号");
    assert_eq!(names_of("zone_investment.csv", "项目编号"), project);
    assert_eq!(names_of("zone_production.csv", "项目编号"), project);
}
