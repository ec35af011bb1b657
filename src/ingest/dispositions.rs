//! Dispositions: what inspectors recorded per lead — the status column of a previous round's
//! anomalies.xlsx, or a CSV with `lead_id`, `status`, `note` (and optionally `evidence_hash`).

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader};

use crate::error::{Error, Result};

/// What inspectors recorded for a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Disposition {
    Confirmed,
    Rectified,
    Explained,
    FalsePositive,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::Confirmed,
        Disposition::Rectified,
        Disposition::Explained,
        Disposition::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Confirmed => "confirmed",
            Disposition::Rectified => "rectified",
            Disposition::Explained => "explained",
            Disposition::FalsePositive => "false_positive",
        }
    }

    /// How the workbook shows it: Chinese first.
    pub fn label(self) -> &'static str {
        match self {
            Disposition::Confirmed => "属实 confirmed",
            Disposition::Rectified => "已整改 rectified",
            Disposition::Explained => "已说明 explained",
            Disposition::FalsePositive => "误报 false_positive",
        }
    }

    /// Reads what an inspector typed: English code or Chinese word, any case.
    pub fn parse(s: &str) -> Option<Disposition> {
        let t = s.trim().to_lowercase().replace([' ', '-'], "_");
        Disposition::ALL.into_iter().find(|d| {
            let label = d.label().to_lowercase().replace(' ', "_");
            t == d.as_str() || t == label || label.split('_').next() == Some(t.as_str())
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DispositionRecord {
    pub status: Disposition,
    pub note: Option<String>,
    /// The lead's evidence fingerprint when the status was recorded, if the file has it.
    pub evidence_hash: Option<String>,
    /// Where it was recorded: file, sheet, row.
    pub place: String,
}

/// Column positions found in a header row.
struct Columns {
    lead: usize,
    status: usize,
    note: Option<usize>,
    hash: Option<usize>,
}

/// Finds the columns by their exact headers — the workbook's own (`核查状态 Status`) or the
/// CSV's (`status`) — so that an evidence label such as `参保状态 / Status` is never taken for
/// the inspectors' column.
fn columns(headers: &[String]) -> Option<Columns> {
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.trim().to_lowercase().as_str()))
    };
    Some(Columns {
        lead: find(&["线索编号 lead id", "lead_id"])?,
        status: find(&["核查状态 status", "status", "disposition"])?,
        note: find(&["核查说明 note", "note", "disposition_note"]),
        hash: find(&["证据指纹 evidence hash", "evidence_hash"]),
    })
}

/// Reads several dispositions files — a folder stands for every `.xlsx` and `.csv` in it, as
/// the teams return their workbooks — merged by lead ID. The same lead with two different
/// statuses, in one file or two, is an error naming both places.
pub fn read_all(paths: &[std::path::PathBuf]) -> Result<BTreeMap<String, DispositionRecord>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<std::path::PathBuf> = fs_err::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    // Not hidden files, nor the lock files a spreadsheet leaves (`~$a.xlsx`).
                    let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
                    f.is_file()
                        && !name.starts_with('.')
                        && !name.starts_with("~$")
                        && (ext.eq_ignore_ascii_case("xlsx") || ext.eq_ignore_ascii_case("csv"))
                })
                .collect();
            if inside.is_empty() {
                return Err(Error::Input {
                    path: p.clone(),
                    message: "a folder of dispositions with no .xlsx or .csv file in it".into(),
                });
            }
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    let mut out: BTreeMap<String, DispositionRecord> = BTreeMap::new();
    for f in &files {
        for (lead, record) in read_dispositions(f)? {
            merge(&mut out, &lead, record, f)?;
        }
    }
    Ok(out)
}

/// Adds one lead's record; the same lead with another status, in this file or an earlier one,
/// is an error naming both places.
fn merge(
    out: &mut BTreeMap<String, DispositionRecord>,
    lead: &str,
    record: DispositionRecord,
    path: &Path,
) -> Result<()> {
    match out.get(lead) {
        Some(prev) if prev.status != record.status => Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "lead {lead} has two statuses: {} at {} and {} at {}; keep one",
                prev.status.as_str(),
                prev.place,
                record.status.as_str(),
                record.place
            ),
        }),
        Some(_) => Ok(()),
        None => {
            out.insert(lead.to_string(), record);
            Ok(())
        }
    }
}

/// Reads a dispositions file (xlsx or CSV). Rows without a status are skipped; an unknown
/// status, or two different statuses for one lead, is an error naming the place.
pub fn read_dispositions(path: &Path) -> Result<BTreeMap<String, DispositionRecord>> {
    let mut tables: Vec<(Option<String>, Vec<Vec<String>>)> = Vec::new();
    let is_xlsx = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_xlsx {
        let mut wb = calamine::open_workbook_auto(path).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!("not a readable workbook: {e}"),
        })?;
        for name in wb.sheet_names() {
            let range = wb.worksheet_range(&name).map_err(|e| Error::Input {
                path: path.to_path_buf(),
                message: format!("sheet `{name}`: {e}"),
            })?;
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|d| {
                            if let Data::String(s) = d {
                                s.clone()
                            } else {
                                d.to_string()
                            }
                        })
                        .collect()
                })
                .collect();
            tables.push((Some(name), rows));
        }
    } else {
        let bytes = fs_err::read(path)?;
        let (text, _) = super::read::decode(path, &bytes, crate::job::catalog::Encoding::Auto)?;
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let rows = r
            .records()
            .map(|rec| rec.map(|rec| rec.iter().map(str::to_string).collect()))
            .collect::<std::result::Result<Vec<Vec<String>>, _>>()
            .map_err(|e| Error::Input {
                path: path.to_path_buf(),
                message: format!("unreadable CSV: {e}"),
            })?;
        tables.push((None, rows));
    }
    let mut out: BTreeMap<String, DispositionRecord> = BTreeMap::new();
    let mut found_columns = false;
    for (sheet, rows) in tables {
        let Some(header) = rows.first() else { continue };
        // The workbook's summary sheet has no lead IDs: only rule sheets are read.
        let Some(cols) = columns(header) else {
            continue;
        };
        found_columns = true;
        for (i, row) in rows.iter().enumerate().skip(1) {
            let cell = |c: usize| row.get(c).map(|s| s.trim()).filter(|s| !s.is_empty());
            let (Some(lead), Some(status)) = (cell(cols.lead), cell(cols.status)) else {
                continue;
            };
            let place = match &sheet {
                Some(s) => format!("{}, sheet {s}, row {}", path.display(), i + 1),
                None => format!("{}, row {}", path.display(), i + 1),
            };
            let status = Disposition::parse(status).ok_or_else(|| Error::Input {
                path: path.to_path_buf(),
                message: format!(
                    "{place}: unknown status `{status}`; use one of 属实 confirmed, 已整改 rectified, 已说明 explained, 误报 false_positive (or leave it empty)"
                ),
            })?;
            let record = DispositionRecord {
                status,
                note: cols.note.and_then(cell).map(str::to_string),
                evidence_hash: cols.hash.and_then(cell).map(str::to_string),
                place,
            };
            merge(&mut out, lead, record, path)?;
        }
    }
    if !found_columns {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "no sheet or header with a lead ID column and a status column (线索编号 Lead ID / 核查状态 Status, or lead_id / status)".into(),
        });
    }
    Ok(out)
}
