//! `report.html` — one self-contained page (inline CSS and SVG, no scripts, fonts or links to
//! anything outside the file): leads per rule, severity and region with charts, data quality
//! per dataset, each rule's description and parameters, and the run's provenance. Chinese by
//! default, English with `--lang en`.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine::{RuleStatus, RunResult};
use crate::job::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// The page's fixed words in both languages.
fn t(lang: Lang, key: &str) -> &'static str {
    let pair: (&'static str, &'static str) = match key {
        "title" => ("数据比对审计报告", "Data-comparison audit report"),
        "run" => ("运行编号", "Run"),
        "leads" => ("线索", "Leads"),
        "rows" => ("记录", "Rows"),
        "rules" => ("规则", "Rules"),
        "failed" => ("失败规则", "Failed rules"),
        "datasets" => ("数据集", "Datasets"),
        "by_rule" => ("各规则线索数", "Leads per rule"),
        "by_severity" => ("各严重程度线索数", "Leads per severity"),
        "by_region" => (
            "各地区线索数（按身份证号前六位行政区划代码）",
            "Leads per region (region code: the first six digits of the ID)",
        ),
        "quality" => ("数据质量", "Data quality"),
        "read" => ("读取行数", "Rows read"),
        "loaded" => ("载入行数", "Loaded"),
        "rejected" => ("拒绝行数", "Rejected"),
        "invalid" => ("无效身份证号", "Invalid IDs"),
        "legacy" => ("15位升级", "Legacy IDs upgraded"),
        "cleaned" => ("已清洗", "IDs cleaned"),
        "files" => ("文件", "Files"),
        "rule_details" => ("规则说明", "Rules"),
        "severity" => ("严重程度", "Severity"),
        "params" => ("参数", "Parameters"),
        "status" => ("状态", "Status"),
        "provenance" => ("运行信息", "Provenance"),
        "engine" => ("引擎版本", "Engine"),
        "inputs" => ("输入文件", "Input files"),
        "rule_files" => ("规则文件", "Rule files"),
        "none" => ("无", "none"),
        "outcomes" => ("核查结果（精确率）", "Field outcomes (precision)"),
        "cleared" => ("不再提示的误报", "cleared false positives"),
        "other" => ("其他", "other"),
        "amount" => ("涉及金额（元）", "Money at stake (yuan)"),
        "by_amount" => (
            "涉及金额（元，按声明 amount 的规则）",
            "Money at stake (yuan, rules that declare amount)",
        ),
        _ => ("", ""),
    };
    if lang == Lang::Zh { pair.0 } else { pair.1 }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#b2182b",
        Severity::High => "#ef8a62",
        Severity::Medium => "#f4c542",
        Severity::Low => "#67a9cf",
        Severity::Info => "#999999",
    }
}

/// A horizontal bar chart as inline SVG.
fn bars(items: &[(String, usize, &'static str)]) -> String {
    let items: Vec<(String, f64, String, &'static str)> = items
        .iter()
        .map(|(l, n, c)| (l.clone(), *n as f64, n.to_string(), *c))
        .collect();
    scaled_bars(&items)
}

/// Bars of any size: (label, length, the value shown beside the bar, colour).
fn scaled_bars(items: &[(String, f64, String, &'static str)]) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let (label_w, bar_w, row_h) = (330.0, 360.0, 22.0);
    let height = row_h * items.len() as f64 + 8.0;
    let mut svg = format!(
        r#"<svg role="img" width="{w}" height="{height}" viewBox="0 0 {w} {height}">"#,
        w = label_w + bar_w + 60.0
    );
    for (i, (label, len, n, colour)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = bar_w * len.max(0.0) / max;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" font-size="12">{label}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{h}" fill="{colour}"/><text x="{nx:.1}" y="{ty}" font-size="12">{n}</text>"#,
            lx = label_w - 6.0,
            ty = y + 14.0,
            label = esc(label),
            n = esc(n),
            bx = label_w,
            h = row_h - 6.0,
            nx = label_w + w + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The region of a lead: the first six digits of an ID-like key.
pub(crate) fn region_of(key: &str) -> Option<&str> {
    // A fuzzy pair key `ID1~ID2` counts under its first ID.
    let id = key.split('~').next().unwrap_or(key);
    let b = id.as_bytes();
    let id_like = matches!(b.len(), 15 | 18)
        && b[..6].iter().all(u8::is_ascii_digit)
        && b[6..]
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'*' | b'X'));
    id_like.then(|| &id[..6])
}

/// Renders the report from a run's result and its manifest.
pub fn render(result: &RunResult, manifest: &serde_json::Value, lang: Lang) -> String {
    let mut h = String::new();
    let title = t(lang, "title");
    let job = manifest["job"]["name"].as_str().unwrap_or("");
    let run_id = manifest["run_id"].as_str().unwrap_or("");
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="{l}"><head><meta charset="utf-8"><title>{title} — {job}</title><style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;color:#222;max-width:1100px}}
h1{{font-size:1.5em}} h2{{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}}
table{{border-collapse:collapse;font-size:13px;margin:.5em 0}} th,td{{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}}
th{{background:#eef3f8}} td.n{{text-align:right}} .cards{{display:flex;gap:1em;flex-wrap:wrap}}
.card{{border:1px solid #ccc;border-radius:6px;padding:.6em 1.2em}} .card b{{display:block;font-size:1.6em}}
pre{{white-space:pre-wrap;margin:0;font-family:inherit}} .sev{{display:inline-block;padding:0 6px;border-radius:3px;color:#fff}}
code{{font-size:12px;word-break:break-all}}
</style></head><body><h1>{title}</h1><p>{job} · {run_label} {run_id}</p>"#,
        l = if lang == Lang::Zh { "zh-CN" } else { "en" },
        title = esc(title),
        job = esc(job),
        run_label = t(lang, "run"),
        run_id = esc(run_id),
    );

    let total_leads: usize = result.outcomes.iter().map(|o| o.lead_count()).sum();
    let total_rows: usize = result.outcomes.iter().map(|o| o.rows.len()).sum();
    let (read, rejected): (u64, u64) = result
        .datasets
        .iter()
        .filter_map(|d| d.report.as_ref())
        .fold((0, 0), |(a, b), r| (a + r.rows_read, b + r.rows_rejected));
    let _ = write!(
        h,
        r#"<div class="cards"><div class="card"><b>{total_leads}</b>{}</div><div class="card"><b>{total_rows}</b>{}</div><div class="card"><b>{}</b>{}</div><div class="card"><b>{}</b>{}</div><div class="card"><b>{read}</b>{}</div><div class="card"><b>{rejected}</b>{}</div></div>"#,
        t(lang, "leads"),
        t(lang, "rows"),
        result.outcomes.len(),
        t(lang, "rules"),
        result.failed_rules(),
        t(lang, "failed"),
        t(lang, "read"),
        t(lang, "rejected"),
    );

    // Money at stake: the exact totals the manifest carries, per rule and per severity.
    if let Some(total) = manifest["totals"]["amount"].as_str() {
        let _ = write!(
            h,
            r#"<div class="cards"><div class="card"><b>{}</b>{}</div></div>"#,
            esc(total),
            t(lang, "amount"),
        );
        let _ = write!(
            h,
            "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            t(lang, "by_amount"),
            t(lang, "rules"),
            t(lang, "severity"),
            t(lang, "leads"),
            t(lang, "amount"),
        );
        for o in &result.outcomes {
            if let Some(a) = o.amount() {
                let _ = write!(
                    h,
                    r#"<tr><td>{}<br>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                    esc(&o.rule.id),
                    esc(&o.rule.title),
                    o.rule.severity.as_str(),
                    o.lead_count(),
                    esc(&a),
                );
            }
        }
        // Per-rule bars, each labelled with its exact total.
        let money_bars: Vec<(String, f64, String, &'static str)> = result
            .outcomes
            .iter()
            .filter_map(|o| {
                let a = o.amount()?;
                let len = a.parse::<f64>().unwrap_or(0.0);
                Some((o.rule.id.clone(), len, a, severity_colour(o.rule.severity)))
            })
            .collect();
        let chart = scaled_bars(&money_bars);
        if let Some(by) = manifest["totals"]["amount_by_severity"].as_object() {
            for (sev, a) in by {
                let _ = write!(
                    h,
                    r#"<tr><td>{}</td><td>{}</td><td></td><td class="n">{}</td></tr>"#,
                    t(lang, "severity"),
                    esc(sev),
                    esc(a.as_str().unwrap_or("")),
                );
            }
        }
        h.push_str("</table>");
        h.push_str(&chart);
    }

    let per_rule: Vec<(String, usize, &'static str)> = result
        .outcomes
        .iter()
        .map(|o| {
            (
                o.rule.id.clone(),
                o.lead_count(),
                severity_colour(o.rule.severity),
            )
        })
        .collect();
    let _ = write!(h, "<h2>{}</h2>{}", t(lang, "by_rule"), bars(&per_rule));

    let mut per_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for o in &result.outcomes {
        *per_sev.entry(o.rule.severity).or_default() += o.lead_count();
    }
    let per_sev: Vec<(String, usize, &'static str)> = per_sev
        .into_iter()
        .rev()
        .map(|(s, n)| (s.as_str().to_string(), n, severity_colour(s)))
        .collect();
    let _ = write!(h, "<h2>{}</h2>{}", t(lang, "by_severity"), bars(&per_sev));

    let mut per_region: BTreeMap<String, usize> = BTreeMap::new();
    for o in &result.outcomes {
        let mut keys: Vec<&str> = o.rows.iter().map(|r| r.key.as_str()).collect();
        keys.dedup();
        for k in keys {
            *per_region
                .entry(region_of(k).unwrap_or(t(lang, "other")).to_string())
                .or_default() += 1;
        }
    }
    let per_region: Vec<(String, usize, &'static str)> = per_region
        .into_iter()
        .map(|(r, n)| (r, n, "#4a7ab5"))
        .collect();
    let _ = write!(h, "<h2>{}</h2>{}", t(lang, "by_region"), bars(&per_region));

    // Data quality.
    let _ = write!(
        h,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "quality"),
        t(lang, "datasets"),
        t(lang, "files"),
        t(lang, "read"),
        t(lang, "loaded"),
        t(lang, "rejected"),
        t(lang, "invalid"),
        t(lang, "legacy"),
        t(lang, "cleaned"),
    );
    for d in &result.datasets {
        match &d.report {
            Some(r) => {
                let files: Vec<String> = r
                    .files
                    .iter()
                    .map(|f| {
                        format!(
                            "{} ({})",
                            esc(&f.path),
                            esc(f
                                .encoding
                                .as_deref()
                                .or(f.sheet.as_deref())
                                .unwrap_or("parquet"))
                        )
                    })
                    .collect();
                let invalid: Vec<String> = r
                    .id_quality
                    .values()
                    .flat_map(|q| q.invalid.iter())
                    .map(|(code, n)| format!("{code}: {n}"))
                    .collect();
                let _ = write!(
                    h,
                    r#"<tr><td>{}<br>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                    esc(&d.name),
                    esc(r.title.as_deref().unwrap_or("")),
                    files.join("<br>"),
                    r.rows_read,
                    r.rows_loaded,
                    r.rows_rejected,
                    if invalid.is_empty() {
                        t(lang, "none").to_string()
                    } else {
                        invalid.join("<br>")
                    },
                    r.id_quality
                        .values()
                        .map(|q| q.legacy_upgraded)
                        .sum::<u64>(),
                    r.id_quality.values().map(|q| q.cleaned).sum::<u64>(),
                );
            }
            None => {
                let _ = write!(
                    h,
                    r#"<tr><td>{}</td><td colspan="7">{}</td></tr>"#,
                    esc(&d.name),
                    esc(d.error.as_deref().unwrap_or(""))
                );
            }
        }
    }
    h.push_str("</table>");

    // Rules.
    let _ = write!(
        h,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "rule_details"),
        t(lang, "rules"),
        t(lang, "severity"),
        t(lang, "leads"),
        t(lang, "params"),
        t(lang, "outcomes"),
        t(lang, "status"),
    );
    for o in &result.outcomes {
        let params: Vec<String> = o
            .rule
            .params
            .iter()
            .map(|(k, v)| format!("{} = {}", esc(k), esc(v)))
            .collect();
        let status = match &o.status {
            RuleStatus::Ok => "ok".to_string(),
            RuleStatus::Failed(e) => format!("failed: {}", esc(e)),
        };
        let mut outcomes: Vec<String> = o
            .dispositions
            .iter()
            .map(|(d, n)| format!("{} {n}", esc(d.label())))
            .collect();
        if !o.suppressed.is_empty() {
            outcomes.push(format!("{} {}", t(lang, "cleared"), o.suppressed.len()));
        }
        if let Some(p) = crate::engine::precision(&o.dispositions) {
            outcomes.push(format!("{:.0}%", p * 100.0));
        }
        let outcomes = if outcomes.is_empty() {
            t(lang, "none").to_string()
        } else {
            outcomes.join("<br>")
        };
        let _ = write!(
            h,
            r#"<tr><td><b>{}</b><br><code>{}</code><pre>{}</pre></td><td><span class="sev" style="background:{}">{}</span></td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&o.rule.title),
            esc(&o.rule.id),
            esc(o.rule.description.trim()),
            severity_colour(o.rule.severity),
            o.rule.severity.as_str(),
            o.lead_count(),
            if params.is_empty() {
                t(lang, "none").to_string()
            } else {
                params.join("<br>")
            },
            outcomes,
            status,
        );
    }
    h.push_str("</table>");

    // Provenance.
    let _ = write!(
        h,
        "<h2>{}</h2><p>{}: crosscheck {} (polars {})</p><table><tr><th>{}</th><th>sha256</th></tr>",
        t(lang, "provenance"),
        t(lang, "engine"),
        esc(manifest["engine"]["version"].as_str().unwrap_or("")),
        esc(manifest["engine"]["polars"].as_str().unwrap_or("")),
        t(lang, "inputs"),
    );
    for d in result.datasets.iter().filter_map(|d| d.report.as_ref()) {
        for f in &d.files {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td></tr>",
                esc(&f.path),
                esc(&f.sha256)
            );
        }
    }
    let _ = write!(
        h,
        "</table><table><tr><th>{}</th><th>sha256</th></tr>",
        t(lang, "rule_files")
    );
    for r in manifest["rules"].as_array().into_iter().flatten() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            esc(r["file"].as_str().unwrap_or("")),
            esc(r["sha256"].as_str().unwrap_or(""))
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
