//! Ingest: read each source file of a dataset, map source headers to canonical columns,
//! normalise every cell by its semantic type, keep provenance, and reject (never drop) rows
//! that cannot be loaded. Rows read = rows loaded + rows rejected, per dataset.
//!
//! Here: what a dataset's loading gives back and the entry points. `read` reads formats and
//! encodings, `typing` types a table of cells, `batches` streams a file through typing and
//! the cache, `hashing` hashes the sources, `cache` keeps converted files, `normalize` and
//! `id_card` type one cell, `dispositions` reads inspectors' statuses.

pub mod cache;
pub mod dispositions;
pub mod id_card;
pub mod normalize;
pub mod read;

mod batches;
mod hashing;
mod typing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::job::catalog::{
    Catalog, DatasetSpec, Format, ID_ISSUE_SUFFIX, ID_RAW_SUFFIX, ROW_ID, SemanticType,
};
use batches::*;
use hashing::*;
pub use hashing::{hex, sha256_file, sha256_hex};
use id_card::{IdIssue, normalize_id_number};
use normalize::{CellRef, RawCell};
use rayon::prelude::*;
use typing::*;
pub use typing::{FilePart, normalize_plate};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
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
    /// `sha256` is an earlier run's hash of this file, not read again: the file has the same
    /// device, inode, size, modification and change times as when that run hashed it.
    #[serde(default)]
    pub sha256_recalled: bool,
    /// The cache's entry for this file was damaged (why), removed and converted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_rebuilt: Option<String>,
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
    /// The columns kept in memory (those some rule reads, and provenance).
    pub columns_loaded: Vec<String>,
    /// Their in-memory size.
    pub bytes_loaded: u64,
}

pub struct LoadedDataset {
    /// The rows the rules read: in memory when parsed now, a scan when the cache served them.
    pub frame: LazyFrame,
    pub report: DatasetReport,
    pub rejected: Vec<RejectedRow>,
    /// The cache's files of every part, when the cache served them all.
    pub stored: Option<cache::Stored>,
}

/// The files a dataset's path or glob names, sorted; relative paths as written for provenance.
pub fn dataset_files(catalog: &Catalog, spec: &DatasetSpec) -> Result<Vec<(PathBuf, String)>> {
    if let Ok(Some(source)) = crate::job::catalog::cluster_source(spec) {
        let name = catalog
            .datasets
            .iter()
            .find(|(_, s)| std::ptr::eq(*s, spec))
            .map_or("", |(n, _)| n.as_str());
        return Err(Error::Input {
            path: catalog.path.clone(),
            message: format!(
                "dataset `{name}` (line {}) lives on a cluster ({}): only Spark reads it there \
                 (`run --engine spark`, `check --target spark`), this machine does not",
                spec.path.referenced.line(),
                source.shown()
            ),
        });
    }
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
    load_dataset_cached(catalog, name, None, None)
}

/// The loaded columns of a dataset that `wanted` names, with provenance always; `None` (all)
/// when `wanted` is `None`.
pub fn projection(
    catalog: &Catalog,
    name: &str,
    wanted: Option<&std::collections::BTreeSet<String>>,
) -> Result<Option<Vec<String>>> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    Ok(Some(
        empty_frame(catalog, name)?
            .get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .filter(|c| c != ROW_ID && (c.starts_with("__") || wanted.contains(c)))
            .collect(),
    ))
}

/// Loads a dataset, taking each file already converted by an earlier run from `cache` (keyed
/// by the file's content hash and the dataset's declaration) instead of parsing it again.
/// With `wanted`, only those columns are kept (every column is still typed, so what is
/// rejected does not depend on which rules run, and the cache holds them all).
pub fn load_dataset_cached(
    catalog: &Catalog,
    name: &str,
    cache: Option<&cache::Cache>,
    wanted: Option<&std::collections::BTreeSet<String>>,
) -> Result<LoadedDataset> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let columns = projection(catalog, name, wanted)?;
    let parts = dataset_files(catalog, spec)?
        .into_iter()
        .map(|(path, shown)| {
            let options = read::ReadOptions::of(&path, spec)?;
            // A Parquet or CSV extract is converted batch by batch, never held whole.
            if options.format != Format::Xlsx {
                let src = Source {
                    catalog,
                    name,
                    path: &path,
                    options: &options,
                };
                return load_batched(&src, spec, cache, shown, columns.as_deref());
            }
            // Unchanged since an earlier run hashed it: served without reading it at all.
            if let Some(c) = cache
                && let Some((sha256, _)) = c.recall_hash(&path)
                && let Some(hit) = c.get(&cache::key(&sha256, &shown, spec), columns.as_deref())?
            {
                return Ok(Part::served(hit, shown, true, true));
            }
            // A workbook is read once, hashed for the cache and the manifest and parsed from
            // memory (a sheet holds at most a million rows): where
            // the cache may hold the file (an earlier run saw it), hashed first and looked up;
            // else hashed on its own thread while it is parsed.
            let (sha256, (bytes, table)) = if cache.is_some_and(|c| c.seen(&path)) {
                let (sha256, bytes) = hashed(cache, &path, || {
                    let bytes = fs_err::read(&path)?;
                    Ok((sha256_hex(&bytes), bytes))
                })?;
                if let Some(c) = cache
                    && let Some(hit) =
                        c.get(&cache::key(&sha256, &shown, spec), columns.as_deref())?
                {
                    return Ok(Part::served(hit, shown, true, false));
                }
                let table = read::read_xlsx(&path, &bytes, &options)?;
                (sha256, (bytes.len(), table))
            } else {
                hashed(cache, &path, || {
                    let bytes = fs_err::read(&path)?;
                    std::thread::scope(|s| {
                        let hashing = s.spawn(|| Ok(sha256_hex(&bytes)));
                        let table = read::read_xlsx(&path, &bytes, &options);
                        let sha256 = joined(hashing)?;
                        Ok((sha256, (bytes.len(), table?)))
                    })
                })?
            };
            let key = cache.map(|_| cache::key(&sha256, &shown, spec));
            let file = InputFile {
                path: shown.clone(),
                sha256,
                bytes: bytes as u64,
                sheet: table.sheet.clone(),
                encoding: table.encoding.map(str::to_string),
                rows_read: table.rows.len() as u64,
                cached: cache.map(|_| false),
                sha256_recalled: false,
                cache_rebuilt: None,
            };
            let mut tables = Vec::new();
            let by_value = cache.map(|_| &mut tables);
            let mut part = type_table(catalog, name, &path, &shown, &table, by_value, true)?;
            drop(table);
            let mut file = file;
            if let (Some(c), Some(k)) = (cache, &key) {
                c.put(k, cache::id_columns(spec), &file, &part)?;
                file.cache_rebuilt = c.damage(k);
            }
            if let Some(cols) = &columns {
                part.frame = part.frame.select(cols.iter().map(String::as_str))?;
            }
            Ok((file, Part::memory(part)))
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
    let table = read::SourceTable::from_rows(headers, rows);
    let file = InputFile {
        path: label.to_string(),
        sha256: String::new(),
        bytes: 0,
        sheet: None,
        encoding: None,
        rows_read: table.rows.len() as u64,
        cached: None,
        sha256_recalled: false,
        cache_rebuilt: None,
    };
    let part = type_table(catalog, name, Path::new(label), label, &table, None, true)?;
    load_tables(
        catalog,
        name,
        std::iter::once(Ok((file, Part::memory(part)))),
    )
}

/// An empty frame with a dataset's loaded schema: lets `explain` lower a plan without data.
/// Empty frames of the catalog's types for the named datasets: what lowering a plan needs
/// when no data is read (compiling, `explain`, `check --target spark`).
pub fn empty_frames<'a>(
    catalog: &Catalog,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<std::collections::HashMap<String, LazyFrame>> {
    names
        .into_iter()
        .map(|d| Ok((d.clone(), empty_frame(catalog, d)?.lazy())))
        .collect()
}

pub fn empty_frame(catalog: &Catalog, name: &str) -> Result<DataFrame> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let mut out = Vec::new();
    for (col, c) in &spec.columns {
        finish(
            col,
            new_buffer(col, c.ty, 0),
            None,
            true,
            &mut out,
            &mut cache::Coded::new(),
        )?;
    }
    out.push(Column::new("__file".into(), Vec::<String>::new()));
    out.push(Column::new("__sheet".into(), Vec::<Option<String>>::new()));
    out.push(Column::new("__row".into(), Vec::<i64>::new()));
    out.push(Column::new(ROW_ID.into(), Vec::<i64>::new()));
    Ok(DataFrame::new_infer_height(out)?)
}

#[cfg(test)]
mod tests;
