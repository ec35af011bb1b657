//! A list for each team (分办): `run --split-by` writes one workbook per value under `teams/`,
//! each with only its own leads, masked as the whole run is, adding up to the whole; the teams'
//! returned workbooks come back as one round of dispositions, merged by lead ID.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use common::*;

/// Every rule sheet's rows of a workbook, by header: (sheet, header → cell text).
fn lead_rows(path: &Path) -> Vec<(String, BTreeMap<String, String>)> {
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        let mut rows = range.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|d| d.to_string()).collect();
        if header[0] != "线索编号 Lead ID" {
            continue;
        }
        for r in rows {
            let cells = header
                .iter()
                .zip(r)
                .map(|(h, d)| {
                    let text = match d {
                        Data::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (h.clone(), text)
                })
                .collect();
            out.push((name.clone(), cells));
        }
    }
    out
}

/// Lead IDs of a workbook's rule sheets.
fn lead_ids(path: &Path) -> BTreeSet<String> {
    lead_rows(path)
        .into_iter()
        .map(|(_, r)| r["线索编号 Lead ID"].clone())
        .collect()
}

/// The summary's leads per rule.
fn summary_leads(path: &Path) -> BTreeMap<String, f64> {
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = wb.worksheet_range("汇总 Summary").unwrap();
    range
        .rows()
        .skip(1)
        .take_while(|r| r[0] != Data::Empty)
        .filter_map(|r| match (&r[0], &r[3]) {
            (Data::String(rule), Data::Float(n)) => Some((rule.clone(), *n)),
            _ => None,
        })
        .collect()
}

fn team_files(run: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(run.join("teams"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn each_county_gets_only_its_leads_and_the_teams_add_up_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_ok(
        &sample_job(dir.path()),
        "split",
        &["--split-by", "region", "--mask"],
    );
    let whole = lead_rows(&run.join("anomalies.xlsx"));
    let whole_ids: BTreeSet<String> = whole
        .iter()
        .map(|(_, r)| r["线索编号 Lead ID"].clone())
        .collect();
    // The sample city's people live in eight districts; leads not about a person (grain depots,
    // zones, funds) have no region and go to the unassigned workbook.
    let files = team_files(&run);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "320102.xlsx",
            "320104.xlsx",
            "320105.xlsx",
            "320106.xlsx",
            "320111.xlsx",
            "320113.xlsx",
            "320114.xlsx",
            "320115.xlsx",
            "unassigned.xlsx"
        ]
    );
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut per_rule: BTreeMap<String, f64> = BTreeMap::new();
    for f in &files {
        let region = f.file_stem().unwrap().to_string_lossy().to_string();
        let rows = lead_rows(f);
        for (sheet, r) in &rows {
            let key = &r["线索键 Key"];
            if region == "unassigned" {
                assert!(!key.starts_with("32"), "{sheet}: {key} has a region");
            } else {
                assert!(key.starts_with(&region), "{sheet}: {key} in {region}");
            }
            // Masked as the whole run: no full ID in any cell.
            for (h, v) in r {
                assert!(!has_full_id(v), "{}: {h} = {v}", f.display());
            }
        }
        let ids = lead_ids(f);
        assert!(seen.is_disjoint(&ids), "a lead in two teams' workbooks");
        seen.extend(ids);
        for (rule, n) in summary_leads(f) {
            *per_rule.entry(rule).or_default() += n;
        }
    }
    // Nothing dropped, nothing added; each team's summary counts its own leads.
    assert_eq!(seen, whole_ids);
    assert_eq!(per_rule, summary_leads(&run.join("anomalies.xlsx")));
    let manifest = manifest_of(&run);
    assert_eq!(manifest["teams"]["split_by"], "region");
    let books = manifest["teams"]["workbooks"].as_array().unwrap();
    let leads: u64 = books.iter().map(|b| b["leads"].as_u64().unwrap()).sum();
    let rows: u64 = books.iter().map(|b| b["rows"].as_u64().unwrap()).sum();
    assert_eq!(leads, manifest["totals"]["leads"].as_u64().unwrap());
    assert_eq!(rows, manifest["totals"]["rows"].as_u64().unwrap());
    assert_eq!(books.last().unwrap()["value"], serde_json::Value::Null);
}

#[test]
fn an_evidence_label_splits_by_street_and_a_bad_expression_fails_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let run = run_ok(&job, "street", &["--split-by", "\"所属街道 / Street\""]);
    // Only the dibao-deceased rule shows the street: its leads by street, the rest unassigned.
    let mut by_team: BTreeMap<String, usize> = BTreeMap::new();
    for f in team_files(&run) {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        for (sheet, r) in lead_rows(&f) {
            if stem != "unassigned" {
                assert_eq!(sheet, "dibao_recipient_deceased");
                assert_eq!(r["所属街道 / Street"], stem);
            }
            *by_team.entry(stem.clone()).or_default() += 1;
        }
    }
    let deceased_rows = lead_rows(&run.join("anomalies.xlsx"))
        .into_iter()
        .filter(|(s, _)| s == "dibao_recipient_deceased")
        .count();
    let assigned: usize = by_team
        .iter()
        .filter(|(k, _)| *k != "unassigned")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(assigned, deceased_rows);

    let out = run_job(&job, "typo", &["--split-by", "regoin"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--split-by") && err.contains("regoin"),
        "{err}"
    );
    assert!(err.contains("did you mean `region`?"), "{err}");
    assert!(!dir.path().join("out/typo").exists());
}

#[test]
fn the_teams_returned_workbooks_come_back_as_one_round_of_dispositions() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let run = run_ok(&job, "r1", &["--split-by", "region"]);
    // Two teams fill in their workbooks: every lead of theirs confirmed / explained.
    let returned = dir.path().join("returned");
    std::fs::create_dir_all(&returned).unwrap();
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    let mut team_of: BTreeMap<String, &str> = BTreeMap::new();
    for (team, status) in [("320102", "属实"), ("320104", "已说明")] {
        let rows = lead_rows(&run.join(format!("teams/{team}.xlsx")));
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in [
            "线索编号 Lead ID",
            "线索键 Key",
            "核查状态 Status",
            "核查说明 Note",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (i, (_, r)) in rows.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, &r["线索编号 Lead ID"]).unwrap();
            ws.write_string(row, 1, &r["线索键 Key"]).unwrap();
            ws.write_string(row, 2, status).unwrap();
            ws.write_string(row, 3, "核查完毕").unwrap();
            expected.insert(r["线索编号 Lead ID"].clone(), status);
            team_of.insert(r["线索编号 Lead ID"].clone(), team);
        }
        wb.save(returned.join(format!("{team}.xlsx"))).unwrap();
    }
    // A spreadsheet's lock file beside them is not a dispositions file.
    std::fs::write(returned.join("~$320102.xlsx"), b"lock").unwrap();
    assert!(expected.len() > 5);

    let r2 = run_ok(&job, "r2", &["--dispositions", returned.to_str().unwrap()]);
    let got: BTreeMap<String, String> = lead_rows(&r2.join("anomalies.xlsx"))
        .into_iter()
        .filter(|(_, r)| !r["核查状态 Status"].is_empty())
        .map(|(_, r)| (r["线索编号 Lead ID"].clone(), r["核查状态 Status"].clone()))
        .collect();
    let want: BTreeMap<String, String> = expected
        .iter()
        .map(|(id, s)| {
            let label = if *s == "属实" {
                "属实 confirmed"
            } else {
                "已说明 explained"
            };
            (id.clone(), label.to_string())
        })
        .collect();
    assert_eq!(got, want);

    // The same lead returned with two statuses by two files: an error naming both.
    let (lead, _) = expected.iter().next().unwrap();
    std::fs::write(
        returned.join("late.csv"),
        format!("lead_id,status,note\n{lead},误报,另一组的结论\n"),
    )
    .unwrap();
    let out = run_job(&job, "r3", &["--dispositions", returned.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("lead {lead} has two statuses")),
        "{err}"
    );
    assert!(
        err.contains(&format!("returned/{}.xlsx", team_of[lead])) && err.contains("late.csv"),
        "{err}"
    );
}

/// LibreOffice opens every team workbook: each converts to CSV headless, and the lead IDs it
/// reads are the ones the workbook holds.
#[test]
#[ignore = "needs LibreOffice (soffice): `bash .ci/run` installs it and runs this"]
fn every_team_workbook_opens_in_libreoffice() {
    let soffice = which("soffice").expect(
        "this test needs LibreOffice: run `bash .ci/run`, which installs it \
         (apt-get install libreoffice-calc-nogui)",
    );
    let dir = tempfile::tempdir().unwrap();
    let run = run_ok(
        &sample_job(dir.path()),
        "lo",
        &["--split-by", "region", "--mask"],
    );
    let profile = dir.path().join("lo-profile");
    for f in team_files(&run) {
        let out = dir.path().join("csv");
        let status = std::process::Command::new(&soffice)
            .arg("--headless")
            .arg("--norestore")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .arg("--convert-to")
            // Every sheet, UTF-8 (76), comma-separated.
            .arg("csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
            .arg("--outdir")
            .arg(&out)
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let mut ids = BTreeSet::new();
        for csv in std::fs::read_dir(&out).unwrap() {
            let csv = csv.unwrap().path();
            let name = csv.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with(&format!("{stem}-")) {
                continue;
            }
            let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_path(&csv)
                .unwrap()
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            if rows.first().map(|h| h[0].as_str()) == Some("线索编号 Lead ID") {
                ids.extend(rows[1..].iter().map(|r| r[0].clone()));
            }
        }
        assert_eq!(ids, lead_ids(&f), "{}", f.display());
    }
}

/// An ID number the mask should have hidden: 17 digits and a digit or X, not part of a longer
/// number (a 19-digit bank account is not an ID).
fn has_full_id(v: &str) -> bool {
    v.split(|c: char| !(c.is_ascii_digit() || c == 'X'))
        .any(|run| run.len() == 18 && run[..17].bytes().all(|b| b.is_ascii_digit()))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

#[test]
fn a_split_into_more_teams_than_a_city_has_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    // A rule with a lead per enrolment (1,400 and more), split by its key: a workbook per lead.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("every.yaml"),
        "id: every_enrolment\ntitle: 每条参保记录 / Every enrolment\ndescription: 测试 / a test\nseverity: info\n\
         evidence:\n  - { label: 姓名 / Name, expr: name }\nrow_check:\n  sources: [{ dataset: \
         pension_enrolment }]\n  condition: \"scheme IS NOT NULL\"\n  key: [\"concat(coalesce(\
         id_card_raw, ''), '#', coalesce(name, ''), '#', coalesce(status, ''), '#', \
         coalesce(region, ''), '#', coalesce(scheme, ''))\"]\n",
    )
    .unwrap();
    let job = write_job(
        dir.path(),
        &repo().join("sample_data/datasets.yaml"),
        &rules,
    );
    let out = run_job(&job, "many", &["--split-by", "key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("more than 1000: split by a coarser value"),
        "{err}"
    );
    assert!(!dir.path().join("out/many").exists(), "nothing written");
    // The same run by the key's first six characters (the region of the raw ID): a handful.
    run_ok(&job, "few", &["--split-by", "substr(key, 1, 6)"]);
    let books = std::fs::read_dir(dir.path().join("out/few/teams"))
        .unwrap()
        .count();
    assert!((2..=40).contains(&books), "{books}");
}
