//! Output: `out/<run-id>/` with anomalies.parquet, anomalies.csv, manifest.json and
//! rejected/<dataset>.csv — written into a private temporary folder and renamed into place,
//! so a failed write never leaves half an output. Files are readable by the owner only.

pub mod mask;
pub mod report;
pub mod teams;
pub mod workbook;

use crate::private::{create_private_dir, create_private_file, sweep_leftovers};

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::json;

use crate::engine::{RuleOutcome, RuleStatus, RunResult};
use crate::error::{Diagnostic, Error, Result};
use crate::job::Job;
use crate::job::rule::Severity;

/// Header of anomalies.csv: Chinese first, the Parquet column name beside it.
pub const CSV_HEADERS: [&str; 13] = [
    "规则编号 rule_id",
    "规则名称 rule_title",
    "严重程度 severity",
    "线索编号 lead_id",
    "线索键 key",
    "数据集 dataset",
    "来源文件 file",
    "工作表 sheet",
    "行号 row",
    "关联记录 partner",
    "说明 message",
    "证据 evidence",
    "涉及金额 amount",
];

/// A run id from the local time; a suffix keeps it unique in the output folder.
pub fn new_run_id(output_dir: &Path) -> String {
    let base = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let mut id = base.clone();
    let mut n = 2;
    while output_dir.join(&id).exists() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// The run's folder, or an error if an earlier run already has that name: runs are never
/// overwritten.
pub fn check_run_folder_free(output_dir: &Path, run_id: &str) -> Result<PathBuf> {
    // The run id is joined to the output folder: one safe name, never a path out of it.
    crate::job::names::check_safe_name(run_id).map_err(|why| Error::Input {
        path: output_dir.to_path_buf(),
        message: format!(
            "--run-id `{}` is not a usable run id: {why} (e.g. --run-id 2026Q2)",
            run_id.escape_debug()
        ),
    })?;
    let final_dir = output_dir.join(run_id);
    if final_dir.exists() {
        return Err(Error::Input {
            path: final_dir,
            message: "the run folder already exists; choose another --run-id".into(),
        });
    }
    Ok(final_dir)
}

/// What a run folder is written from.
pub struct RunOutputs<'a> {
    pub result: &'a RunResult,
    /// Rule files that did not compile.
    pub rule_errors: &'a [Diagnostic],
    pub lang: report::Lang,
    pub timings: serde_json::Value,
    /// `--split-by`: the expression and the teams' shares.
    pub teams: Option<(&'a str, &'a [teams::Team])>,
}

/// Writes every output of a run; returns the final folder.
pub fn write_run(
    job: &Job,
    outputs: RunOutputs,
    output_dir: &Path,
    run_id: &str,
) -> Result<PathBuf> {
    let final_dir = check_run_folder_free(output_dir, run_id)?;
    create_private_dir(output_dir)?;
    // What runs killed while writing, or while Spark ran, left: personal data, removed.
    sweep_leftovers(output_dir, &[".partial-", ".spark-"], true);
    let tmp = output_dir.join(format!(".{run_id}.partial-{}", std::process::id()));
    create_private_dir(&tmp)?;
    let written = write_all(job, outputs, &tmp, run_id);
    match written {
        Ok(()) => {
            fs_err::rename(&tmp, &final_dir)?;
            Ok(final_dir)
        }
        Err(e) => {
            let _ = fs_err::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn write_all(job: &Job, outputs: RunOutputs, dir: &Path, run_id: &str) -> Result<()> {
    let RunOutputs {
        result,
        rule_errors,
        lang,
        timings,
        teams,
    } = outputs;
    write_parquet(result, &dir.join("anomalies.parquet"))?;
    write_csv(result, &dir.join("anomalies.csv"))?;
    let xlsx = workbook::workbook_bytes(result, workbook::MAX_ROWS)
        .map_err(|e| Error::Bug(format!("writing anomalies.xlsx: {e}")))?;
    create_private_file(&dir.join("anomalies.xlsx"))?.write_all(&xlsx)?;
    write_rejected(result, &dir.join("rejected"))?;
    let mut manifest = manifest(job, result, rule_errors, run_id, timings)?;
    if let Some((split_by, teams)) = teams {
        let folder = dir.join("teams");
        create_private_dir(&folder)?;
        for t in teams {
            let xlsx = workbook::workbook_bytes(&t.result, workbook::MAX_ROWS)
                .map_err(|e| Error::Bug(format!("writing teams/{}: {e}", t.file)))?;
            create_private_file(&folder.join(&t.file))?.write_all(&xlsx)?;
        }
        manifest["teams"] = serde_json::json!({
            "split_by": split_by,
            "workbooks": teams.iter().map(|t| serde_json::json!({
                "value": t.value,
                "file": format!("teams/{}", t.file),
                "leads": t.leads,
                "rows": t.rows,
            })).collect::<Vec<_>>(),
        });
    }
    create_private_file(&dir.join("report.html"))?
        .write_all(report::render(result, &manifest, lang).as_bytes())?;
    let mut f = create_private_file(&dir.join("manifest.json"))?;
    f.write_all(
        serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::Bug(e.to_string()))?
            .as_bytes(),
    )?;
    f.write_all(b"\n")?;
    Ok(())
}

fn evidence_json(ev: &indexmap::IndexMap<String, Option<String>>) -> String {
    serde_json::to_string(ev).expect("strings serialise")
}

/// Every lead row of every rule, long format, sorted by rule id then key.
pub fn leads_frame(result: &RunResult) -> PolarsResult<DataFrame> {
    let rows: Vec<_> = result
        .outcomes
        .iter()
        .flat_map(|o| o.rows.iter().map(move |r| (o, r)))
        .collect();
    let s = |f: &dyn Fn(&crate::engine::LeadRow, &crate::engine::RuleOutcome) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|(o, r)| f(r, o)).collect()
    };
    DataFrame::new_infer_height(vec![
        Column::new("rule_id".into(), s(&|r, _| Some(r.rule_id.clone()))),
        Column::new("rule_title".into(), s(&|_, o| Some(o.rule.title.clone()))),
        Column::new(
            "severity".into(),
            s(&|r, _| Some(r.severity.as_str().to_string())),
        ),
        Column::new("lead_id".into(), s(&|r, _| Some(r.lead_id.clone()))),
        Column::new("key".into(), s(&|r, _| Some(r.key.clone()))),
        Column::new("dataset".into(), s(&|r, _| Some(r.dataset.clone()))),
        Column::new("file".into(), s(&|r, _| Some(r.file.clone()))),
        Column::new("sheet".into(), s(&|r, _| r.sheet.clone())),
        Column::new(
            "row".into(),
            rows.iter().map(|(_, r)| r.row).collect::<Vec<i64>>(),
        ),
        Column::new("partner".into(), s(&|r, _| r.partner.clone())),
        Column::new("message".into(), s(&|r, _| r.message.clone())),
        Column::new(
            "evidence".into(),
            s(&|r, _| Some(evidence_json(&r.evidence))),
        ),
        Column::new(
            "evidence_hash".into(),
            s(&|r, _| Some(r.evidence_hash.clone())),
        ),
        Column::new(
            "disposition".into(),
            s(&|r, _| r.disposition.map(|d| d.as_str().to_string())),
        ),
        Column::new(
            "disposition_note".into(),
            s(&|r, _| r.disposition_note.clone()),
        ),
        // Exact, as text: a double could not hold every amount a sum of them gives.
        Column::new("amount".into(), s(&|r, _| r.amount.clone())),
    ])
}

fn write_parquet(result: &RunResult, path: &Path) -> Result<()> {
    let mut df = leads_frame(result)?;
    let file = create_private_file(path)?;
    ParquetWriter::new(file).finish(&mut df)?;
    Ok(())
}

/// A CSV that crosscheck writes: UTF-8 with a BOM, every cell passed through `inert_cell`.
/// Every CSV export goes through it, so no cell from an extract can become a formula.
pub struct CsvExport {
    writer: csv::Writer<std::fs::File>,
    path: PathBuf,
}

impl CsvExport {
    pub fn create(path: &Path) -> Result<CsvExport> {
        let mut file = create_private_file(path)?;
        // A BOM so that Excel opens the UTF-8 file with Chinese intact.
        file.write_all(b"\xEF\xBB\xBF")?;
        Ok(CsvExport {
            writer: csv::Writer::from_writer(file),
            path: path.to_path_buf(),
        })
    }

    pub fn write<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let cells: Vec<Cow<'a, str>> = cells.into_iter().map(inert_cell).collect();
        self.writer
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(csv_err(&self.path))
    }

    pub fn finish(mut self) -> Result<()> {
        self.writer.flush()?;
        Ok(())
    }
}

/// A cell as text that Excel and LibreOffice will not evaluate. A cell starting with what
/// starts a formula (= + - @, full-width too) or with a tab or CR (which spreadsheets skip
/// before one) gets a leading apostrophe; a plain signed number such as -12.50 is left as it
/// is, since it cannot compute anything.
pub fn inert_cell(cell: &str) -> Cow<'_, str> {
    let Some(first) = cell.chars().next() else {
        return Cow::Borrowed(cell);
    };
    let risky = matches!(
        first,
        '=' | '+' | '-' | '@' | '\t' | '\r' | '\n' | '＝' | '＋' | '－' | '＠'
    );
    if risky && !is_plain_signed_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `-12.50` or `+3`: a sign, digits, at most one point with digits after it.
fn is_plain_signed_number(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(['-', '+']) else {
        return false;
    };
    let (whole, frac) = rest.split_once('.').unwrap_or((rest, "0"));
    !whole.is_empty()
        && !frac.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::Input {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}"),
    }
}

fn write_csv(result: &RunResult, path: &Path) -> Result<()> {
    let mut w = CsvExport::create(path)?;
    w.write(CSV_HEADERS)?;
    for o in &result.outcomes {
        for r in &o.rows {
            let evidence: Vec<String> = r
                .evidence
                .iter()
                .map(|(l, v)| format!("{l}: {}", v.as_deref().unwrap_or("")))
                .collect();
            w.write([
                r.rule_id.as_str(),
                o.rule.title.as_str(),
                r.severity.as_str(),
                r.lead_id.as_str(),
                // A tab-free text key; Excel would still read a bare 18-digit key as a number,
                // which is why inspectors get the workbook, not this file.
                r.key.as_str(),
                r.dataset.as_str(),
                r.file.as_str(),
                r.sheet.as_deref().unwrap_or(""),
                &r.row.to_string(),
                r.partner.as_deref().unwrap_or(""),
                r.message.as_deref().unwrap_or(""),
                &evidence.join("; "),
                r.amount.as_deref().unwrap_or(""),
            ])?;
        }
    }
    w.finish()
}

fn write_rejected(result: &RunResult, dir: &Path) -> Result<()> {
    if result.datasets.iter().all(|d| d.rejected.is_empty()) {
        return Ok(());
    }
    create_private_dir(dir)?;
    for d in result.datasets.iter().filter(|d| !d.rejected.is_empty()) {
        let path = dir.join(format!("{}.csv", d.name));
        let mut w = CsvExport::create(&path)?;
        w.write([
            "来源文件 file",
            "工作表 sheet",
            "行号 row",
            "原因 reason",
            "原始内容 content",
        ])?;
        for r in &d.rejected {
            w.write([
                r.file.as_str(),
                r.sheet.as_deref().unwrap_or(""),
                &r.row.to_string(),
                r.reason.as_str(),
                &r.content.join(" | "),
            ])?;
        }
        w.finish()?;
    }
    Ok(())
}

/// What lets anyone regenerate the same lists: versions, input and rule hashes, parameters,
/// row accounting, leads per rule, timings.
pub fn manifest(
    job: &Job,
    result: &RunResult,
    rule_errors: &[Diagnostic],
    run_id: &str,
    timings: serde_json::Value,
) -> Result<serde_json::Value> {
    let hash = crate::ingest::sha256_file;
    let mut rules = Vec::new();
    for o in &result.outcomes {
        let (status, error) = match &o.status {
            RuleStatus::Ok => ("ok", None),
            RuleStatus::Failed(e) => ("failed", Some(e.clone())),
        };
        rules.push(json!({
            "id": o.rule.id,
            "title": o.rule.title,
            "kind": o.rule.kind,
            "severity": o.rule.severity.as_str(),
            "file": o.rule.path.to_string_lossy(),
            "sha256": hash(&o.rule.path)?,
            "params": o.rule.params.iter().cloned().collect::<indexmap::IndexMap<String, String>>(),
            "datasets": o.rule.datasets,
            "status": status,
            "error": error,
            "leads": o.lead_count(),
            "rows": o.rows.len(),
            // 涉及金额: the money at stake over the rule's leads, exact (rules with `amount`).
            "amount": o.amount(),
            // Why the money is unknown where the job cannot count it (no `as_of`).
            "amount_unknown": o.rule.amount_unknown,
            // A `link` rule's estimated weights: why a pair scored what it did.
            "link": o.rule.plan.link_estimates(),
            "elapsed_ms": o.elapsed_ms,
            "dispositions": o.dispositions.iter().map(|(d, n)| (d.as_str().to_string(), *n)).collect::<indexmap::IndexMap<String, usize>>(),
            "suppressed_false_positives": o.suppressed.len(),
            "suppressed_lead_ids": o.suppressed,
            "precision": crate::engine::precision(&o.dispositions),
        }));
    }
    let datasets: Vec<serde_json::Value> = result
        .datasets
        .iter()
        .map(|d| match &d.report {
            Some(r) => serde_json::to_value(r).expect("report serialises"),
            None => json!({ "name": d.name, "error": d.error }),
        })
        .collect();
    let mut engine = json!({ "name": "crosscheck", "version": env!("CARGO_PKG_VERSION"), "polars": "0.55.2", "backend": "polars" });
    if let crate::engine::Backend::Spark {
        master,
        spark_version,
        runner_version,
    } = &result.backend
    {
        engine["backend"] = json!("spark");
        engine["master"] = json!(master);
        engine["spark"] = json!(spark_version);
        engine["runner_version"] = json!(runner_version);
    }
    Ok(json!({
        "engine": engine,
        "run_id": run_id,
        // Names the lead key without revealing it: runs with different keys have lead IDs
        // that cannot be compared.
        "lead_key_id": job.lead_key.id(),
        // Orders the runs of an output folder for `diff` (reappeared leads).
        "started_at": result.started_at,
        "job": { "name": job.name, "path": job.path.to_string_lossy(), "sha256": hash(&job.path)? },
        "catalog": { "path": job.catalog.path.to_string_lossy(), "sha256": hash(&job.catalog.path)? },
        // The working-day calendar: shipped, or extended by the job's file.
        "calendar": match &job.calendar {
            Some(c) => json!({ "path": c.to_string_lossy(), "sha256": hash(c)?, "last_year": crate::calendar::last_year() }),
            None => json!({ "path": null, "last_year": crate::calendar::last_year() }),
        },
        "datasets": datasets,
        "rules": rules,
        // Rules that did not compile and so did not run.
        "rule_errors": rule_errors.iter().map(|d| json!({
            "file": d.file.to_string_lossy(),
            "line": d.line,
            "column": d.column,
            "message": d.message,
            "help": d.help,
        })).collect::<Vec<_>>(),
        "totals": {
            "leads": result.outcomes.iter().map(|o| o.lead_count()).sum::<usize>(),
            "rows": result.outcomes.iter().map(|o| o.rows.len()).sum::<usize>(),
            "rules_ok": result.outcomes.len() - result.failed_rules(),
            "amount": rules_total(result.outcomes.iter()),
            "amount_by_severity": amount_by_severity(result),
            // Rules that failed while running, and rule files that did not compile.
            "rules_failed": result.failed_rules()
                + rule_errors.iter().map(|d| &d.file).collect::<std::collections::BTreeSet<_>>().len(),
        },
        "timings_ms": timings,
        "memory": {
            "bytes_loaded": result.datasets.iter().filter_map(|d| d.report.as_ref()).map(|r| r.bytes_loaded).sum::<u64>(),
            "peak_rss_bytes": peak_rss_bytes(),
        },
    }))
}

/// The money at stake over the rules that declare `amount`; none when one rule's total is
/// unknown, since leaving it out would give a total that looks right and is not.
fn rules_total<'a>(outcomes: impl Iterator<Item = &'a RuleOutcome>) -> Option<String> {
    let totals = outcomes
        .filter(|o| o.rule.has_amount)
        .map(RuleOutcome::amount)
        .collect::<Option<Vec<_>>>()?;
    crate::engine::exact_total(totals)
}

/// The money at stake per severity, as `rules_total`.
fn amount_by_severity(result: &RunResult) -> serde_json::Value {
    let mut severities: Vec<Severity> = result
        .outcomes
        .iter()
        .filter(|o| o.rule.has_amount)
        .map(|o| o.rule.severity)
        .collect();
    severities.sort();
    severities.dedup();
    severities
        .into_iter()
        .map(|s| {
            let of_s = result.outcomes.iter().filter(|o| o.rule.severity == s);
            (s.as_str().to_string(), json!(rules_total(of_s)))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The process's peak resident memory so far (Linux: VmHWM), for the manifest.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// A lead as stored in a run's anomalies.parquet (one entry per lead, not per row).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLead {
    pub rule_id: String,
    pub rule_title: String,
    pub severity: String,
    pub lead_id: String,
    pub key: String,
    pub disposition: Option<String>,
    /// The money at stake over the lead's rows (exact), for a rule that declares `amount`;
    /// `None` otherwise, and for a run written before amounts were kept.
    pub amount: Option<String>,
}

/// Reads the leads of a run folder's anomalies.parquet, in file order, one per lead ID.
pub fn read_leads(run: &Path) -> Result<Vec<StoredLead>> {
    let path = run.join("anomalies.parquet");
    let file = fs_err::File::open(&path)?;
    let df = ParquetReader::new(file.into_parts().0)
        .finish()
        .map_err(|e| Error::Input {
            path: path.clone(),
            message: format!("not a crosscheck run's leads: {e}"),
        })?;
    let col = |name: &str| -> Result<Vec<Option<String>>> {
        let c = df.column(name).map_err(|_| Error::Input {
            path: path.clone(),
            message: format!(
                "no column `{name}`: written by an older crosscheck? run the round again"
            ),
        })?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let (rules, titles, sev, ids, keys, disp) = (
        col("rule_id")?,
        col("rule_title")?,
        col("severity")?,
        col("lead_id")?,
        col("key")?,
        col("disposition")?,
    );
    let amounts = if df.column("amount").is_ok() {
        col("amount")?
    } else {
        vec![None; df.height()]
    };
    let mut at: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut rows_of: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for i in 0..df.height() {
        let lead_id = ids[i].clone().unwrap_or_default();
        let n = *at.entry(lead_id.clone()).or_insert_with(|| {
            out.push(StoredLead {
                rule_id: rules[i].clone().unwrap_or_default(),
                rule_title: titles[i].clone().unwrap_or_default(),
                severity: sev[i].clone().unwrap_or_default(),
                lead_id,
                key: keys[i].clone().unwrap_or_default(),
                disposition: disp[i].clone(),
                amount: None,
            });
            rows_of.push(Vec::new());
            out.len() - 1
        });
        if let Some(a) = amounts[i].as_deref().filter(|a| !a.is_empty()) {
            rows_of[n].push(a.to_string());
        }
    }
    for (lead, amounts) in out.iter_mut().zip(rows_of) {
        lead.amount = crate::engine::exact_total(&amounts);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OWASP's CSV-injection payloads, and what a spreadsheet skips before them, come out as
    /// text; plain signed numbers and ordinary text are left as they are.
    #[test]
    fn formula_cells_become_text() {
        for hostile in [
            "=HYPERLINK(\"http://x\",\"click\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "=cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
            "-",
            "+",
            "-1.",
            "-.5",
            "＝1+1",
        ] {
            let out = inert_cell(hostile);
            assert_eq!(out, format!("'{hostile}"), "{hostile:?}");
        }
        for plain in [
            "-12.50",
            "+3",
            "-0",
            "张伟",
            "320102195003011238",
            "",
            "a=b",
        ] {
            assert_eq!(inert_cell(plain), plain, "{plain:?}");
        }
    }
}
