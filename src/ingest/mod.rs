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
    Catalog, DatasetSpec, Format, ID_ISSUE_SUFFIX, ID_RAW_SUFFIX, ROW_ID, SemanticType,
};
use id_card::{IdIssue, normalize_id_number};
use normalize::{CellRef, RawCell};
use rayon::prelude::*;

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

/// Header text as compared against aliases: NFKC, no BOM, trimmed, no inner whitespace.
fn header_key(h: &str) -> String {
    h.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Column buffers while cells are normalised; a rejected row's slot is filled with NULL and
/// removed when the column is finished.
// One buffer per column, never per cell: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Buffer {
    Text(StringChunkedBuilder),
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Datetime(Vec<Option<i64>>),
    /// A Parquet text column that loads as itself, shared instead of copied.
    Same(StringChunked),
    /// A Parquet ID column whose every cell is a valid ID as written.
    IdSame(StringChunked),
    Id {
        value: StringChunkedBuilder,
        raw: StringChunkedBuilder,
        flags: IdFlags,
    },
    /// A column typed once per distinct value (`type_by_value`): the values typed so far
    /// (shared with the column's state), and each row's value number.
    Coded {
        values: Vec<Column>,
        /// The numbering's (`ByValueState::epoch`).
        epoch: u64,
        ids: Option<std::sync::Arc<IdFlags>>,
        keys: Vec<u32>,
    },
}

/// What typing found in each ID cell (or distinct ID value), for the ID quality: a byte a
/// cell, valid (0; + 1 cleaned, + 2 a legacy ID upgraded) or 4 + its issue's place in `ISSUES`.
#[derive(Clone, Default)]
struct IdFlags {
    kind: Vec<u8>,
}

const ISSUES: [IdIssue; 6] = [
    IdIssue::Missing,
    IdIssue::Length,
    IdIssue::Characters,
    IdIssue::BirthDate,
    IdIssue::CheckCharacter,
    IdIssue::SpreadsheetDamage,
];

impl IdFlags {
    fn with_capacity(n: usize) -> IdFlags {
        IdFlags {
            kind: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, issue: Option<IdIssue>, cleaned: bool, upgraded: bool) {
        self.kind.push(match issue {
            None => u8::from(cleaned) + 2 * u8::from(upgraded),
            // Exhaustive: a new issue must take its place in `ISSUES`.
            Some(issue) => match issue {
                IdIssue::Missing => 4,
                IdIssue::Length => 5,
                IdIssue::Characters => 6,
                IdIssue::BirthDate => 7,
                IdIssue::CheckCharacter => 8,
                IdIssue::SpreadsheetDamage => 9,
            },
        });
    }

    fn extend(&mut self, other: &IdFlags) {
        self.kind.extend_from_slice(&other.kind);
    }

    fn issue(&self, i: usize) -> Option<IdIssue> {
        self.kind[i].checked_sub(4).map(|k| ISSUES[k as usize])
    }

    /// The quality of rows holding the cells (or values) numbered `rows`, counted a row at a
    /// time: never a pass over every value a column keeps, at every batch.
    fn quality(&self, rows: impl IntoIterator<Item = usize>) -> IdQuality {
        let mut counts = [0u64; 4 + ISSUES.len()];
        for g in rows {
            counts[self.kind[g] as usize] += 1;
        }
        let mut q = IdQuality {
            valid: counts[..4].iter().sum(),
            cleaned: counts[1] + counts[3],
            legacy_upgraded: counts[2] + counts[3],
            ..IdQuality::default()
        };
        for (issue, &n) in ISSUES.iter().zip(&counts[4..]) {
            if n > 0 {
                q.invalid.insert(issue.code().to_string(), n);
            }
        }
        q
    }
}

fn new_buffer(name: &str, ty: SemanticType, capacity: usize) -> Buffer {
    match ty {
        SemanticType::IdCard => Buffer::Id {
            value: StringChunkedBuilder::new(name.into(), capacity),
            raw: StringChunkedBuilder::new(format!("{name}{ID_RAW_SUFFIX}").into(), capacity),
            flags: IdFlags::with_capacity(capacity),
        },
        SemanticType::Text | SemanticType::Plate | SemanticType::Name => {
            Buffer::Text(StringChunkedBuilder::new(name.into(), capacity))
        }
        SemanticType::Decimal | SemanticType::Money | SemanticType::Float => {
            Buffer::Float(Vec::with_capacity(capacity))
        }
        SemanticType::Int => Buffer::Int(Vec::with_capacity(capacity)),
        SemanticType::Bool => Buffer::Bool(Vec::with_capacity(capacity)),
        SemanticType::Date => Buffer::Date(Vec::with_capacity(capacity)),
        SemanticType::Datetime => Buffer::Datetime(Vec::with_capacity(capacity)),
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

/// A Parquet string column that loads as itself, reused without a copy: text already
/// normalised, or IDs all valid as written (most of a large extract). `None`: some cell needs
/// the cell-by-cell path.
fn reuse_strings(
    name: &str,
    cspec: &crate::job::catalog::ColumnSpec,
    ca: &StringChunked,
) -> Option<Buffer> {
    let shared = || ca.clone().with_name(name.into());
    match cspec.ty {
        SemanticType::Text | SemanticType::Name => {
            let fits = !(cspec.required && ca.null_count() > 0)
                && ca.iter().all(|v| v.is_none_or(normalize::text_as_is));
            fits.then(|| Buffer::Same(shared()))
        }
        SemanticType::IdCard => {
            let fits =
                ca.null_count() == 0 && ca.iter().all(|v| v.is_some_and(id_card::valid_as_is));
            fits.then(|| Buffer::IdSame(shared()))
        }
        _ => None,
    }
}

/// Normalises one cell into its column's buffer, or says why it cannot be loaded (then the
/// buffer is left as it was).
fn push_cell(
    buf: &mut Buffer,
    cspec: &crate::job::catalog::ColumnSpec,
    cell: CellRef<'_>,
) -> std::result::Result<(), String> {
    let ty = cspec.ty;
    use chrono::Datelike;
    match buf {
        Buffer::Id { value, raw, flags } => {
            let text = cell.display();
            let id = match cell {
                CellRef::Number(v) => id_card::IdCardRef::from(normalize_id_number(v)),
                _ => id_card::normalize_id_ref(&text),
            };
            flags.push(id.issue, id.was_cleaned, id.upgraded_legacy);
            raw.append_option((!id.cleaned.is_empty()).then_some(id.cleaned.as_ref()));
            value.append_option(id.valid.as_deref());
        }
        Buffer::Text(b) => {
            let t = normalize::normalize_text(cell);
            match (ty, t) {
                (_, None) => b.append_null(),
                (SemanticType::Plate, Some(t)) => b.append_value(normalize_plate(&t)),
                (_, Some(t)) => b.append_value(t),
            }
        }
        Buffer::Same(_) | Buffer::IdSame(_) | Buffer::Coded { .. } => {
            unreachable!("a reused or coded column is complete, never filled cell by cell")
        }
        Buffer::Float(v) => v.push(normalize::parse_decimal_at(
            cell,
            cspec
                .decimal_scale()
                .unwrap_or(crate::job::catalog::MAX_SCALE),
        )?),
        Buffer::Int(v) => v.push(normalize::parse_int(cell)?),
        Buffer::Bool(v) => v.push(normalize::parse_bool(cell)?),
        Buffer::Date(v) => {
            v.push(normalize::parse_date(cell)?.map(|d| d.num_days_from_ce() - EPOCH_DAYS_CE))
        }
        Buffer::Datetime(v) => {
            v.push(normalize::parse_datetime(cell)?.map(|d| d.and_utc().timestamp_millis()))
        }
    }
    Ok(())
}

/// A column typed: its buffer, and (row, reason) for each cell that cannot be loaded.
type Typed = (Buffer, Vec<(usize, String)>);

/// Types one cell of column `col` (headed `header` in the file) into `buf`; a cell that cannot
/// be loaded leaves a NULL slot and gives the reason its row is rejected.
fn type_cell(
    buf: &mut Buffer,
    cspec: &crate::job::catalog::ColumnSpec,
    col: &str,
    header: &str,
    cell: CellRef<'_>,
) -> Option<String> {
    let why = if cspec.required && cell.is_empty() {
        format!("必填列为空 / required column {header} ({col}) is empty")
    } else {
        match push_cell(buf, cspec, cell) {
            Ok(()) => return None,
            Err(why) => format!("列 {header} ({col}): {why}"),
        }
    };
    push_null(buf);
    Some(why)
}

/// A column's numbering of its text cells and the typed form of each value, kept from batch
/// to batch of a file (`type_by_value`): a value typed in one batch is not typed again in the
/// next. Monthly payments hold the same people month after month: typing each batch's
/// distinct values afresh was an eighth of converting ten million of them.
#[derive(Default)]
struct ByValueState {
    numbering: crate::intern::Numbering,
    /// By value number: the typed columns (an ID's value, raw text and issue; one for other
    /// types), why the value cannot be loaded, and for IDs what typing found.
    typed: Vec<Column>,
    failed: Vec<Option<String>>,
    ids: std::sync::Arc<IdFlags>,
    /// The header the failure reasons name.
    header: String,
    /// How many times the values were forgotten: numbers of one epoch mean the same values
    /// batch after batch, for the cache's writer.
    epoch: u64,
    /// Batches to type cell by cell before numbering is tried again, after one found most
    /// values distinct.
    skip: u32,
}

impl ByValueState {
    /// Forgets every value (a batch of mostly new values, or too many values kept).
    fn forget(&mut self) {
        self.numbering.clear();
        self.typed.clear();
        self.failed.clear();
        self.ids = Default::default();
        self.epoch += 1;
    }
}

/// Values a column keeps typed from batch to batch; past this many it starts afresh, so that
/// what it keeps stays near one batch's worth whatever the extract holds. Not more: numbering
/// pays while the values' table stays in the CPU's cache (62 thousand people); a month of 620
/// thousand kept from batch to batch made converting it 15 % slower than typing each cell.
const KEEP_VALUES: usize = 1 << 18;

/// Types a column of text cells once per distinct value rather than once per row, for the
/// cache: the cache stores such a column as a dictionary anyway, so numbering the rows' values
/// replaces both the typing of every row and the writer's lookup of every typed value (ten
/// million payments hold 62 K IDs, names and accounts). `No` when the cells are not text or
/// the type gains nothing (numbers parse faster than they look up); `Distinct` when most
/// values are distinct. Rows in `malformed` are left out (they are rejected whatever they
/// hold).
fn type_by_value(
    col: &str,
    cspec: &crate::job::catalog::ColumnSpec,
    header: &str,
    src: &read::SourceColumn,
    malformed: &[Option<&read::Malformed>],
    state: &mut ByValueState,
) -> Result<ByValue> {
    use SemanticType as T;
    if !matches!(
        cspec.ty,
        T::Text | T::Name | T::Plate | T::IdCard | T::Date | T::Datetime
    ) {
        return Ok(ByValue::No);
    }
    // Only ever set after numbering this column's text cells.
    if state.skip > 0 {
        state.skip -= 1;
        return Ok(ByValue::Distinct);
    }
    if state.numbering.table.len() > KEEP_VALUES || state.header != header {
        state.forget();
        state.header = header.to_string();
    }
    let before = state.numbering.table.len();
    let numbering = &mut state.numbering;
    let n = malformed.len();
    let limit = crate::intern::distinct_limit(n);
    let keep = |i: usize| malformed[i].is_none();
    let mut keys = Vec::new();
    let numbered = match src {
        read::SourceColumn::Text { data, ends } => numbering.number(
            n,
            |i| {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                keep(i).then(|| &data.as_bytes()[start..ends[i]])
            },
            limit,
            &mut keys,
        )?,
        read::SourceColumn::Strings(ca) if ca.chunks().len() == 1 => {
            let text = ca.downcast_as_array();
            numbering.number(
                n,
                |i| {
                    keep(i).then(|| match polars_arrow::array::Array::is_valid(text, i) {
                        true => text.value(i).as_bytes(),
                        false => &b""[..],
                    })
                },
                limit,
                &mut keys,
            )?
        }
        _ => return Ok(ByValue::No),
    };
    if !numbered {
        state.forget();
        state.skip = SKIP_WHEN_DISTINCT;
        return Ok(ByValue::Distinct);
    }
    // The values new to the column, typed and added to those kept.
    let table = &state.numbering.table;
    let mut added = new_buffer(col, cspec.ty, table.len() - before);
    for g in before as u32..table.len() as u32 {
        // The bytes were copied out of text.
        let text = std::str::from_utf8(table.key(g))
            .map_err(|e| Error::Bug(format!("a text cell is not UTF-8: {e}")))?;
        let cell = if text.is_empty() {
            CellRef::Empty
        } else {
            CellRef::Text(text)
        };
        state
            .failed
            .push(type_cell(&mut added, cspec, col, header, cell));
    }
    if let Buffer::Id { flags, .. } = &added {
        std::sync::Arc::make_mut(&mut state.ids).extend(flags);
    }
    let mut columns = Vec::new();
    finish(
        col,
        added,
        None,
        true,
        &mut columns,
        &mut cache::Coded::new(),
    )?;
    if cspec.ty == T::IdCard {
        // Kept as the cache stores it (`elide_raw`), each value once, not at every batch over
        // all the values kept.
        let elided = cache::elide_raw(columns[1].str()?, columns[0].str()?)?;
        columns[1] = elided.into_column();
    }
    if state.typed.is_empty() {
        state.typed = columns;
    } else if columns.first().is_some_and(|c| !c.is_empty()) {
        // In one chunk: a gather from several is slower, and what is kept stays below
        // `KEEP_VALUES` values, so joining them at each batch stays cheap.
        for (kept, new) in state.typed.iter_mut().zip(&columns) {
            kept.append(new)?;
            *kept = kept.rechunk();
        }
    }
    let failed = &state.failed;
    let failures = if failed.iter().all(Option::is_none) {
        Vec::new()
    } else {
        (0..n)
            .filter(|&i| keep(i))
            .filter_map(|i| Some((i, failed[keys[i] as usize].clone()?)))
            .collect()
    };
    Ok(ByValue::Typed((
        Buffer::Coded {
            values: state.typed.clone(),
            epoch: state.epoch,
            ids: (cspec.ty == T::IdCard).then(|| state.ids.clone()),
            keys,
        },
        failures,
    )))
}

/// What typing a column by value gave (one per column per batch: the size of the typed
/// variant does not matter).
#[allow(clippy::large_enum_variant)]
enum ByValue {
    Typed(Typed),
    /// Most values distinct, here or in one of the last `SKIP_WHEN_DISTINCT` batches (not
    /// tried again until then): typed cell by cell, and stored plain.
    Distinct,
    /// Not text cells, or a type that gains nothing.
    No,
}

/// Batches a column found mostly distinct is typed cell by cell before numbering is tried
/// again. At a thousand times the sample city a month of payments outnumbers a batch, so a
/// month-ordered extract's IDs are distinct batch after batch; each try cost three quarters
/// of a batch's lookups, and the writer's dictionary as many again.
const SKIP_WHEN_DISTINCT: u32 = 7;

/// Fills a slot for a row that will be rejected, so every buffer stays as long as the table.
fn push_null(buf: &mut Buffer) {
    match buf {
        Buffer::Same(_) | Buffer::IdSame(_) | Buffer::Coded { .. } => {
            unreachable!("a reused or coded column is complete, never filled cell by cell")
        }
        Buffer::Text(b) => b.append_null(),
        Buffer::Float(v) => v.push(None),
        Buffer::Int(v) => v.push(None),
        Buffer::Bool(v) => v.push(None),
        Buffer::Date(v) => v.push(None),
        Buffer::Datetime(v) => v.push(None),
        Buffer::Id { value, raw, flags } => {
            value.append_null();
            raw.append_null();
            flags.push(None, false, false);
        }
    }
}

/// The finished columns of a buffer, only the rows in `keep` (all when `None`), and the
/// quality of an ID column over those rows. A coded column's texts go to `coded` as typed
/// values and row numbers (an ID's raw text elided where it equals the ID, as the cache
/// stores it),
/// and are gathered row by row into `out` only with `gather` (else NULL stands in for them).
fn finish(
    name: &str,
    buf: Buffer,
    keep: Option<&BooleanChunked>,
    gather: bool,
    out: &mut Vec<Column>,
    coded: &mut cache::Coded,
) -> Result<Option<IdQuality>> {
    let mut quality = None;
    let mut cols = Vec::new();
    match buf {
        Buffer::Coded {
            values,
            epoch,
            ids,
            keys,
        } => {
            let keys = IdxCa::from_vec(
                PlSmallStr::EMPTY,
                match keep {
                    Some(k) => keys
                        .iter()
                        .zip(k.iter())
                        .filter(|(_, k)| *k == Some(true))
                        .map(|(g, _)| *g as IdxSize)
                        .collect(),
                    None => keys.into_iter().map(|g| g as IdxSize).collect(),
                },
            );
            if let Some(ids) = &ids {
                quality = Some(
                    ids.quality(
                        keys.downcast_as_array()
                            .values()
                            .iter()
                            .map(|&g| g as usize),
                    ),
                );
            }
            for (i, c) in values.iter().enumerate() {
                let Ok(text) = c.str() else {
                    // Dates typed by value: gathered, the writer has no dictionary for them.
                    out.push(c.take(&keys)?);
                    continue;
                };
                coded.insert(
                    c.name().to_string(),
                    Some(cache::CodedText {
                        values: text.rechunk().downcast_as_array().clone(),
                        epoch,
                        keys: keys.rechunk().downcast_as_array().clone(),
                    }),
                );
                out.push(match (gather, ids.is_some() && i == 1) {
                    // An ID's raw text is kept elided where it is the ID: restored row by row.
                    (true, true) => {
                        let raw = text.take(&keys)?;
                        let id = values[0].str()?.take(&keys)?;
                        raw.zip_with(&raw.is_not_null(), &id)?.into_column()
                    }
                    (true, false) => c.take(&keys)?,
                    // Only written to the cache, from `coded`: no row needs the text.
                    (false, _) => {
                        Column::full_null(c.name().clone(), keys.len(), &DataType::String)
                    }
                });
            }
            return Ok(quality);
        }
        Buffer::Text(b) => cols.push(b.finish().into_column()),
        Buffer::Same(ca) => cols.push(ca.into_column()),
        Buffer::IdSame(ca) => {
            let n = ca.len();
            let kept = keep.map_or(n, |k| k.sum().unwrap_or(0) as usize);
            quality = Some(IdQuality {
                valid: kept as u64,
                ..IdQuality::default()
            });
            cols.push(ca.clone().into_column());
            cols.push(
                ca.with_name(format!("{name}{ID_RAW_SUFFIX}").into())
                    .into_column(),
            );
            cols.push(Column::full_null(
                format!("{name}{ID_ISSUE_SUFFIX}").into(),
                n,
                &DataType::String,
            ));
        }
        Buffer::Float(v) => cols.push(Column::new(name.into(), v)),
        Buffer::Int(v) => cols.push(Column::new(name.into(), v)),
        Buffer::Bool(v) => cols.push(Column::new(name.into(), v)),
        Buffer::Date(v) => cols.push(Column::new(name.into(), v).cast(&DataType::Date)?),
        Buffer::Datetime(v) => cols.push(
            Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?,
        ),
        Buffer::Id { value, raw, flags } => {
            quality = Some(flags.quality(
                (0..flags.kind.len()).filter(|&i| keep.is_none_or(|k| k.get(i) == Some(true))),
            ));
            cols.push(value.finish().into_column());
            cols.push(raw.finish().into_column());
            cols.push(Column::new(
                format!("{name}{ID_ISSUE_SUFFIX}").into(),
                (0..flags.kind.len())
                    .map(|i| flags.issue(i).map(IdIssue::code))
                    .collect::<Vec<Option<&str>>>(),
            ));
        }
    }
    for c in cols {
        out.push(match keep {
            Some(k) => c.filter(k)?,
            None => c,
        });
    }
    Ok(quality)
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
                return load_batched(
                    catalog,
                    name,
                    spec,
                    cache,
                    &path,
                    &options,
                    shown,
                    columns.as_deref(),
                );
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

/// A file's SHA-256 by `hash` (which also gives back what it read), remembered in the cache
/// when there is one, so that a later run need not read the file while it is unchanged.
fn hashed<T>(
    cache: Option<&cache::Cache>,
    path: &Path,
    hash: impl FnOnce() -> Result<(String, T)>,
) -> Result<(String, T)> {
    match cache {
        Some(c) => c.hashed(path, hash),
        None => hash(),
    }
}

/// The SHA-256 and size of a file read in 1 MiB pieces (an extract may not fit in memory).
fn sha256_streamed(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = fs_err::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&h.finalize()), total))
}

/// A Parquet or CSV extract in batches, each typed on its own. Through the cache, each batch is
/// written as it goes and the rules then scan the cache like any cached file: memory stays at
/// a batch or two, whatever the extract's size. Without the cache, only the columns the rules
/// read are kept from each batch: memory is those columns and one batch, never the whole
/// source beside its typed copy.
#[allow(clippy::too_many_arguments)]
fn load_batched(
    catalog: &Catalog,
    name: &str,
    spec: &DatasetSpec,
    cache: Option<&cache::Cache>,
    path: &Path,
    options: &read::ReadOptions,
    shown: String,
    columns: Option<&[String]>,
) -> Result<(InputFile, Part)> {
    // Unchanged since an earlier run hashed it: not read again.
    let recalled = cache.and_then(|c| c.recall_hash(path));
    let sha256_recalled = recalled.is_some();
    let input_file = |(sha256, bytes): (String, u64), read: &BatchesRead, cached| InputFile {
        path: shown.clone(),
        sha256,
        bytes,
        sheet: None,
        encoding: read.encoding.map(str::to_string),
        rows_read: read.rows,
        cached,
        sha256_recalled,
        cache_rebuilt: None,
    };
    // The hash, taken on its own thread while the file is converted when nothing can be
    // found under it (no cache, or a file this cache never saw): hashing first would keep
    // one core idle while the whole file is read.
    let Some(cache) = cache else {
        // The typed batches accumulate here: smaller batches keep the peak near them.
        let mut kept: Option<DataFrame> = None;
        let (hash, read) = std::thread::scope(|s| {
            let (tap, hash) = hash_beside(path, options);
            let hashing = s.spawn(hash);
            let read = typed_batches(
                catalog,
                name,
                path,
                options,
                tap,
                &shown,
                read::PARQUET_BATCH_ROWS / 4,
                false,
                |frame, _| {
                    let frame = match columns {
                        Some(cols) => frame.select(cols.iter().map(String::as_str))?,
                        None => frame,
                    };
                    match &mut kept {
                        Some(k) => {
                            k.vstack_mut_owned(frame)?;
                        }
                        None => kept = Some(frame),
                    }
                    Ok(true)
                },
            );
            (joined(hashing), read)
        });
        // What stopped the reading, rather than the hash it left unfinished.
        let read = read?;
        let hash = hash?;
        let frame = kept.ok_or_else(|| Error::Bug("a file read in no batch".into()))?;
        let file = input_file(hash, &read, None);
        // Kept in the batches' chunks: joining them into one would copy every column.
        let part = Part::kept(frame, read.rejected, read.quality);
        return Ok((file, part));
    };
    let known = match recalled {
        Some(known) => Some(known),
        None if cache.seen(path) => Some(hashed(Some(cache), path, || sha256_streamed(path))?),
        None => None,
    };
    if let Some((sha256, _)) = &known
        && let Some(hit) = cache.get(&cache::key(sha256, &shown, spec), columns)?
    {
        return Ok(Part::served(hit, shown, true, sha256_recalled));
    }
    let writer = cache.writer(cache::id_columns(spec));
    // Batches go to the writer's thread while the next is read and typed: half the usual
    // batch size, as several are in memory. The writer encodes a row group once it has
    // gathered four batches; two more may wait meanwhile, so the typing goes on rather than
    // waiting on the encoding every fourth batch.
    let (writer, read, hash) = std::thread::scope(|s| -> Result<_> {
        let (tap, hashing) = match known {
            Some(known) => (None, s.spawn(|| Ok(known))),
            None => {
                let (tap, hash) = hash_beside(path, options);
                (tap, s.spawn(|| hashed(Some(cache), path, hash)))
            }
        };
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<(DataFrame, cache::Coded)>(2);
        let written = s.spawn(move || -> Result<_> {
            let mut writer = writer;
            for (frame, coded) in batches {
                writer.write(&frame, &coded)?;
            }
            Ok(writer)
        });
        // A send fails only once the writer stopped on an error, which its join gives.
        let read = typed_batches(
            catalog,
            name,
            path,
            options,
            tap,
            &shown,
            read::PARQUET_BATCH_ROWS / 2,
            true,
            |frame, coded| Ok(to_writer.send((frame, coded)).is_ok()),
        );
        drop(to_writer);
        let writer = written
            .join()
            .unwrap_or_else(|_| Err(Error::Bug("the cache writer panicked".into())));
        let hash = joined(hashing);
        let read = read?;
        Ok((writer?, read, hash?))
    })?;
    let key = cache::key(&hash.0, &shown, spec);
    let file = input_file(hash, &read, Some(false));
    writer.finish(&key, &file, &read.rejected, &read.quality)?;
    let damaged = cache.damage(&key);
    let hit = cache.get(&key, columns)?.ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        message: "the converted file could not be read back from the cache just after it was \
                  written (a full or failing disk?); run again, or with --no-cache"
            .into(),
    })?;
    // Converted just now: the rules scan what was written, never the batches held.
    let (mut file, part) = Part::served(hit, shown, false, sha256_recalled);
    file.cache_rebuilt = damaged;
    Ok((file, part))
}

/// The hash of a file being converted, and where its reader sends the bytes to hash (CSV:
/// the file is read once); a Parquet file, which Polars reads itself, is read again for it.
type HashBeside<'a> = Box<dyn FnOnce() -> Result<(String, u64)> + Send + 'a>;

fn hash_beside<'a>(
    path: &'a Path,
    options: &read::ReadOptions,
) -> (Option<read::Tap>, HashBeside<'a>) {
    if options.format != Format::Csv {
        return (None, Box::new(move || sha256_streamed(path)));
    }
    let (tap, tapped): (read::Tap, _) = std::sync::mpsc::sync_channel(2);
    let hash = move || {
        let mut h = Sha256::new();
        let mut total = 0u64;
        for chunk in tapped {
            let Some(chunk) = chunk else {
                return Ok((hex(&h.finalize()), total));
            };
            h.update(&chunk[..]);
            total += chunk.len() as u64;
        }
        // Never remembered: the reading stopped, and says why.
        Err(Error::Input {
            path: path.to_path_buf(),
            message: "read only in part, so not hashed".into(),
        })
    };
    (Some(tap), Box::new(hash))
}

/// What a thread gave back, or a bug if it panicked.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Bug("a loading thread panicked".into())))
}

/// What reading a file's batches gave besides their rows.
struct BatchesRead {
    rows: u64,
    rejected: Vec<RejectedRow>,
    quality: BTreeMap<String, IdQuality>,
    /// The encoding a CSV file was read in.
    encoding: Option<&'static str>,
}

/// Reads and types a Parquet or CSV file a batch at a time (`parquet_rows` rows of Parquet;
/// a CSV file's bytes also go to `tap`),
/// handing each typed batch (and its columns typed once per distinct value, with `by_value`)
/// to `each`, which returns false to stop. With `by_value` the batches are for the cache's
/// writer only: the texts typed by value are in `coded`, not in the frame.
#[allow(clippy::too_many_arguments)]
fn typed_batches(
    catalog: &Catalog,
    name: &str,
    path: &Path,
    options: &read::ReadOptions,
    tap: Option<read::Tap>,
    shown: &str,
    parquet_rows: usize,
    by_value: bool,
    mut each: impl FnMut(DataFrame, cache::Coded) -> Result<bool>,
) -> Result<BatchesRead> {
    let mut tables = Vec::new();
    let mut read = BatchesRead {
        rows: 0,
        rejected: Vec::new(),
        quality: BTreeMap::new(),
        encoding: None,
    };
    let batches = read::batches(path, options, parquet_rows, tap)?;
    std::thread::scope(|s| {
        // The next batch is read (decoded, parsed) on its own thread while this one is typed.
        let (to_typing, read_ahead) = std::sync::mpsc::sync_channel(0);
        s.spawn(move || {
            for table in batches {
                let failed = table.is_err();
                // A send fails once typing stopped: nothing more to read.
                if to_typing.send(table).is_err() || failed {
                    break;
                }
            }
        });
        for table in read_ahead {
            let table = table?;
            read.rows += table.rows.len() as u64;
            read.encoding = table.encoding;
            let part = type_table(
                catalog,
                name,
                path,
                shown,
                &table,
                by_value.then_some(&mut tables),
                !by_value,
            )?;
            drop(table);
            read.rejected.extend(part.rejected);
            merge_quality(&mut read.quality, part.quality);
            if !each(part.frame, part.coded)? {
                break;
            }
        }
        Ok(read)
    })
}

fn merge_quality(total: &mut BTreeMap<String, IdQuality>, part: BTreeMap<String, IdQuality>) {
    for (col, q) in part {
        let t = total.entry(col).or_default();
        t.valid += q.valid;
        t.cleaned += q.cleaned;
        t.legacy_upgraded += q.legacy_upgraded;
        for (code, n) in q.invalid {
            *t.invalid.entry(code).or_default() += n;
        }
    }
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

/// One source file, typed: its rows as a frame with provenance (no row id yet), what was
/// rejected, and the quality of its ID columns. This is what the cache stores.
pub struct FilePart {
    pub frame: DataFrame,
    pub rejected: Vec<RejectedRow>,
    pub quality: BTreeMap<String, IdQuality>,
    /// The text columns typed once per distinct value, as the cache's writer takes them.
    pub coded: cache::Coded,
}

/// Types the rows of one source table, a column at a time and the columns in parallel;
/// rejects (never drops) what cannot be loaded. With `by_value` (the table goes to the cache),
/// text columns are typed once per distinct value where that pays (`type_by_value`), with a
/// table per column kept from call to call. Without `gather`, the frame only goes to the
/// cache's writer: the texts typed by value are left NULL in it (`coded` holds them), not
/// gathered row by row.
fn type_table(
    catalog: &Catalog,
    name: &str,
    path: &Path,
    shown: &str,
    table: &read::SourceTable,
    by_value: Option<&mut Vec<ByValueState>>,
    gather: bool,
) -> Result<FilePart> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let columns: Vec<(&String, &crate::job::catalog::ColumnSpec)> = spec.columns.iter().collect();
    let positions = column_positions(catalog, name, spec, path, &table.headers)?;
    let n = table.rows.len();
    let mut malformed: Vec<Option<&read::Malformed>> = vec![None; n];
    for m in &table.malformed {
        malformed[m.index] = Some(m);
    }
    let mut tables: Vec<Option<&mut ByValueState>> = match by_value {
        Some(tables) => {
            tables.resize_with(columns.len(), Default::default);
            tables.iter_mut().map(Some).collect()
        }
        None => columns.iter().map(|_| None).collect(),
    };
    // Each column typed, and whether it is text to store plain (its values mostly distinct).
    let typed: Vec<(Typed, bool)> = columns
        .par_iter()
        .zip(positions.par_iter())
        .zip(tables.par_iter_mut())
        .map(|(((col, cspec), pos), by_value)| -> Result<_> {
            let src = pos.map(|p| &table.columns[p]);
            let header = pos
                .map(|p| table.headers[p].as_str())
                .unwrap_or(col.as_str());
            let mut plain = false;
            if let (Some(by_value), Some(src)) = (by_value, src) {
                match type_by_value(col, cspec, header, src, &malformed, by_value)? {
                    ByValue::Typed(typed) => return Ok((typed, false)),
                    ByValue::Distinct => plain = true,
                    ByValue::No => {}
                }
            }
            if let (true, Some(read::SourceColumn::Strings(ca))) = (table.malformed.is_empty(), src)
                && let Some(buf) = reuse_strings(col, cspec, ca)
            {
                return Ok(((buf, Vec::new()), plain));
            }
            let mut buf = new_buffer(col, cspec.ty, n);
            let mut failures = Vec::new();
            for (i, bad) in malformed.iter().enumerate() {
                if bad.is_some() {
                    push_null(&mut buf);
                    continue;
                }
                let cell = src.map_or(CellRef::Empty, |c| c.get(i));
                if let Some(why) = type_cell(&mut buf, cspec, col, header, cell) {
                    failures.push((i, why));
                }
            }
            Ok(((buf, failures), plain))
        })
        .collect::<Result<_>>()?;
    let (typed, plain): (Vec<Typed>, Vec<bool>) = typed.into_iter().unzip();

    // A row is rejected for its first failing column, in the catalog's order.
    let mut reasons: Vec<Option<&str>> = malformed
        .iter()
        .map(|m| m.map(|m| m.reason.as_str()))
        .collect();
    let (buffers, failures): (Vec<Buffer>, Vec<Vec<(usize, String)>>) = typed.into_iter().unzip();
    for column_failures in &failures {
        for (i, why) in column_failures {
            reasons[*i].get_or_insert(why.as_str());
        }
    }
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
    let rejected: Vec<RejectedRow> = reasons
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let reason = (*r)?;
            Some(RejectedRow {
                file: shown.to_string(),
                sheet: table.sheet.clone(),
                row: table.rows[i],
                reason: reason.to_string(),
                content: match malformed[i] {
                    Some(m) => m.fields.clone(),
                    None => table
                        .columns
                        .iter()
                        .map(|c| c.get(i).display().into_owned())
                        .collect(),
                },
                personal: personal.clone(),
            })
        })
        .collect();
    let keep: Option<BooleanChunked> = (!rejected.is_empty()).then(|| {
        reasons
            .iter()
            .map(|r| Some(r.is_none()))
            .collect::<BooleanChunked>()
    });

    let mut out = Vec::new();
    let mut quality = BTreeMap::new();
    let mut coded: cache::Coded = columns
        .iter()
        .zip(&plain)
        .filter(|(_, plain)| **plain)
        .map(|((col, _), _)| ((*col).clone(), None))
        .collect();
    for ((col, _), buf) in columns.iter().zip(buffers) {
        if let Some(q) = finish(col, buf, keep.as_ref(), gather, &mut out, &mut coded)? {
            quality.insert((*col).clone(), q);
        }
    }
    let loaded = n - rejected.len();
    out.push(Column::new_scalar(
        "__file".into(),
        Scalar::new(DataType::String, AnyValue::StringOwned(shown.into())),
        loaded,
    ));
    out.push(Column::new_scalar(
        "__sheet".into(),
        Scalar::new(
            DataType::String,
            table
                .sheet
                .as_ref()
                .map_or(AnyValue::Null, |s| AnyValue::StringOwned(s.as_str().into())),
        ),
        loaded,
    ));
    let rows: Vec<i64> = table
        .rows
        .iter()
        .zip(&reasons)
        .filter(|(_, r)| r.is_none())
        .map(|(row, _)| *row as i64)
        .collect();
    out.push(Column::new("__row".into(), rows));
    Ok(FilePart {
        frame: DataFrame::new_infer_height(out)?,
        rejected,
        quality,
        coded,
    })
}

/// One file's rows as the rules will read them.
struct Part {
    frame: Frame,
    rows: u64,
    /// In memory (0 for a scan of the cache).
    bytes: u64,
    rejected: Vec<RejectedRow>,
    quality: BTreeMap<String, IdQuality>,
}

/// A part's rows, not yet numbered in the dataset.
enum Frame {
    Memory(Box<LazyFrame>),
    Cache(cache::Scan),
}

impl Frame {
    fn numbered(self, first_row: u64) -> Result<LazyFrame> {
        let offset = IdxSize::try_from(first_row).map_err(|_| {
            Error::Bug(format!(
                "row {first_row} is past what crosscheck can number"
            ))
        })?;
        match self {
            Frame::Memory(lf) => Ok((*lf).with_row_index(ROW_ID, Some(offset))),
            Frame::Cache(scan) => scan.numbered(ROW_ID, offset),
        }
    }
}

impl Part {
    /// A file served by the cache (`cached`: from an earlier run, not converted just now;
    /// `recalled`: its hash taken from an earlier run, this run did not read it).
    fn served(
        hit: cache::Cached,
        shown: String,
        cached: bool,
        recalled: bool,
    ) -> (InputFile, Part) {
        let mut file = hit.file;
        file.path = shown;
        file.cached = Some(cached);
        file.sha256_recalled = recalled;
        let part = Part {
            frame: Frame::Cache(hit.scan),
            rows: hit.rows,
            bytes: 0,
            rejected: hit.rejected,
            quality: hit.quality,
        };
        (file, part)
    }

    /// A file typed in memory, in one chunk per column.
    fn memory(mut part: FilePart) -> Part {
        part.frame.rechunk_mut_par();
        Part::kept(part.frame, part.rejected, part.quality)
    }

    /// Rows held in memory as they are.
    fn kept(
        frame: DataFrame,
        rejected: Vec<RejectedRow>,
        quality: BTreeMap<String, IdQuality>,
    ) -> Part {
        Part {
            rows: frame.height() as u64,
            bytes: frame.estimated_size() as u64,
            frame: Frame::Memory(Box::new(frame.lazy())),
            rejected,
            quality,
        }
    }
}

/// Puts the typed files of a dataset together, numbers the rows, and checks the accounting.
fn load_tables(
    catalog: &Catalog,
    name: &str,
    parts: impl Iterator<Item = Result<(InputFile, Part)>>,
) -> Result<LoadedDataset> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let mut frames = Vec::new();
    let (mut rows_loaded, mut bytes_loaded) = (0u64, 0u64);
    let mut quality: BTreeMap<String, IdQuality> = BTreeMap::new();
    let (mut rejected, mut files, mut rows_read) = (Vec::new(), Vec::new(), 0u64);
    let mut stored = Some(cache::Stored::default());
    for part in parts {
        let (file, part) = part?;
        rows_read += file.rows_read;
        files.push(file);
        rejected.extend(part.rejected);
        merge_quality(&mut quality, part.quality);
        match (&part.frame, &mut stored) {
            (Frame::Cache(scan), Some(stored)) => scan.add_to(stored),
            _ => stored = None,
        }
        // The row id numbers the dataset's rows in file order, as the provenance does.
        frames.push(part.frame.numbered(rows_loaded)?);
        rows_loaded += part.rows;
        bytes_loaded += part.bytes;
    }
    let stacked = match frames.len() {
        0 => empty_frame(catalog, name)?.lazy(),
        1 => frames.remove(0),
        _ => concat(frames, UnionArgs::default())?,
    };
    let mut frame = stacked.with_column(col(ROW_ID).cast(DataType::Int64));
    let columns_loaded = frame
        .collect_schema()?
        .iter_names()
        .filter(|c| c.as_str() != ROW_ID)
        .map(|c| c.to_string())
        .collect();
    let report = DatasetReport {
        name: name.to_string(),
        title: spec.title.clone(),
        files,
        rows_read,
        rows_loaded,
        rows_rejected: rejected.len() as u64,
        id_quality: quality,
        columns_loaded,
        bytes_loaded,
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
        stored: stored.filter(|s| !s.files.is_empty()),
    })
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
mod tests {
    use super::*;

    /// `datasets.yaml` in `dir`, declaring dataset `p` with `path` and `columns` (YAML lines).
    fn catalog_file(dir: &Path, path: &str, columns: &[&str]) -> PathBuf {
        let file = dir.join("datasets.yaml");
        let columns: String = columns.iter().map(|c| format!("      {c}\n")).collect();
        let yaml = format!("datasets:\n  p:\n    path: \"{path}\"\n    columns:\n{columns}");
        std::fs::write(&file, yaml).unwrap();
        file
    }

    /// A catalog of one dataset `p` (ID and amount) over the files `p_*` in `dir`.
    fn payments_catalog(dir: &Path) -> PathBuf {
        catalog_file(
            dir,
            "p_*",
            &[
                "id_card: { type: id_card, aliases: [身份证号] }",
                "amount: { type: money, aliases: [金额] }",
            ],
        )
    }

    /// A dataset of several files numbers its rows across them in file order, and the cache
    /// (which numbers each file's rows in its scan) gives the frame a fresh parse gives.
    #[test]
    fn rows_are_numbered_across_files_alike_from_the_cache_and_from_the_extracts() {
        let dir = tempfile::tempdir().unwrap();
        let path = payments_catalog(dir.path());
        std::fs::write(
            dir.path().join("p_1.csv"),
            "身份证号,金额\n11010519491231002X,10\n320102195003011238,20\n",
        )
        .unwrap();
        // The second file is Parquet: read in batches, with or without the cache.
        let mut second = df!(
            "身份证号" => [Some("320104194805122341"), None, Some("11010519491231002X")],
            "金额" => ["30", "40", "50"],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(dir.path().join("p_2.parquet")).unwrap())
            .finish(&mut second)
            .unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
        let wanted: std::collections::BTreeSet<String> = ["amount".to_string()].into();
        let frame = |cache: Option<&cache::Cache>| {
            let ds = load_dataset_cached(&catalog, "p", cache, Some(&wanted)).unwrap();
            let served: Vec<Option<bool>> = ds.report.files.iter().map(|f| f.cached).collect();
            (ds.frame.collect().unwrap(), served)
        };
        let (parsed, _) = frame(None);
        let (first, converted) = frame(Some(&cache));
        let (second, served) = frame(Some(&cache));
        assert_eq!(converted, [Some(false), Some(false)]);
        assert_eq!(served, [Some(true), Some(true)]);
        let ints = |df: &DataFrame, c: &str| -> Vec<i64> {
            df.column(c)
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(ints(&second, ROW_ID), [0, 1, 2, 3, 4]);
        let rows = ints(&second, "__row");
        // CSV rows count from 2 (the header is row 1); Parquet rows from the reader's first.
        let parquet_first = rows[2];
        assert_eq!(
            rows,
            [2, 3, parquet_first, parquet_first + 1, parquet_first + 2]
        );
        assert_eq!(parsed, first);
        assert_eq!(parsed, second);
        // A filter on the served rows keeps their numbers.
        let cut = load_dataset_cached(&catalog, "p", Some(&cache), Some(&wanted))
            .unwrap()
            .frame
            .filter(col("amount").gt(lit(25.0)))
            .collect()
            .unwrap();
        assert_eq!(ints(&cut, ROW_ID), [2, 3, 4]);
    }

    /// Extracts with a header and no rows convert into the cache and are served from it as
    /// empty frames of the dataset's columns, as a fresh parse gives them.
    #[test]
    fn extracts_without_rows_are_cached_and_served_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = payments_catalog(dir.path());
        std::fs::write(dir.path().join("p_1.csv"), "身份证号,金额\n").unwrap();
        let mut none =
            df!("身份证号" => Vec::<String>::new(), "金额" => Vec::<String>::new()).unwrap();
        ParquetWriter::new(std::fs::File::create(dir.path().join("p_2.parquet")).unwrap())
            .finish(&mut none)
            .unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
        let load = |cache: Option<&cache::Cache>| {
            let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
            let served: Vec<Option<bool>> = ds.report.files.iter().map(|f| f.cached).collect();
            (ds.frame.collect().unwrap(), served)
        };
        let (parsed, _) = load(None);
        let (first, converted) = load(Some(&cache));
        let (second, served) = load(Some(&cache));
        assert_eq!(converted, [Some(false), Some(false)]);
        assert_eq!(served, [Some(true), Some(true)]);
        assert_eq!(parsed.height(), 0);
        // Equal frames of no rows could still differ in their columns' names or types.
        assert_eq!(parsed.schema(), first.schema());
        assert_eq!(parsed.schema(), second.schema());
        assert!(parsed.schema().contains("id_card") && parsed.schema().contains("amount"));
        assert_eq!(parsed, first);
        assert_eq!(parsed, second);
    }

    /// A file unchanged on disk since an earlier run hashed it is not read to be hashed again;
    /// an edited file is, even at the same size, and so is a file still settling.
    #[test]
    fn an_unchanged_files_hash_is_recalled_and_an_edited_one_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = payments_catalog(dir.path());
        let csv = dir.path().join("p_1.csv");
        std::fs::write(&csv, "身份证号,金额\n11010519491231002X,10\n").unwrap();
        let mut second = df!("身份证号" => ["320104194805122341"], "金额" => ["30"]).unwrap();
        let parquet = dir.path().join("p_2.parquet");
        ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
            .finish(&mut second)
            .unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let cache_dir = dir.path().join("cache");
        let load = |cache: &cache::Cache| {
            let ds = load_dataset_cached(&catalog, "p", Some(cache), None).unwrap();
            let amounts: Vec<f64> = ds
                .frame
                .collect()
                .unwrap()
                .column("amount")
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .collect();
            let files: Vec<(String, bool, Option<bool>)> = ds
                .report
                .files
                .into_iter()
                .map(|f| (f.sha256, f.sha256_recalled, f.cached))
                .collect();
            (files, amounts)
        };
        let sha = |p: &Path| sha256_hex(&std::fs::read(p).unwrap());
        let cache = cache::Cache::new(&cache_dir).unwrap();
        let hashed = |cached| vec![(sha(&csv), false, cached), (sha(&parquet), false, cached)];

        // Written just now: hashed (the Parquet file, never seen, while it is converted),
        // and the hash not recalled (the file may still be being written); but seen, so the
        // next load hashes it first and finds the conversion.
        assert_eq!(load(&cache), (hashed(Some(false)), vec![10.0, 30.0]));
        assert_eq!(load(&cache), (hashed(Some(true)), vec![10.0, 30.0]));
        std::thread::sleep(std::time::Duration::from_millis(2100));
        // Settled: hashed once more and remembered; from then on recalled.
        assert_eq!(load(&cache), (hashed(Some(true)), vec![10.0, 30.0]));
        let recalled = vec![
            (sha(&csv), true, Some(true)),
            (sha(&parquet), true, Some(true)),
        ];
        assert_eq!(load(&cache), (recalled, vec![10.0, 30.0]));

        // Edited at the same size: the change time moved, so it is hashed and parsed again.
        std::fs::write(&csv, "身份证号,金额\n11010519491231002X,90\n").unwrap();
        let (files, amounts) = load(&cache);
        assert_eq!(
            files,
            [
                (sha(&csv), false, Some(false)),
                (sha(&parquet), true, Some(true))
            ]
        );
        assert_eq!(amounts, [90.0, 30.0]);

        // `run --rehash`: every file hashed again.
        let rehashing = cache::Cache::new(&cache_dir).unwrap().rehashing();
        assert_eq!(load(&rehashing), (hashed(Some(true)), vec![90.0, 30.0]));
    }

    /// A Parquet string column that loads as written is shared, and gives exactly what the
    /// cell-by-cell path gives: the same columns (`_raw`, `_issue` included) and ID quality.
    #[test]
    fn a_shared_parquet_column_loads_as_the_cell_by_cell_path_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = catalog_file(
            dir.path(),
            "p.parquet",
            &[
                "id_card: { type: id_card, aliases: [身份证号] }",
                "name: { type: name, aliases: [姓名] }",
            ],
        );
        let catalog = Catalog::load(&path).unwrap();
        let ids = ["11010519491231002X", "320102195003011238"];
        let names = ["张伟", "Li Na"];
        let table = |shared: bool| {
            let column = |v: &[&str]| {
                if shared {
                    read::SourceColumn::Strings(StringChunked::from_slice("c".into(), v))
                } else {
                    read::SourceColumn::Cells(
                        v.iter().map(|s| RawCell::Text(s.to_string())).collect(),
                    )
                }
            };
            read::SourceTable {
                sheet: None,
                headers: vec!["身份证号".into(), "姓名".into()],
                columns: vec![column(&ids), column(&names)],
                rows: vec![2, 3],
                malformed: Vec::new(),
                encoding: None,
            }
        };
        let (a, b) = (table(true), table(false));
        assert!(matches!(
            reuse_strings(
                "id_card",
                &catalog.datasets["p"].columns["id_card"],
                match &a.columns[0] {
                    read::SourceColumn::Strings(ca) => ca,
                    _ => unreachable!(),
                }
            ),
            Some(Buffer::IdSame(_))
        ));
        let shared = type_table(&catalog, "p", &path, "p.parquet", &a, None, true).unwrap();
        let by_cell = type_table(&catalog, "p", &path, "p.parquet", &b, None, true).unwrap();
        assert_eq!(shared.frame, by_cell.frame);
        assert_eq!(shared.quality["id_card"].valid, 2);
        assert_eq!(
            format!("{:?}", shared.quality),
            format!("{:?}", by_cell.quality)
        );
    }

    /// Typing each distinct value once (for the cache) gives exactly what typing every cell
    /// gives: the same frame, the same rejected rows for the same reasons, the same ID
    /// quality; and each coded text column's numbers name every row's value. Text cells (CSV)
    /// and Parquet strings with NULLs, IDs to clean, upgrade or reject, names to normalise,
    /// plates, dates, required cells left empty, ragged records; twice through the same
    /// tables.
    #[test]
    fn typing_each_distinct_value_once_gives_what_typing_each_cell_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = catalog_file(
            dir.path(),
            "p.csv",
            &[
                "id_card: { type: id_card, aliases: [身份证号] }",
                "name: { type: name, aliases: [姓名], required: true }",
                "plate: { type: plate, aliases: [号牌], optional: true }",
                "day: { type: date, aliases: [日期] }",
                "amount: { type: money, aliases: [金额] }",
                "note: { type: text, aliases: [备注] }",
            ],
        );
        let catalog = Catalog::load(&path).unwrap();
        // Every row's note differs: numbering gives up on them.
        let notes: Vec<String> = (0..600).map(|i| format!("第{i}笔")).collect();
        let ids = [
            "11010519491231002X",
            " 11010519491231002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105491231002",
            "320102195003011238",
            "12345",
            "",
        ];
        let plates = ["京A·12345", "京a12345", "", "沪B-67890"];
        let n = 600;
        // Clean: only the values that load (the first four IDs, names, days; no ragged
        // record), so no row is rejected.
        let cell = |values: &[&'static str], i: usize, step: usize, clean: bool| {
            let values = if clean { &values[..4] } else { values };
            values[(i / step) % values.len()]
        };
        let columns = |clean: bool| -> Vec<Vec<&str>> {
            vec![
                (0..n).map(|i| cell(&ids, i, 1, clean)).collect(),
                (0..n)
                    .map(|i| cell(&["张伟", " 张伟 ", "Ｌｉ　Ｎａ", "王·芳", ""], i, 3, clean))
                    .collect(),
                (0..n).map(|i| cell(&plates, i, 2, false)).collect(),
                (0..n)
                    .map(|i| {
                        cell(
                            &["2025-03-01", "2025/3/1", "202503", "2025年3月15日", "x", ""],
                            i,
                            50,
                            clean,
                        )
                    })
                    .collect(),
                (0..n)
                    .map(|i| cell(&["1.5", "2", "3", "4", "x"], i, 1, clean))
                    .collect(),
                notes.iter().map(String::as_str).collect(),
            ]
        };
        let malformed_at = [7, 300];
        let table = |parquet: bool, clean: bool| read::SourceTable {
            sheet: None,
            headers: ["身份证号", "姓名", "号牌", "日期", "金额", "备注"]
                .map(String::from)
                .into(),
            columns: columns(clean)
                .iter()
                .map(|c| {
                    if parquet {
                        let cells: Vec<Option<&str>> =
                            c.iter().map(|v| (!v.is_empty()).then_some(*v)).collect();
                        read::SourceColumn::Strings(StringChunked::new("c".into(), cells))
                    } else {
                        let mut ends = Vec::new();
                        let mut data = String::new();
                        for v in c {
                            data.push_str(v);
                            ends.push(data.len());
                        }
                        read::SourceColumn::Text { data, ends }
                    }
                })
                .collect(),
            rows: (2..n as u64 + 2).collect(),
            malformed: if parquet || clean {
                Vec::new()
            } else {
                malformed_at
                    .iter()
                    .map(|&index| read::Malformed {
                        index,
                        reason: "字段数不符 / ragged".into(),
                        fields: vec!["a".into(), "b".into()],
                    })
                    .collect()
            },
            encoding: None,
        };
        // Rejected rows, ID quality and coded texts compare as they print.
        let same =
            |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
        let mut tables = Vec::new();
        for (parquet, clean) in [(false, false), (true, false), (false, false), (true, true)] {
            let source = table(parquet, clean);
            let by_cell = type_table(&catalog, "p", &path, "p.csv", &source, None, true).unwrap();
            let by_value = type_table(
                &catalog,
                "p",
                &path,
                "p.csv",
                &source,
                Some(&mut tables),
                true,
            )
            .unwrap();
            assert_eq!(by_value.frame, by_cell.frame, "parquet: {parquet}");
            assert!(same(&by_value.rejected, &by_cell.rejected));
            assert!(same(&by_value.quality, &by_cell.quality));
            if clean {
                assert!(by_cell.rejected.is_empty());
                assert_eq!(by_cell.frame.height(), n);
                continue;
            }
            // Every kind of failure is there to compare.
            let reasons: Vec<&str> = by_cell.rejected.iter().map(|r| r.reason.as_str()).collect();
            assert!(reasons.iter().any(|r| r.contains("required column 姓名")));
            assert!(reasons.iter().any(|r| r.starts_with("列 日期")));
            assert!(reasons.iter().any(|r| r.starts_with("列 金额")));
            assert_eq!(reasons.contains(&"字段数不符 / ragged"), !parquet);
            assert!(by_cell.quality["id_card"].cleaned > 0);
            assert!(by_cell.quality["id_card"].legacy_upgraded > 0);
            assert!(!by_cell.quality["id_card"].invalid.is_empty());
            assert!(by_cell.frame.height() > 100);

            let mut coded: Vec<&String> = by_value.coded.keys().collect();
            coded.sort();
            let id = ["id_card", "id_card_issue", "id_card_raw"];
            assert_eq!(coded, [&id[..], &["name", "note", "plate"]].concat());
            assert!(by_cell.coded.is_empty());
            // Mostly distinct: stored plain, no dictionary tried.
            assert!(by_value.coded["note"].is_none());
            // Each row's number names its value (the writer makes each row group's dictionary
            // of the values its rows hold: `cache::pages` tests).
            for (column, coded) in &by_value.coded {
                let Some(coded) = coded else { continue };
                let rows: Vec<Option<&str>> = (coded.keys.values().iter())
                    .map(|&g| coded.values.get(g as usize))
                    .collect();
                let text = |c: &str| by_value.frame.column(c).unwrap().str().unwrap().clone();
                // The cache stores an ID's raw text where it differs from the ID.
                let frame = match column.as_str() {
                    "id_card_raw" => cache::elide_raw(&text(column), &text("id_card")).unwrap(),
                    _ => text(column),
                };
                assert_eq!(rows, frame.iter().collect::<Vec<_>>(), "{column}");
            }

            // For the cache's writer alone: the same, but the texts it has in `coded`
            // are not gathered into the frame.
            let written = type_table(
                &catalog,
                "p",
                &path,
                "p.csv",
                &source,
                Some(&mut tables),
                false,
            )
            .unwrap();
            assert!(same(&written.rejected, &by_value.rejected));
            assert!(same(&written.quality, &by_value.quality));
            assert_eq!(written.coded.len(), by_value.coded.len());
            for (column, dict) in &by_value.coded {
                assert!(same(&written.coded[column], dict), "{column}");
            }
            for c in by_value.frame.columns() {
                let w = written.frame.column(c.name()).unwrap();
                match by_value.coded.get(c.name().as_str()) {
                    Some(Some(_)) => assert_eq!(w.null_count(), w.len(), "{}", c.name()),
                    _ => assert_eq!(w, c),
                }
            }
        }
    }

    /// A Parquet extract converted into the cache (its typed texts written from their values
    /// and numbers, never gathered row by row) reads back as the extract typed without the cache: an ID
    /// column of few values (typed by value) and one of distinct values (typed cell by cell,
    /// its raw text elided by the writer row by row).
    #[test]
    fn a_parquet_extract_reads_back_from_the_cache_as_typed_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = catalog_file(
            dir.path(),
            "p.parquet",
            &[
                "id_card: { type: id_card, aliases: [身份证号] }",
                "name: { type: name, aliases: [姓名] }",
                "month: { type: date, aliases: [月份] }",
                "amount: { type: money, aliases: [金额] }",
                "payee: { type: id_card, aliases: [收款人身份证号] }",
            ],
        );
        // Distinct payees: valid IDs, some written with a lower-case x or padded, some invalid.
        let payee = |i: usize| {
            let first17 = format!("320102195003{:02}{:03}", 1 + i / 1000, i % 1000);
            let id = format!("{first17}{}", id_card::check_character(first17.as_bytes()));
            let id = id.replace('X', ["X", "x"][i % 2]);
            match i % 10 {
                0 => Some(format!(" {id} ")),
                1 => Some(format!("{}9", &id[..17])),
                2 => None,
                _ => Some(id),
            }
        };
        let ids = [
            Some("11010519491231002X"),
            Some(" 11010519491231002x"),
            Some("110105491231002"),
            Some("12345"),
            None,
            Some("320102195003011238"),
        ];
        let n = 3000;
        let mut source = df!(
            "身份证号" => (0..n).map(|i| ids[i % ids.len()]).collect::<Vec<_>>(),
            "姓名" => (0..n).map(|i| format!("张{}", i % 7)).collect::<Vec<_>>(),
            "月份" => (0..n).map(|i| ["202401", "2024-02", "x"][i / 1000]).collect::<Vec<_>>(),
            "金额" => (0..n).map(|i| i as f64 / 4.0).collect::<Vec<_>>(),
            "收款人身份证号" => (0..n).map(payee).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(dir.path().join("p.parquet")).unwrap())
            .finish(&mut source)
            .unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
        let load = |cache: Option<&cache::Cache>| {
            let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
            let report = format!("{:?}", (&ds.rejected, &ds.report.id_quality));
            (ds.frame.collect().unwrap(), report)
        };
        let typed = load(None);
        assert_eq!(typed.0.height(), 2000);
        // Both kinds of raw text are there: equal to the ID, and not.
        let payees = typed.0.column("payee").unwrap().str().unwrap().clone();
        let raw = typed.0.column("payee_raw").unwrap().str().unwrap().clone();
        let differ = raw.not_equal_missing(&payees).sum().unwrap();
        assert!(differ > 100 && differ < 1000, "{differ}");
        assert_eq!(load(Some(&cache)), typed);
        // Served from the cache the second time.
        assert_eq!(load(Some(&cache)), typed);
    }

    /// A GBK CSV file larger than a chunk is read in batches: every row comes through once,
    /// numbered by the line it starts on (some records span two lines), the rejected rows
    /// (an amount in words) of every batch named by their lines, the IDs typed alike in each
    /// batch; without the cache, converted into it, and served by it. A byte invalid in its
    /// last line stops the conversion and leaves nothing half written.
    #[test]
    fn a_csv_file_larger_than_a_chunk_loads_every_row_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "datasets:\n  p:\n    path: p.csv\n    encoding: gbk\n    columns:\n      \
                    id_card: { type: id_card, aliases: [身份证号] }\n      \
                    name: { type: name, aliases: [姓名] }\n      \
                    amount: { type: money, aliases: [金额] }\n      \
                    note: { type: text, aliases: [备注] }\n";
        std::fs::write(dir.path().join("datasets.yaml"), yaml).unwrap();
        // 3,000 valid IDs (none ending in 0: a number ending 000 reads as spreadsheet damage).
        let valid: Vec<String> = (0..)
            .map(|i| {
                let first17 = format!("320102195003{:02}{:03}", 1 + i / 1000 % 12, i % 1000);
                format!("{first17}{}", id_card::check_character(first17.as_bytes()))
            })
            .filter(|id| !id.ends_with('0'))
            .take(3000)
            .collect();
        let id = |i: usize| valid[i].clone();
        let mut text = String::from("身份证号,姓名,金额,备注\n");
        let (mut line, mut ids, mut rejected) = (2u64, Vec::new(), Vec::new());
        let n = 70_000;
        for i in 0..n {
            let (value, spans) = match i % 10_000 {
                7 => ("\"第一行,\n第二行\"".to_string(), 2),
                _ => (
                    format!(
                        "养老金发放记录，经办机构：某区社会保险事业管理中心第{}窗口，复核：某区人力资源和社会保障局基金监督科",
                        i % 97
                    ),
                    1,
                ),
            };
            let amount = if i % 1000 == 999 {
                rejected.push(line);
                "一百".to_string()
            } else {
                ids.push(id(i % 3000));
                format!("{}.50", i % 2000)
            };
            text.push_str(&format!("{},张{},{amount},{value}\n", id(i % 3000), i % 50));
            line += spans;
        }
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        assert!(
            gbk.len() > read::CSV_CHUNK_BYTES,
            "{} bytes: one chunk",
            gbk.len()
        );
        std::fs::write(dir.path().join("p.csv"), &gbk).unwrap();
        let catalog = Catalog::load(&dir.path().join("datasets.yaml")).unwrap();
        let cache = cache::Cache::new(&dir.path().join("cache")).unwrap();
        let load = |cache: Option<&cache::Cache>| {
            let ds = load_dataset_cached(&catalog, "p", cache, None).unwrap();
            let file = &ds.report.files[0];
            assert_eq!(file.encoding.as_deref(), Some("GBK"));
            assert_eq!(file.rows_read, n as u64);
            let lines: Vec<u64> = ds.rejected.iter().map(|r| r.row).collect();
            assert_eq!(lines, rejected);
            let frame = ds.frame.collect().unwrap();
            let column = frame.column("id_card").unwrap().str().unwrap().clone();
            let typed: Vec<String> = column.iter().map(|v| v.unwrap().to_string()).collect();
            assert_eq!(typed, ids);
            (frame, format!("{:?}", ds.rejected))
        };
        let typed = load(None);
        assert_eq!(load(Some(&cache)), typed);
        assert_eq!(load(Some(&cache)), typed);
        // A byte that is not GBK on the last line: that row alone is rejected, its byte shown.
        let mut bad = gbk.into_owned();
        bad.extend_from_slice(b"\x81 ,x,1,x\n");
        std::fs::write(dir.path().join("p.csv"), &bad).unwrap();
        let ds = load_dataset_cached(&catalog, "p", Some(&cache), None).unwrap();
        assert_eq!(ds.report.files[0].rows_read, n as u64 + 1);
        let last = ds.rejected.last().unwrap();
        assert_eq!(last.row, line);
        assert!(last.reason.contains("not valid GBK"), "{}", last.reason);
        assert_eq!(last.content[0], "\\x81 ");
        // Most rows not GBK: the file is in another encoding, refused whole with the first such
        // line named, after the first batches were written, and no partial file left.
        for _ in 0..n {
            bad.extend_from_slice(b"\x81 ,x,1,x\n");
        }
        std::fs::write(dir.path().join("p.csv"), &bad).unwrap();
        let err = load_dataset_cached(&catalog, "p", Some(&cache), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not valid GBK") && err.contains(&format!("the first on line {line}")),
            "{err}"
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.contains("partial"))
            .collect();
        left.sort();
        assert_eq!(left, Vec::<String>::new());
    }

    /// The ID quality counts each row once by what its value's typing found: valid (cleaned,
    /// upgraded from 15 digits, both, neither) or invalid by reason.
    #[test]
    fn id_quality_counts_every_row_by_what_typing_found() {
        let mut flags = IdFlags::default();
        flags.push(None, false, false);
        flags.push(None, true, false);
        flags.push(None, false, true);
        flags.push(None, true, true);
        flags.push(Some(IdIssue::CheckCharacter), false, false);
        flags.push(Some(IdIssue::Missing), false, false);
        flags.push(Some(IdIssue::CheckCharacter), true, false);
        // Rows: value 0 twice, 1 once, 2 not at all, 3 three times, 4 and 6 once each.
        let rows = [0, 3, 1, 3, 4, 0, 3, 6];
        let expected = IdQuality {
            valid: 6,
            cleaned: 4,
            legacy_upgraded: 3,
            invalid: BTreeMap::from([("check_character".to_string(), 2)]),
        };
        assert_eq!(flags.quality(rows), expected);
        let issues: Vec<Option<IdIssue>> = (0..7).map(|i| flags.issue(i)).collect();
        assert_eq!(
            issues[4..],
            [
                Some(IdIssue::CheckCharacter),
                Some(IdIssue::Missing),
                Some(IdIssue::CheckCharacter)
            ]
        );
        assert!(issues[..4].iter().all(Option::is_none));
    }

    /// A column found mostly distinct is typed cell by cell for the next `SKIP_WHEN_DISTINCT`
    /// batches, even where its values repeat, and numbered again after them; values typed in
    /// one batch serve the next, and a batch found distinct leaves none half kept.
    #[test]
    fn numbering_is_tried_again_after_the_batches_it_skips() {
        let dir = tempfile::tempdir().unwrap();
        let path = catalog_file(dir.path(), "p.csv", &["note: { type: text }"]);
        let catalog = Catalog::load(&path).unwrap();
        let cspec = &catalog.datasets["p"].columns["note"];
        let notes = |of: &dyn Fn(usize) -> usize| -> Vec<String> {
            (0..400).map(|i| format!("备注{}", of(i))).collect()
        };
        let cells = |notes: &[String]| {
            let (mut data, mut ends) = (String::new(), Vec::new());
            for n in notes {
                data.push_str(n);
                ends.push(data.len());
            }
            read::SourceColumn::Text { data, ends }
        };
        let malformed = vec![None; 400];
        let mut state = ByValueState::default();
        // "typed" (with the rows' values as typed), "distinct" or "no".
        let mut typed = |notes: &[String]| match type_by_value(
            "note",
            cspec,
            "备注",
            &cells(notes),
            &malformed,
            &mut state,
        )
        .unwrap()
        {
            ByValue::Typed((buf, _)) => {
                let mut out = Vec::new();
                finish("note", buf, None, true, &mut out, &mut cache::Coded::new()).unwrap();
                let rows: Vec<String> = out[0]
                    .str()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect();
                assert_eq!(rows, notes);
                "typed"
            }
            ByValue::Distinct => "distinct",
            ByValue::No => "no",
        };
        let distinct = notes(&|i| i);
        let (three, five) = (notes(&|i| i % 3), notes(&|i| i % 5));
        assert_eq!(typed(&three), "typed");
        assert_eq!(typed(&distinct), "distinct");
        for _ in 0..SKIP_WHEN_DISTINCT {
            assert_eq!(typed(&three), "distinct");
        }
        // Two values the distinct batch saw, and three typed before it.
        assert_eq!(typed(&five), "typed");
        assert_eq!(typed(&three), "typed");
        assert_eq!(typed(&distinct), "distinct");
    }
}
