//! Look-back: compares the leads of two runs, per rule — new, persisting, resolved, and
//! reappeared (absent from the older run but seen in an earlier run of the same output
//! folder). Persisting leads reported as rectified come first: inspectors must see them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame, ParquetWriter};
use serde::Serialize;

use crate::private::create_private_file;

use crate::error::{Error, Result};
use crate::output::{StoredLead, read_leads};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    Persisting,
    Resolved,
    Reappeared,
    /// Absent from the newer run because inspectors cleared it as a false positive there; the
    /// rule still fires on it.
    Cleared,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::New => "新增 new",
            Change::Persisting => "仍存在 persisting",
            Change::Resolved => "已消除 resolved",
            Change::Reappeared => "再次出现 reappeared",
            Change::Cleared => "已排除（误报）cleared as false positive",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffRow {
    pub rule_id: String,
    pub rule_title: String,
    pub lead_id: String,
    pub key: String,
    pub change: Change,
    /// The status inspectors gave (from the newer run; from the older for resolved leads).
    pub disposition: Option<String>,
    /// Persisting although reported as rectified.
    pub attention: bool,
    /// The lead's money at stake (the newer run's; the older's for a lead no longer raised).
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleCounts {
    pub new: usize,
    pub persisting: usize,
    pub resolved: usize,
    pub reappeared: usize,
    pub cleared: usize,
    pub rectified_but_persisting: usize,
    /// For a rule that declares `amount`: the money of each kind of change, and of the leads
    /// inspectors reported rectified or confirmed (exact, as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amounts: Option<ChangeAmounts>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeAmounts {
    pub new: String,
    pub persisting: String,
    pub resolved: String,
    pub reappeared: String,
    pub cleared: String,
    pub rectified: String,
    pub confirmed: String,
}

pub struct Diff {
    pub old_run: String,
    pub new_run: String,
    pub rows: Vec<DiffRow>,
    pub counts: BTreeMap<String, RuleCounts>,
}

fn manifest(run: &Path) -> Result<serde_json::Value> {
    let path = run.join("manifest.json");
    let text = fs_err::read_to_string(&path)?;
    serde_json::from_str(&text).map_err(|e| Error::Input {
        path,
        message: format!("not a manifest: {e}"),
    })
}

fn started_at(run: &Path) -> Result<String> {
    let path = run.join("manifest.json");
    let m = manifest(run)?;
    m["started_at"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Input {
            path,
            message: "no `started_at`: written by an older crosscheck".into(),
        })
}

/// Lead IDs of the runs in `old`'s output folder that started before it.
fn earlier_leads(old: &Path) -> Result<BTreeSet<String>> {
    let before = started_at(old)?;
    let mut out = BTreeSet::new();
    let Some(parent) = old.parent() else {
        return Ok(out);
    };
    let old_canon = fs_err::canonicalize(old)?;
    for entry in fs_err::read_dir(parent)? {
        let dir = entry?.path();
        if !dir.join("manifest.json").is_file() || fs_err::canonicalize(&dir)? == old_canon {
            continue;
        }
        if started_at(&dir).is_ok_and(|s| s < before) {
            out.extend(read_leads(&dir)?.into_iter().map(|l| l.lead_id));
        }
    }
    Ok(out)
}

/// Compares two run folders.
pub fn diff(old: &Path, new: &Path) -> Result<Diff> {
    let (old_manifest, new_manifest) = (manifest(old)?, manifest(new)?);
    let key_of = |m: &serde_json::Value| m["lead_key_id"].as_str().map(str::to_string);
    if let (Some(a), Some(b)) = (key_of(&old_manifest), key_of(&new_manifest))
        && a != b
    {
        return Err(Error::Input {
            path: new.to_path_buf(),
            message: format!(
                "the two runs' lead IDs were made with different lead keys ({a} and {b}): the                  key file beside the job (.crosscheck-lead-key) was lost or replaced between                  them, so their leads cannot be compared. Restore the older key and run again"
            ),
        });
    }
    // Leads the newer run did not raise again because they were cleared as false positives.
    let cleared: BTreeSet<String> = new_manifest["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["suppressed_lead_ids"].as_array().into_iter().flatten())
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect();
    let old_leads = read_leads(old)?;
    let new_leads = read_leads(new)?;
    let history = earlier_leads(old)?;
    let old_ids: BTreeMap<&str, &StoredLead> =
        old_leads.iter().map(|l| (l.lead_id.as_str(), l)).collect();
    let new_ids: BTreeSet<&str> = new_leads.iter().map(|l| l.lead_id.as_str()).collect();
    let mut rows = Vec::new();
    for l in &new_leads {
        let change = if old_ids.contains_key(l.lead_id.as_str()) {
            Change::Persisting
        } else if history.contains(&l.lead_id) {
            Change::Reappeared
        } else {
            Change::New
        };
        // A status recorded in the older round and carried into the newer one.
        let disposition = l.disposition.clone().or_else(|| {
            old_ids
                .get(l.lead_id.as_str())
                .and_then(|o| o.disposition.clone())
        });
        let attention = change == Change::Persisting && disposition.as_deref() == Some("rectified");
        rows.push(DiffRow {
            rule_id: l.rule_id.clone(),
            rule_title: l.rule_title.clone(),
            lead_id: l.lead_id.clone(),
            key: l.key.clone(),
            change,
            disposition,
            attention,
            amount: l.amount.clone(),
        });
    }
    for l in old_leads
        .iter()
        .filter(|l| !new_ids.contains(l.lead_id.as_str()))
    {
        rows.push(DiffRow {
            rule_id: l.rule_id.clone(),
            rule_title: l.rule_title.clone(),
            lead_id: l.lead_id.clone(),
            key: l.key.clone(),
            change: if cleared.contains(&l.lead_id) {
                Change::Cleared
            } else {
                Change::Resolved
            },
            disposition: l.disposition.clone(),
            attention: false,
            amount: l.amount.clone(),
        });
    }
    rows.sort_by(|a, b| {
        (!a.attention, &a.rule_id, a.change, &a.key).cmp(&(
            !b.attention,
            &b.rule_id,
            b.change,
            &b.key,
        ))
    });
    let mut counts: BTreeMap<String, RuleCounts> = BTreeMap::new();
    for r in &rows {
        let c = counts.entry(r.rule_id.clone()).or_default();
        match r.change {
            Change::New => c.new += 1,
            Change::Persisting => c.persisting += 1,
            Change::Resolved => c.resolved += 1,
            Change::Reappeared => c.reappeared += 1,
            Change::Cleared => c.cleared += 1,
        }
        c.rectified_but_persisting += usize::from(r.attention);
    }
    for (rule, c) in counts.iter_mut() {
        c.amounts = change_amounts(rows.iter().filter(|r| &r.rule_id == rule));
    }
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    Ok(Diff {
        old_run: name(old),
        new_run: name(new),
        rows,
        counts,
    })
}

/// The money of a rule's changes; `None` when none of its leads carries an amount (a rule
/// without `amount`).
fn change_amounts<'a>(rows: impl Iterator<Item = &'a DiffRow> + Clone) -> Option<ChangeAmounts> {
    if !rows.clone().any(|r| r.amount.is_some()) {
        return None;
    }
    let total = |keep: &dyn Fn(&DiffRow) -> bool| {
        crate::engine::exact_total(
            rows.clone()
                .filter(|r| keep(r))
                .filter_map(|r| r.amount.as_deref()),
        )
        .unwrap_or_else(|| "0.00".into())
    };
    let status = |s: &'static str| move |r: &DiffRow| r.disposition.as_deref() == Some(s);
    Some(ChangeAmounts {
        new: total(&|r| r.change == Change::New),
        persisting: total(&|r| r.change == Change::Persisting),
        resolved: total(&|r| r.change == Change::Resolved),
        reappeared: total(&|r| r.change == Change::Reappeared),
        cleared: total(&|r| r.change == Change::Cleared),
        rectified: total(&status("rectified")),
        confirmed: total(&status("confirmed")),
    })
}

/// Writes `diff-<old>.xlsx` and `diff-<old>.parquet` into `out`; returns their paths.
pub fn write(diff: &Diff, out: &Path) -> Result<(PathBuf, PathBuf)> {
    let base = format!("diff-{}", diff.old_run);
    let xlsx = out.join(format!("{base}.xlsx"));
    let parquet = out.join(format!("{base}.parquet"));
    write_files(diff, &xlsx, &parquet)?;
    Ok((xlsx, parquet))
}

/// The look-back as a workbook (a summary, then every lead with its change, rectified-but-
/// persisting first) and as Parquet.
fn write_files(diff: &Diff, xlsx: &Path, parquet: &Path) -> Result<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let err =
        |e: rust_xlsxwriter::XlsxError| Error::Bug(format!("writing {}: {e}", xlsx.display()));
    let bold = Format::new().set_bold().set_background_color("#DDEBF7");
    let money = Format::new().set_num_format("#,##0.00");
    // Amounts are exact text; the cell is the double nearest, shown to the cent.
    let amount_cell =
        |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, a: &str| match a.parse::<f64>() {
            Ok(v) => ws.write_number_with_format(r, c, v, &money).map(|_| ()),
            Err(_) => ws.write_string(r, c, a).map(|_| ()),
        };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("汇总 Summary").map_err(err)?;
    let headers = [
        "规则编号 Rule ID",
        "新增 New",
        "仍存在 Persisting",
        "已消除 Resolved",
        "再次出现 Reappeared",
        "已排除（误报）Cleared as false positive",
        "整改后仍存在 Rectified but persisting",
        "新增金额 New amount",
        "仍存在金额 Persisting amount",
        "已消除金额 Resolved amount",
        "再次出现金额 Reappeared amount",
        "已排除金额 Cleared amount",
        "已整改金额 Rectified amount",
        "属实金额 Confirmed amount",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
        ws.set_column_width(c as u16, if c == 0 { 40 } else { 18 })
            .map_err(err)?;
    }
    for (i, (rule, n)) in diff.counts.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, rule).map_err(err)?;
        for (c, v) in [
            n.new,
            n.persisting,
            n.resolved,
            n.reappeared,
            n.cleared,
            n.rectified_but_persisting,
        ]
        .iter()
        .enumerate()
        {
            ws.write_number(r, c as u16 + 1, *v as f64).map_err(err)?;
        }
        // Blank for a rule without `amount`: no money, not zero money.
        if let Some(a) = &n.amounts {
            for (c, v) in [
                &a.new,
                &a.persisting,
                &a.resolved,
                &a.reappeared,
                &a.cleared,
                &a.rectified,
                &a.confirmed,
            ]
            .into_iter()
            .enumerate()
            {
                amount_cell(ws, r, c as u16 + 7, v).map_err(err)?;
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    let ws = wb.add_worksheet();
    ws.set_name("明细 Leads").map_err(err)?;
    let headers = [
        "需优先核查 Attention",
        "规则编号 Rule ID",
        "规则名称 Title",
        "线索编号 Lead ID",
        "线索键 Key",
        "变化 Change",
        "核查状态 Status",
        "涉及金额 Amount",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
        ws.set_column_width(c as u16, [14, 36, 50, 20, 40, 20, 18, 16][c])
            .map_err(err)?;
    }
    for (i, d) in diff.rows.iter().enumerate() {
        let r = i as u32 + 1;
        let attention = if d.attention {
            "整改后仍存在 rectified but persisting"
        } else {
            ""
        };
        let status = d
            .disposition
            .as_deref()
            .and_then(crate::engine::Disposition::parse)
            .map(|s| s.label())
            .unwrap_or("");
        for (c, t) in [
            attention,
            &d.rule_id,
            &d.rule_title,
            &d.lead_id,
            &d.key,
            d.change.label(),
            status,
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(r, c as u16, *t).map_err(err)?;
        }
        if let Some(a) = &d.amount {
            amount_cell(ws, r, 7, a).map_err(err)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    ws.autofilter(0, 0, diff.rows.len() as u32, (headers.len() - 1) as u16)
        .map_err(err)?;
    create_private_file(xlsx)?.write_all(&wb.save_to_buffer().map_err(err)?)?;

    let col = |f: &dyn Fn(&DiffRow) -> Option<String>| -> Vec<Option<String>> {
        diff.rows.iter().map(f).collect()
    };
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("rule_id".into(), col(&|d| Some(d.rule_id.clone()))),
        Column::new("lead_id".into(), col(&|d| Some(d.lead_id.clone()))),
        Column::new("key".into(), col(&|d| Some(d.key.clone()))),
        Column::new(
            "change".into(),
            col(&|d| Some(format!("{:?}", d.change).to_lowercase())),
        ),
        Column::new("disposition".into(), col(&|d| d.disposition.clone())),
        Column::new(
            "attention".into(),
            diff.rows.iter().map(|d| d.attention).collect::<Vec<bool>>(),
        ),
        Column::new("amount".into(), col(&|d| d.amount.clone())),
    ])?;
    ParquetWriter::new(create_private_file(parquet)?).finish(&mut df)?;
    Ok(())
}
