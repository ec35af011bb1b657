//! Broken rules and broken data: `check` names the file, line and column and what to do;
//! `run` with one broken rule still runs the others and exits 2.

mod common;

use common::*;

/// The bundled rules copied into `dir/rules`, with `edit` applied to one file.
fn broken_rules(dir: &std::path::Path, file: &str, from: &str, to: &str) -> std::path::PathBuf {
    let rules = dir.join("rules");
    copy_tree(&repo().join("rules"), &rules);
    let path = rules.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} contains {from}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    write_job(dir, &repo().join("sample_data/datasets.yaml"), &rules)
}

#[test]
fn unknown_column_fails_check_with_file_line_column_and_nearest_name() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "dibao/owns_car.yaml",
        "l.id_card = r.owner_id",
        "l.id_crad = r.owner_id",
    );
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("dibao/owns_car.yaml:36:10: unknown column `id_crad` in dataset `dibao_roll`"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `l.id_card`?"), "{err}");
}

#[test]
fn every_problem_of_a_job_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "dibao/public_payroll.yaml",
        "severity: high",
        "severity: warning",
    );
    let text =
        std::fs::read_to_string(dir.path().join("rules/land/without_requisition.yaml")).unwrap();
    std::fs::write(
        dir.path().join("rules/land/without_requisition.yaml"),
        text.replace("\nevidence:", "\nevidnce:"),
    )
    .unwrap();
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("public_payroll.yaml:10:11: unknown variant `warning`"),
        "{err}"
    );
    assert!(
        err.contains("help: valid values: info, low, medium, high, critical"),
        "{err}"
    );
    assert!(
        err.contains("without_requisition.yaml:11:1: unknown field `evidnce`"),
        "{err}"
    );
    assert!(err.contains("did you mean `evidence`?"), "{err}");
    assert!(err.contains("2 errors"), "{err}");
}

#[test]
fn a_date_compared_with_text_is_an_error_at_the_operand() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "pension/paid_after_death.yaml",
        "year_month(l.pay_month) > year_month(r.death_date)",
        "l.pay_month > r.name",
    );
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("paid_after_death.yaml:21:29: comparison between a date and a text"),
        "{err}"
    );
}

#[test]
fn run_with_one_broken_rule_runs_the_others_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "dibao/owns_car.yaml",
        "l.id_card = r.owner_id",
        "l.id_crad = r.owner_id",
    );
    let out = run_job(&job, "r", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let manifest: serde_json::Value = manifest_of(&dir.path().join("out/r"));
    let ran: Vec<&str> = manifest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ran.len(), 33, "every bundled rule but the broken one");
    assert!(!ran.contains(&"dibao_owns_car"));
    assert_eq!(manifest["rule_errors"][0]["line"], 36);
    let leads = read_csv(&dir.path().join("out/r/anomalies.csv"));
    assert!(
        leads[1..]
            .iter()
            .any(|r| r[0] == "pension_paid_after_death")
    );
}

#[test]
fn a_dataset_that_cannot_be_loaded_fails_its_rules_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_tree(&repo().join("sample_data"), &data);
    std::fs::remove_file(data.join("vehicle_register.csv")).unwrap();
    let job = write_job(
        dir.path(),
        &data.join("datasets.yaml"),
        &repo().join("rules"),
    );
    let out = run_job(&job, "r", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: rule dibao_owns_car failed: dataset `vehicle_register` could not be loaded"
        ),
        "{err}"
    );
    assert!(
        err.contains("no file matches `vehicle_register.csv`"),
        "{err}"
    );
    let manifest: serde_json::Value = manifest_of(&dir.path().join("out/r"));
    assert_eq!(manifest["totals"]["rules_failed"], 1);
    assert_eq!(manifest["totals"]["rules_ok"], 33);
}

#[test]
fn a_csv_with_a_ragged_row_and_a_bad_amount_loads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    // GBK bytes, as a county office exports them.
    let text = "姓名,身份证号,月养老金\n张三,11010519491231002X,\"1,234.50\"\n李四,110105491231002\n王五,110105194912310021,待核定\n赵六,'11010519491231002x ,88元\n";
    let (bytes, _, _) = encoding_rs::GBK.encode(text);
    std::fs::write(data.join("p.csv"), &bytes).unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  p:\n    path: p.csv\n    columns:\n      name: { type: text, aliases: [姓名] }\n      id_card: { type: id_card, aliases: [身份证号] }\n      amount: { type: money, aliases: [月养老金] }\n",
        &[(
            "big.yaml",
            "id: big\ntitle: 大额 / Big\ndescription: test\nseverity: low\nevidence: [{ label: 金额, expr: amount }]\nrow_check:\n  sources: [{ dataset: p }]\n  condition: amount > 100\n  key: [id_card]\n",
        )],
    );
    let run = run_ok(&job, "r", &[]);
    let rejected = read_csv(&run.join("rejected/p.csv"));
    assert_eq!(rejected.len(), 3);
    assert_eq!(
        (rejected[1][2].as_str(), rejected[2][2].as_str()),
        ("3", "4")
    );
    assert!(rejected[1][3].contains("row has 2 fields, the header has 3"));
    assert!(rejected[2][3].contains("月养老金 (amount): '待核定' is not a number"));
    let manifest: serde_json::Value = manifest_of(&run);
    let d = &manifest["datasets"][0];
    assert_eq!(
        (
            d["rows_read"].as_u64(),
            d["rows_loaded"].as_u64(),
            d["rows_rejected"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(d["files"][0]["encoding"], "GB18030");
    // The two loaded rows are the same person (apostrophe, lower-case x, trailing space).
    let leads = read_csv(&run.join("anomalies.csv"));
    let keys: Vec<&str> = leads[1..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(keys, ["11010519491231002X"]);
    assert_eq!(leads[1][8], "2");
}

#[test]
fn check_reads_headers_and_names_a_file_missing_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_tree(&repo().join("sample_data"), &data);
    let catalog = std::fs::read_to_string(data.join("datasets.yaml")).unwrap();
    std::fs::write(
        data.join("datasets.yaml"),
        catalog.replace("aliases: [权利人证件号, 证件号码]", "aliases: [证件号码]"),
    )
    .unwrap();
    let job = write_job(
        dir.path(),
        &data.join("datasets.yaml"),
        &repo().join("rules"),
    );
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "property_register.csv: dataset `property_register`: no header for column `owner_id`"
        ),
        "{err}"
    );
    // The GB18030 header was decoded: the message lists it as the file has it.
    assert!(
        err.contains("the file's headers are: 权利人, 权利人证件号, 不动产单元号"),
        "{err}"
    );
    assert!(
        err.contains("1 dataset(s) cannot be loaded as declared"),
        "{err}"
    );
    // The untouched sample passes.
    let ok = crosscheck(&[
        "check",
        "--config",
        sample_job(dir.path()).to_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}

#[test]
fn a_glob_of_yearly_files_with_drifting_headers_and_encodings_loads_as_one_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    // 2024: GBK, header 身份证号; 2025: UTF-8 with BOM, header 身份证号码 and columns reordered.
    let (gbk, _, _) = encoding_rs::GBK.encode("姓名,身份证号,金额\n张三,11010519491231002X,100\n");
    std::fs::write(data.join("roll_2024.csv"), &gbk).unwrap();
    std::fs::write(
        data.join("roll_2025.csv"),
        "\u{feff}金额,身份证号码,姓名\n200,110105491231002,张三\n300,320102195003011238,李四\n",
    )
    .unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  roll:\n    path: roll_*.csv\n    columns:\n      name: { type: name, aliases: [姓名] }\n      id_card: { type: id_card, aliases: [身份证号, 身份证号码] }\n      amount: { type: money, aliases: [金额] }\n",
        &[(
            "twice.yaml",
            "id: twice\ntitle: 两年都在 / In both years\ndescription: test\nseverity: low\nevidence: [{ label: 金额, expr: amount }]\nduplicate:\n  sources: [{ dataset: roll }]\n  key: [id_card]\n",
        )],
    );
    let run = run_ok(&job, "r", &[]);
    let leads = read_csv(&run.join("anomalies.csv"));
    let got: Vec<(&str, &str, &str)> = leads[1..]
        .iter()
        .map(|r| (r[4].as_str(), r[6].as_str(), r[8].as_str()))
        .collect();
    // The same person in both files, once under the 15-digit ID; each row keeps its own file.
    assert_eq!(
        got,
        [
            ("11010519491231002X", "roll_2024.csv", "2"),
            ("11010519491231002X", "roll_2025.csv", "2")
        ]
    );
    let manifest: serde_json::Value = manifest_of(&run);
    let files = &manifest["datasets"][0]["files"];
    assert_eq!(
        (files[0]["encoding"].as_str(), files[1]["encoding"].as_str()),
        (Some("GB18030"), Some("UTF-8 BOM"))
    );
    assert_eq!(manifest["datasets"][0]["rows_read"], 3);
}

#[test]
fn a_title_above_the_header_is_skipped_with_header_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    // CSV: a title, a blank line, the header on line 3.
    std::fs::write(
        data.join("a.csv"),
        "玄武区2025年低保名册\n\n姓名,身份证号\n张三,11010519491231002X\n",
    )
    .unwrap();
    // xlsx: a title in row 1, the header in row 2.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "秦淮区2025年低保名册").unwrap();
    for (c, v) in ["姓名", "身份证号"].iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    ws.write_string(2, 0, "李四").unwrap();
    ws.write_string(2, 1, "110105491231002").unwrap();
    wb.save(data.join("b.xlsx")).unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  a:\n    path: a.csv\n    header_row: 3\n    columns:\n      name: { type: name, aliases: [姓名] }\n      id_card: { type: id_card, aliases: [身份证号] }\n  b:\n    path: b.xlsx\n    header_row: 2\n    columns:\n      name: { type: name, aliases: [姓名] }\n      id_card: { type: id_card, aliases: [身份证号] }\n",
        &[(
            "both.yaml",
            "id: both\ntitle: 两区都有 / In both\ndescription: test\nseverity: low\nduplicate:\n  sources: [{ dataset: a }, { dataset: b }]\n  key: [id_card]\n",
        )],
    );
    let check = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let run = run_ok(&job, "r", &[]);
    let leads = read_csv(&run.join("anomalies.csv"));
    let got: Vec<(&str, &str, &str)> = leads[1..]
        .iter()
        .map(|r| (r[4].as_str(), r[6].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("11010519491231002X", "a.csv", "4"),
            ("11010519491231002X", "b.xlsx", "3")
        ]
    );
    let m = manifest_of(&run);
    assert_eq!(
        (
            m["datasets"][0]["rows_read"].as_u64(),
            m["datasets"][1]["rows_read"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[test]
fn two_headers_matching_one_column_are_an_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    std::fs::write(
        data.join("p.csv"),
        "姓名,身份证号,配偶姓名,身份证号\n张三,11010519491231002X,李四,320102195003011238\n",
    )
    .unwrap();
    let job = custom_job(
        dir.path(),
        "datasets:\n  p:\n    path: p.csv\n    columns:\n      name: { type: name, aliases: [姓名] }\n      id_card: { type: id_card, aliases: [身份证号] }\n",
        &[(
            "q.yaml",
            "id: q\ntitle: t\ndescription: d\nseverity: low\nrow_check:\n  sources: [{ dataset: p }]\n  condition: \"id_card_issue IS NOT NULL\"\n  key: [id_card_raw]\n",
        )],
    );
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("p.csv: dataset `p`: 2 headers match column `id_card`: 身份证号 (column 2), 身份证号 (column 4)"),
        "{err}"
    );
}

#[test]
fn an_amount_that_is_not_a_number_fails_check_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "pension/paid_after_death.yaml",
        "amount: l.amount",
        "amount: l.name",
    );
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("pension/paid_after_death.yaml:23:"), "{err}");
    assert!(err.contains("`amount` must be a number"), "{err}");
}

#[test]
fn without_the_jobs_as_of_the_leads_run_and_their_money_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, text.replace("as_of: 2025-06-30\n", "")).unwrap();
    let dibao = [
        "deceased",
        "multiple_properties",
        "owns_car",
        "public_payroll",
    ];
    // `check` warns for each dibao rule, and passes: the leads do not need the date.
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for file in dibao {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("dibao/{file}.yaml")))
            .unwrap_or_else(|| panic!("{file} in {err}"));
        assert!(line.starts_with("warning:"), "{line}");
        assert!(line.contains("its money is not counted"), "{line}");
        assert!(line.contains("add `as_of: 2025-12-31`"), "{line}");
    }
    // `run`: every lead as planted, the dibao rules' money unknown, not zero, and so the
    // totals over them; the pensions' money still counted.
    let run = run_ok(&job, "no-as-of", &[]);
    let rows = read_csv(&run.join("anomalies.csv"));
    let truth = sample_truth();
    let manifest = manifest_of(&run);
    for r in manifest["rules"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            r["leads"].as_u64().unwrap() as usize,
            truth.leads[id].len(),
            "{id}"
        );
        // The `link` rules have no amount: nothing says how long the two went on together.
        if id.starts_with("dibao_") && r["link"].is_null() {
            assert!(r["amount"].is_null(), "{id}");
            assert!(
                r["amount_unknown"]
                    .as_str()
                    .unwrap()
                    .contains("paid_through")
            );
            assert!(rows.iter().filter(|x| x[0] == id).all(|x| x[12].is_empty()));
        }
    }
    let pensions = manifest["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "pension_paid_after_death")
        .unwrap();
    assert_eq!(pensions["amount"], "23353.50");
    assert!(manifest["totals"]["amount"].is_null());
    assert!(manifest["totals"]["amount_by_severity"]["critical"].is_null());

    // A `default: as_of` parameter that decides the leads, not only the money: without the
    // date the rule does not run.
    let rules = dir.path().join("rules");
    copy_tree(&repo().join("rules"), &rules);
    let deceased = rules.join("dibao/deceased.yaml");
    let text = std::fs::read_to_string(&deceased).unwrap();
    std::fs::write(
        &deceased,
        text.replace(
            "  mode: exists\namount:",
            "  condition: \"r.death_date <= :paid_through\"\n  mode: exists\namount:",
        ),
    )
    .unwrap();
    let job2 = dir.path().join("audit2.yaml");
    std::fs::write(
        &job2,
        format!(
            "catalog: {}\nrules: [{}]\noutput: {}\n",
            repo().join("sample_data/datasets.yaml").display(),
            rules.display(),
            dir.path().join("out2").display()
        ),
    )
    .unwrap();
    let out = crosscheck(&["check", "--config", job2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("dibao/deceased.yaml:") && err.contains("error:"),
        "{err}"
    );
    assert!(
        err.contains("parameter `paid_through` is the job's `as_of`"),
        "{err}"
    );

    // A job date that is no date is an error at the job file.
    std::fs::write(
        &job,
        format!(
            "{text}as_of: 2025-13-01\n",
            text = std::fs::read_to_string(&job).unwrap()
        ),
    )
    .unwrap();
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("as_of `2025-13-01`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_for_spark_warns_where_an_sql_query_means_something_else_there() {
    let dir = tempfile::tempdir().unwrap();
    let job = broken_rules(
        dir.path(),
        "zones/low_tax_per_mu.yaml",
        "SELECT holder_code, SUM(area_m2) / 666.67 AS area_mu FROM land_registry GROUP BY holder_code",
        "SELECT holder_code, ROUND(SUM(area_m2) / 666.67, 2) AS area_mu FROM land_registry \
         WHERE SUBSTR(holder_code, 0, 2) <> 'xx' GROUP BY holder_code",
    );
    let out = crosscheck(&[
        "check",
        "--config",
        job.to_str().unwrap(),
        "--target",
        "spark",
    ]);
    // Warnings, not errors: the query runs on both engines.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    for w in &warnings {
        assert!(
            w.contains("zones/low_tax_per_mu.yaml: rule `zones_low_tax_per_mu` may give other leads on Spark: the query's line 8"),
            "{w}"
        );
    }
    assert!(warnings[0].contains("ROUND rounds a half to even on Polars"));
    assert!(warnings[1].contains("SUBSTR from position 0"));
    // Without a target, nothing to warn about.
    let out = crosscheck(&["check", "--config", job.to_str().unwrap()]);
    assert!(!stderr(&out).contains("warning:"));
}
