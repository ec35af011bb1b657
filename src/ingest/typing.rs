//! Typing a table of source cells: each source header mapped to its canonical column, each
//! cell normalised by its semantic type into a column buffer (once per distinct value where
//! values repeat), and every row that cannot be loaded rejected with its reason.

use super::*;

/// Header text as compared against aliases: NFKC, no BOM, trimmed, no inner whitespace.
pub(super) fn header_key(h: &str) -> String {
    h.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .collect()
}

/// Column buffers while cells are normalised; a rejected row's slot is filled with NULL and
/// removed when the column is finished.
// One buffer per column, never per cell: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Buffer {
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
pub(super) struct IdFlags {
    pub(super) kind: Vec<u8>,
}

pub(super) const ISSUES: [IdIssue; 6] = [
    IdIssue::Missing,
    IdIssue::Length,
    IdIssue::Characters,
    IdIssue::BirthDate,
    IdIssue::CheckCharacter,
    IdIssue::SpreadsheetDamage,
];

impl IdFlags {
    pub(super) fn with_capacity(n: usize) -> IdFlags {
        IdFlags {
            kind: Vec::with_capacity(n),
        }
    }

    pub(super) fn push(&mut self, issue: Option<IdIssue>, cleaned: bool, upgraded: bool) {
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

    pub(super) fn extend(&mut self, other: &IdFlags) {
        self.kind.extend_from_slice(&other.kind);
    }

    pub(super) fn issue(&self, i: usize) -> Option<IdIssue> {
        self.kind[i].checked_sub(4).map(|k| ISSUES[k as usize])
    }

    /// The quality of rows holding the cells (or values) numbered `rows`, counted a row at a
    /// time: never a pass over every value a column keeps, at every batch.
    pub(super) fn quality(&self, rows: impl IntoIterator<Item = usize>) -> IdQuality {
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

pub(super) fn new_buffer(name: &str, ty: SemanticType, capacity: usize) -> Buffer {
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

pub(super) const EPOCH_DAYS_CE: i32 = 719_163;

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
pub(super) fn reuse_strings(
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
pub(super) fn push_cell(
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
        // `decimal` and `money` are exact at their scale; `float` is a binary double as read.
        Buffer::Float(v) => v.push(match cspec.decimal_scale() {
            Some(scale) => normalize::parse_decimal_at(cell, scale)?,
            None => normalize::parse_decimal(cell)?,
        }),
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
pub(super) type Typed = (Buffer, Vec<(usize, String)>);

/// Types one cell of column `col` (headed `header` in the file) into `buf`; a cell that cannot
/// be loaded leaves a NULL slot and gives the reason its row is rejected.
pub(super) fn type_cell(
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
pub(super) struct ByValueState {
    pub(super) numbering: crate::intern::Numbering,
    /// By value number: the typed columns (an ID's value, raw text and issue; one for other
    /// types), why the value cannot be loaded, and for IDs what typing found.
    pub(super) typed: Vec<Column>,
    /// Only the values that cannot be loaded: none most often, and then no row is looked at.
    pub(super) failed: std::collections::HashMap<u32, String>,
    pub(super) ids: std::sync::Arc<IdFlags>,
    /// The header the failure reasons name.
    pub(super) header: String,
    /// How many times the values were forgotten: numbers of one epoch mean the same values
    /// batch after batch, for the cache's writer.
    pub(super) epoch: u64,
    /// Batches to type cell by cell before numbering is tried again, after one found most
    /// values distinct.
    pub(super) skip: u32,
}

impl ByValueState {
    /// Forgets every value (a batch of mostly new values, or too many values kept).
    pub(super) fn forget(&mut self) {
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
pub(super) const KEEP_VALUES: usize = 1 << 20;

/// Chunks a column's kept values may be in before they are joined into one.
const KEPT_CHUNKS: usize = 16;

/// Types a column of text cells once per distinct value rather than once per row, for the
/// cache: the cache stores such a column as a dictionary anyway, so numbering the rows' values
/// replaces both the typing of every row and the writer's lookup of every typed value (ten
/// million payments hold 62 K IDs, names and accounts). `No` when the cells are not text or
/// the type gains nothing (numbers parse faster than they look up); `Distinct` when most
/// values are distinct. Rows in `malformed` are left out (they are rejected whatever they
/// hold).
pub(super) fn type_by_value(
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
    // A column's first batch cannot tell values that come back (a month of payments longer
    // than a batch) from values that never do: it is numbered whole, and the next batches,
    // where the values of the month before come back, judge.
    let limit = if before == 0 {
        n
    } else {
        crate::intern::distinct_limit(n)
    };
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
        if let Some(why) = type_cell(&mut added, cspec, col, header, cell) {
            state.failed.insert(g, why);
        }
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
        // A chunk per batch that adds values, joined once there are many: joining them at
        // every batch copied all the values kept (two million people's payments: 3 % of the
        // first run), while a gather from many chunks is slower.
        for (kept, new) in state.typed.iter_mut().zip(&columns) {
            kept.append(new)?;
            if kept.n_chunks() > KEPT_CHUNKS {
                *kept = kept.rechunk();
            }
        }
    }
    let failed = &state.failed;
    let failures = if failed.is_empty() {
        Vec::new()
    } else {
        (0..n)
            .filter(|&i| keep(i))
            .filter_map(|i| Some((i, failed.get(&keys[i])?.clone())))
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
pub(super) enum ByValue {
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
pub(super) const SKIP_WHEN_DISTINCT: u32 = 7;

/// Fills a slot for a row that will be rejected, so every buffer stays as long as the table.
pub(super) fn push_null(buf: &mut Buffer) {
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
pub(super) fn finish(
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
                        values: text.clone(),
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
pub(super) fn column_positions(
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
pub(super) fn type_table(
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
