//! Ingest: read each source file of a dataset, map source headers to canonical columns,
//! normalise every cell by its semantic type, keep provenance, and reject (never drop) rows
//! that cannot be loaded. Rows read = rows loaded + rows rejected, per dataset.

pub mod cache;
pub mod dispositions;
pub mod id_card;
pub mod normalize;
pub mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::job::catalog::{
    Catalog, DatasetSpec, ID_ISSUE_SUFFIX, ID_RAW_SUFFIX, ROW_ID, SemanticType,
};
use id_card::{IdIssue, normalize_id_card, normalize_id_number};
use normalize::RawCell;

/// A source row that could not be loaded, with the reason.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RejectedRow {
    pub file: String,
    pub sheet: Option<String>,
    pub row: u64,
    pub reason: String,
    /// The row's cells as read.
    pub content: Vec<String>,
    /// Which cells hold names or ID numbers (for `--mask`).
    #[serde(default)]
    pub personal: Vec<Option<crate::job::catalog::Personal>>,
}

/// Quality of one `id_card` column.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct IdQuality {
    pub valid: u64,
    /// Valid after removing full-width digits, spaces, apostrophes, lower-case x.
    pub cleaned: u64,
    pub legacy_upgraded: u64,
    /// Invalid IDs by reason code (`check_character`, `birth_date`, …).
    pub invalid: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub sheet: Option<String>,
    pub encoding: Option<String>,
    pub rows_read: u64,
    /// Served from the converted-input cache (`None`: no cache in use).
    pub cached: Option<bool>,
}

/// Accounting and data quality of one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetReport {
    pub name: String,
    pub title: Option<String>,
    pub files: Vec<InputFile>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub id_quality: BTreeMap<String, IdQuality>,
}

pub struct LoadedDataset {
    pub frame: DataFrame,
    pub report: DatasetReport,
    pub rejected: Vec<RejectedRow>,
}

/// Header text as compared against aliases: NFKC, no BOM, trimmed, no inner whitespace.
fn header_key(h: &str) -> String {
    h.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a small file (job, catalog and rule files for the manifest).
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(sha256_hex(&fs_err::read(path)?))
}

/// The files a dataset's path or glob names, sorted; relative paths as written for provenance.
pub fn dataset_files(catalog: &Catalog, spec: &DatasetSpec) -> Result<Vec<(PathBuf, String)>> {
    let pattern = catalog.base_dir.join(&spec.path.value);
    let pattern_str = pattern.to_string_lossy().to_string();
    let mut files: Vec<PathBuf> = glob::glob(&pattern_str)
        .map_err(|e| Error::Input {
            path: pattern.clone(),
            message: format!("bad glob: {e}"),
        })?
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Input {
            path: pattern,
            message: format!(
                "no file matches `{}` (declared at {}:{})",
                spec.path.value,
                catalog.path.display(),
                spec.path.referenced.line()
            ),
        });
    }
    Ok(files
        .into_iter()
        .map(|p| {
            let shown = p
                .strip_prefix(&catalog.base_dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .to_string();
            (p, shown)
        })
        .collect())
}

/// Column buffers while rows are normalised.
enum Buffer {
    Text(Vec<Option<String>>),
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Datetime(Vec<Option<i64>>),
    Id {
        value: Vec<Option<String>>,
        raw: Vec<Option<String>>,
        issue: Vec<Option<String>>,
    },
}

enum Cell {
    Text(Option<String>),
    Float(Option<f64>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Date(Option<i32>),
    Datetime(Option<i64>),
    Id(id_card::IdCard),
}

fn new_buffer(ty: SemanticType) -> Buffer {
    match ty {
        SemanticType::IdCard => Buffer::Id {
            value: vec![],
            raw: vec![],
            issue: vec![],
        },
        SemanticType::Text | SemanticType::Plate | SemanticType::Name => Buffer::Text(vec![]),
        SemanticType::Decimal | SemanticType::Money | SemanticType::Float => Buffer::Float(vec![]),
        SemanticType::Int => Buffer::Int(vec![]),
        SemanticType::Bool => Buffer::Bool(vec![]),
        SemanticType::Date => Buffer::Date(vec![]),
        SemanticType::Datetime => Buffer::Datetime(vec![]),
    }
}

const EPOCH_DAYS_CE: i32 = 719_163;

/// Normalises a vehicle plate: NFKC, no spaces or dots, upper case.
pub fn normalize_plate(s: &str) -> String {
    s.nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '.' | '-'))
        .collect::<String>()
        .to_uppercase()
}

fn type_cell(ty: SemanticType, cell: &RawCell) -> std::result::Result<Cell, String> {
    use chrono::Datelike;
    Ok(match ty {
        SemanticType::IdCard => Cell::Id(match cell {
            RawCell::Number(v) => normalize_id_number(*v),
            other => normalize_id_card(&other.display()),
        }),
        SemanticType::Text | SemanticType::Name => Cell::Text(normalize::normalize_text(cell)),
        SemanticType::Plate => {
            Cell::Text(normalize::normalize_text(cell).map(|s| normalize_plate(&s)))
        }
        SemanticType::Decimal | SemanticType::Money | SemanticType::Float => {
            Cell::Float(normalize::parse_decimal(cell)?)
        }
        SemanticType::Int => Cell::Int(normalize::parse_int(cell)?),
        SemanticType::Bool => Cell::Bool(normalize::parse_bool(cell)?),
        SemanticType::Date => {
            Cell::Date(normalize::parse_date(cell)?.map(|d| d.num_days_from_ce() - EPOCH_DAYS_CE))
        }
        SemanticType::Datetime => {
            Cell::Datetime(normalize::parse_datetime(cell)?.map(|d| d.and_utc().timestamp_millis()))
        }
    })
}

fn push(buf: &mut Buffer, cell: Cell, quality: Option<&mut IdQuality>) {
    match (buf, cell) {
        (Buffer::Text(v), Cell::Text(x)) => v.push(x),
        (Buffer::Float(v), Cell::Float(x)) => v.push(x),
        (Buffer::Int(v), Cell::Int(x)) => v.push(x),
        (Buffer::Bool(v), Cell::Bool(x)) => v.push(x),
        (Buffer::Date(v), Cell::Date(x)) => v.push(x),
        (Buffer::Datetime(v), Cell::Datetime(x)) => v.push(x),
        (Buffer::Id { value, raw, issue }, Cell::Id(id)) => {
            if let Some(q) = quality {
                match id.issue {
                    None => {
                        q.valid += 1;
                        q.cleaned += u64::from(id.was_cleaned);
                        q.legacy_upgraded += u64::from(id.upgraded_legacy);
                    }
                    Some(i) => *q.invalid.entry(i.code().to_string()).or_default() += 1,
                }
            }
            raw.push((!id.cleaned.is_empty()).then_some(id.cleaned));
            issue.push(id.issue.map(|i: IdIssue| i.code().to_string()));
            value.push(id.valid);
        }
        _ => unreachable!("buffer and cell types come from the same semantic type"),
    }
}

fn finish(name: &str, buf: Buffer, out: &mut Vec<Column>) -> Result<()> {
    match buf {
        Buffer::Text(v) => out.push(Column::new(name.into(), v)),
        Buffer::Float(v) => out.push(Column::new(name.into(), v)),
        Buffer::Int(v) => out.push(Column::new(name.into(), v)),
        Buffer::Bool(v) => out.push(Column::new(name.into(), v)),
        Buffer::Date(v) => out.push(Column::new(name.into(), v).cast(&DataType::Date)?),
        Buffer::Datetime(v) => out.push(
            Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?,
        ),
        Buffer::Id { value, raw, issue } => {
            out.push(Column::new(name.into(), value));
            out.push(Column::new(format!("{name}{ID_RAW_SUFFIX}").into(), raw));
            out.push(Column::new(
                format!("{name}{ID_ISSUE_SUFFIX}").into(),
                issue,
            ));
        }
    }
    Ok(())
}

/// Maps each canonical column to its position in a file's header row.
fn column_positions(
    catalog: &Catalog,
    name: &str,
    spec: &DatasetSpec,
    path: &Path,
    headers: &[String],
) -> Result<Vec<Option<usize>>> {
    let header_keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut positions = Vec::new();
    for (col, cspec) in &spec.columns {
        let wanted: Vec<String> = std::iter::once(col.as_str())
            .chain(cspec.aliases.iter().map(String::as_str))
            .map(header_key)
            .collect();
        let matches: Vec<usize> = (0..header_keys.len())
            .filter(|i| wanted.contains(&header_keys[*i]))
            .collect();
        if matches.len() > 1 {
            let found: Vec<String> = matches
                .iter()
                .map(|i| format!("{} (column {})", headers[*i], i + 1))
                .collect();
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: format!(
                    "dataset `{name}`: {} headers match column `{col}`: {}; crosscheck will not guess which one holds the data. Rename one of them in the file, or keep only one of them among the column's `aliases` in {}",
                    matches.len(),
                    found.join(", "),
                    catalog.path.display()
                ),
            });
        }
        let pos = matches.first().copied();
        if pos.is_none() && !cspec.optional {
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: format!(
                    "dataset `{name}`: no header for column `{col}` (looked for: {}); the file's headers are: {}. Add the file's header to the column's `aliases` in {}, or mark the column `optional: true`",
                    wanted.join(", "),
                    headers.join(", "),
                    catalog.path.display()
                ),
            });
        }
        positions.push(pos);
    }
    Ok(positions)
}

/// Checks without reading the data that every file of a dataset exists, can be opened in its
/// format and encoding, and has a header for every column. Returns the number of files.
pub fn check_dataset(catalog: &Catalog, name: &str) -> Result<usize> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let files = dataset_files(catalog, spec)?;
    for (path, _) in &files {
        let headers = read::read_headers(path, &read::ReadOptions::of(path, spec)?)?;
        column_positions(catalog, name, spec, path, &headers)?;
    }
    Ok(files.len())
}

/// Loads one dataset: every file of its glob, typed, with provenance and rejected rows.
pub fn load_dataset(catalog: &Catalog, name: &str) -> Result<LoadedDataset> {
    load_dataset_cached(catalog, name, None)
}

/// Loads a dataset, taking each file already converted by an earlier run from `cache` (keyed
/// by the file's content hash and the dataset's declaration) instead of parsing it again.
pub fn load_dataset_cached(
    catalog: &Catalog,
    name: &str,
    cache: Option<&cache::Cache>,
) -> Result<LoadedDataset> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let parts = dataset_files(catalog, spec)?
        .into_iter()
        .map(|(path, shown)| {
            // Read once: hashed for the cache and the manifest, then parsed from memory.
            let bytes = fs_err::read(&path)?;
            let sha256 = sha256_hex(&bytes);
            let key = cache.map(|_| cache::key(&sha256, &shown, spec));
            if let (Some(c), Some(k)) = (cache, &key)
                && let Some((mut file, part)) = c.get(k)?
            {
                file.path = shown;
                file.cached = Some(true);
                return Ok((file, part));
            }
            let table = read::read_source(&path, &bytes, &read::ReadOptions::of(&path, spec)?)?;
            let file = InputFile {
                path: shown.clone(),
                sha256,
                bytes: bytes.len() as u64,
                sheet: table.sheet.clone(),
                encoding: table.encoding.map(str::to_string),
                rows_read: table.rows.len() as u64,
                cached: cache.map(|_| false),
            };
            drop(bytes);
            let part = type_table(catalog, name, &path, &shown, &table)?;
            if let (Some(c), Some(k)) = (cache, &key) {
                c.put(k, &file, &part)?;
            }
            Ok((file, part))
        });
    load_tables(catalog, name, parts)
}

/// Loads rows given inline (rule fixtures), in source headers, through the same header
/// mapping and normalisers as files.
pub fn load_inline(
    catalog: &Catalog,
    name: &str,
    label: &str,
    headers: Vec<String>,
    rows: Vec<Vec<RawCell>>,
) -> Result<LoadedDataset> {
    let table = read::SourceTable {
        sheet: None,
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, cells)| read::SourceRow {
                row: i as u64 + 2,
                cells,
                malformed: None,
            })
            .collect(),
        headers,
        encoding: None,
    };
    let file = InputFile {
        path: label.to_string(),
        sha256: String::new(),
        bytes: 0,
        sheet: None,
        encoding: None,
        rows_read: table.rows.len() as u64,
        cached: None,
    };
    let part = type_table(catalog, name, Path::new(label), label, &table)?;
    load_tables(catalog, name, std::iter::once(Ok((file, part))))
}

/// One source file, typed: its rows as a frame with provenance (no row id yet), what was
/// rejected, and the quality of its ID columns. This is what the cache stores.
pub struct FilePart {
    pub frame: DataFrame,
    pub rejected: Vec<RejectedRow>,
    pub quality: BTreeMap<String, IdQuality>,
}

/// Types the rows of one source table; rejects (never drops) what cannot be loaded.
fn type_table(
    catalog: &Catalog,
    name: &str,
    path: &Path,
    shown: &str,
    table: &read::SourceTable,
) -> Result<FilePart> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let columns: Vec<(&String, &crate::job::catalog::ColumnSpec)> = spec.columns.iter().collect();
    let mut buffers: Vec<Buffer> = columns.iter().map(|(_, c)| new_buffer(c.ty)).collect();
    let mut quality: BTreeMap<String, IdQuality> = columns
        .iter()
        .filter(|(_, c)| c.ty == SemanticType::IdCard)
        .map(|(n, _)| ((*n).clone(), IdQuality::default()))
        .collect();
    let (mut prov_file, mut prov_sheet, mut prov_row) = (Vec::new(), Vec::new(), Vec::new());
    let mut rejected = Vec::new();
    let positions = column_positions(catalog, name, spec, path, &table.headers)?;
    let personal_cols = catalog.personal(name);
    let personal: Vec<Option<crate::job::catalog::Personal>> = (0..table.headers.len())
        .map(|i| {
            let col = columns
                .iter()
                .zip(&positions)
                .find(|(_, p)| **p == Some(i))
                .map(|((c, _), _)| c.as_str())?;
            personal_cols
                .iter()
                .find(|(n, _)| n == col)
                .map(|(_, p)| *p)
        })
        .collect();

    'rows: for row in &table.rows {
        let reject = |reason: String| RejectedRow {
            file: shown.to_string(),
            sheet: table.sheet.clone(),
            row: row.row,
            reason,
            content: row.cells.iter().map(RawCell::display).collect(),
            personal: personal.clone(),
        };
        if let Some(reason) = &row.malformed {
            rejected.push(reject(reason.clone()));
            continue;
        }
        let mut typed = Vec::with_capacity(columns.len());
        for ((col, cspec), pos) in columns.iter().zip(&positions) {
            let cell = pos
                .and_then(|p| row.cells.get(p))
                .cloned()
                .unwrap_or(RawCell::Empty);
            let header = pos
                .map(|p| table.headers[p].as_str())
                .unwrap_or(col.as_str());
            if cspec.required && cell.is_empty() {
                rejected.push(reject(format!(
                    "必填列为空 / required column {header} ({col}) is empty"
                )));
                continue 'rows;
            }
            match type_cell(cspec.ty, &cell) {
                Ok(c) => typed.push(c),
                Err(why) => {
                    rejected.push(reject(format!("列 {header} ({col}): {why}")));
                    continue 'rows;
                }
            }
        }
        for (((col, _), buf), cell) in columns.iter().zip(buffers.iter_mut()).zip(typed) {
            push(buf, cell, quality.get_mut(col.as_str()));
        }
        prov_file.push(shown.to_string());
        prov_sheet.push(table.sheet.clone());
        prov_row.push(row.row as i64);
    }
    let mut out = Vec::new();
    for ((col, _), buf) in columns.iter().zip(buffers) {
        finish(col, buf, &mut out)?;
    }
    out.push(Column::new("__file".into(), prov_file));
    out.push(Column::new("__sheet".into(), prov_sheet));
    out.push(Column::new("__row".into(), prov_row));
    Ok(FilePart {
        frame: DataFrame::new_infer_height(out)?,
        rejected,
        quality,
    })
}

/// Puts the typed files of a dataset together, numbers the rows, and checks the accounting.
fn load_tables(
    catalog: &Catalog,
    name: &str,
    parts: impl Iterator<Item = Result<(InputFile, FilePart)>>,
) -> Result<LoadedDataset> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let mut frame: Option<DataFrame> = None;
    let mut quality: BTreeMap<String, IdQuality> = BTreeMap::new();
    let (mut rejected, mut files, mut rows_read) = (Vec::new(), Vec::new(), 0u64);
    for part in parts {
        let (file, part) = part?;
        rows_read += file.rows_read;
        files.push(file);
        rejected.extend(part.rejected);
        for (col, q) in part.quality {
            let total = quality.entry(col).or_default();
            total.valid += q.valid;
            total.cleaned += q.cleaned;
            total.legacy_upgraded += q.legacy_upgraded;
            for (code, n) in q.invalid {
                *total.invalid.entry(code).or_default() += n;
            }
        }
        frame = Some(match frame {
            None => part.frame,
            Some(mut f) => {
                f.vstack_mut(&part.frame)?;
                f
            }
        });
    }
    let mut frame = match frame {
        Some(f) => f,
        None => empty_frame(catalog, name)?.drop(ROW_ID)?,
    };
    let rows_loaded = frame.height() as u64;
    frame.with_column(Column::new(
        ROW_ID.into(),
        (0..rows_loaded as i64).collect::<Vec<i64>>(),
    ))?;
    let report = DatasetReport {
        name: name.to_string(),
        title: spec.title.clone(),
        files,
        rows_read,
        rows_loaded,
        rows_rejected: rejected.len() as u64,
        id_quality: quality,
    };
    if report.rows_read != report.rows_loaded + report.rows_rejected {
        return Err(Error::Bug(format!(
            "dataset `{name}`: rows read ≠ loaded + rejected"
        )));
    }
    Ok(LoadedDataset {
        frame,
        report,
        rejected,
    })
}

/// An empty frame with a dataset's loaded schema: lets `explain` lower a plan without data.
pub fn empty_frame(catalog: &Catalog, name: &str) -> Result<DataFrame> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let mut out = Vec::new();
    for (col, c) in &spec.columns {
        finish(col, new_buffer(c.ty), &mut out)?;
    }
    out.push(Column::new("__file".into(), Vec::<String>::new()));
    out.push(Column::new("__sheet".into(), Vec::<Option<String>>::new()));
    out.push(Column::new("__row".into(), Vec::<i64>::new()));
    out.push(Column::new(ROW_ID.into(), Vec::<i64>::new()));
    Ok(DataFrame::new_infer_height(out)?)
}
