//! report.html: one self-contained page that references nothing outside the file, with every
//! rule's lead count, the data quality of every dataset, and the run's provenance.

mod common;

use common::*;

#[test]
fn the_report_is_self_contained_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let job = sample_job(dir.path());
    for lang in ["zh", "en"] {
        run_ok(&job, lang, &["--lang", lang]);
    }
    let zh = std::fs::read_to_string(dir.path().join("out/zh/report.html")).unwrap();
    let en = std::fs::read_to_string(dir.path().join("out/en/report.html")).unwrap();
    for html in [&zh, &en] {
        let lower = html.to_lowercase();
        // Nothing to fetch: no scripts, stylesheets, images, fonts or links.
        for needle in [
            "http:", "https:", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe",
            "<img",
        ] {
            assert!(!lower.contains(needle), "the report contains {needle}");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        let manifest: serde_json::Value = manifest_of(&dir.path().join("out/zh"));
        // The leads-per-rule chart (the money chart above it has bars per rule too).
        let leads_chart = html
            .find("<h2>各规则线索数</h2>")
            .or_else(|| html.find("<h2>Leads per rule</h2>"))
            .expect("the leads-per-rule chart");
        let chart = &html[leads_chart..];
        for r in manifest["rules"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap();
            // The bar chart row: the rule id, then its lead count.
            let label = format!(">{id}</text>");
            let at = chart
                .find(&label)
                .unwrap_or_else(|| panic!("{id} in the chart"))
                + label.len();
            // The row's next text element (after its bar) is its count.
            let bar_and_count = &chart[at..at + chart[at..].find("</text>").unwrap()];
            assert!(
                bar_and_count.starts_with("<rect")
                    && bar_and_count.ends_with(&format!(">{}", r["leads"])),
                "{id}: {bar_and_count}"
            );
            assert!(
                html.contains(&format!("<code>{}</code>", r["sha256"].as_str().unwrap())),
                "rule file hash of {id}"
            );
        }
        for d in manifest["datasets"].as_array().unwrap() {
            let row = format!(
                r#"<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td>"#,
                d["rows_read"], d["rows_loaded"], d["rows_rejected"]
            );
            assert!(html.contains(&row), "{}: {row}", d["name"]);
            assert!(html.contains(&format!(
                "<code>{}</code>",
                d["files"][0]["sha256"].as_str().unwrap()
            )));
        }
    }
    // Money at stake: the card and the per-rule row carry the ground truth's total, exact.
    let truth: samplecity::GroundTruth = sample_truth();
    let cents: i64 = truth.amounts.values().flat_map(|k| k.values()).sum();
    let total = format!("{}.{:02}", cents / 100, cents % 100);
    assert!(
        zh.contains(&format!("<b>{total}</b>涉及金额（元）")),
        "the card {total}"
    );
    assert!(en.contains(&format!("<b>{total}</b>Money at stake (yuan)")));
    let yuan = |cents: i64| format!("{}.{:02}", cents / 100, cents % 100);
    let manifest = manifest_of(&dir.path().join("out/zh"));
    let severity_of = |rule: &str| -> String {
        manifest["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rule)
            .unwrap()["severity"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A table row and a bar per rule with money, each with the exact total.
    let chart = &zh[zh.find("<h2>").unwrap()..zh.find("<h2>各规则线索数</h2>").unwrap()];
    for (rule, leads) in &truth.amounts {
        let amount = yuan(leads.values().sum());
        let row = format!(
            r#"<td>{}</td><td class="n">{}</td><td class="n">{amount}</td>"#,
            severity_of(rule),
            leads.len(),
        );
        assert!(zh.contains(&row), "{rule}: {row}");
        let bar = chart
            .find(&format!(">{rule}</text><rect"))
            .unwrap_or_else(|| panic!("{rule} in the money chart"));
        assert!(
            chart[bar..]
                .split("</text>")
                .nth(1)
                .unwrap()
                .ends_with(&format!(">{amount}")),
            "{rule}: the bar shows {amount}"
        );
    }
    assert!(zh.contains("数据质量") && zh.contains(r#"lang="zh-CN""#));
    assert!(en.contains("Data quality") && en.contains(r#"lang="en""#));
}
