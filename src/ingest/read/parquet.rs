//! Parquet files read in batches of rows, each a source table numbered as a spreadsheet
//! would number it.

use super::*;

pub(super) fn unreadable_parquet(path: &Path, e: PolarsError) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: format!("not a readable Parquet file: {e}"),
    }
}

/// Rows a Parquet file is read in when converted batch by batch: bounded memory whatever
/// the file's size. Small on purpose: a batch's column buffers then stay under the allocator's
/// 32 MiB mmap ceiling and are reused from batch to batch; 2 Mi-row batches were returned to
/// the kernel and faulted in afresh each time (a second of system time over ten million rows,
/// and four times the peak memory).
pub const PARQUET_BATCH_ROWS: usize = 1 << 19;

/// A Parquet file's rows in batches of `batch` rows, each as a source table whose row numbers
/// continue from the batch before (rows as a spreadsheet would number them).
pub fn parquet_batches(
    path: &Path,
    batch: usize,
) -> Result<impl Iterator<Item = Result<SourceTable>> + Send + use<>> {
    let rows = ParquetReader::new(fs_err::File::open(path)?.into_parts().0)
        .num_rows()
        .map_err(|e| unreadable_parquet(path, e))?;
    let scan = LazyFrame::scan_parquet(
        path.to_string_lossy().as_ref().into(),
        ScanArgsParquet::default(),
    )
    .map_err(|e| unreadable_parquet(path, e))?;
    let path = path.to_path_buf();
    Ok((0..rows.max(1)).step_by(batch).map(move |offset| {
        let df = scan
            .clone()
            .slice(offset as i64, batch as IdxSize)
            .collect()
            .map_err(|e| unreadable_parquet(&path, e))?;
        table_of_frame(df, offset as u64)
    }))
}

/// A source table of a frame read from Parquet; `first` is the index of its first row.
pub(super) fn table_of_frame(df: DataFrame, first: u64) -> Result<SourceTable> {
    let headers: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let columns = df
        .columns()
        .iter()
        .map(|col| {
            let s = col.as_materialized_series();
            // Strings (the usual case) go to one text buffer; other types cell by cell.
            if let Ok(ca) = s.str() {
                return Ok(SourceColumn::Strings(ca.rechunk().into_owned()));
            }
            if let Ok(ca) = s.f64() {
                return Ok(SourceColumn::Numbers(ca.rechunk().into_owned()));
            }
            (0..s.len())
                .map(|i| s.get(i).map(|v| any_to_cell(&v)))
                .collect::<PolarsResult<Vec<RawCell>>>()
                .map(SourceColumn::Cells)
                .map_err(Error::Polars)
        })
        .collect::<Result<Vec<_>>>()?;
    let malformed = with_nul_bytes(&columns, df.height());
    Ok(SourceTable {
        sheet: None,
        headers,
        columns,
        rows: (0..df.height() as u64).map(|i| first + i + 2).collect(),
        malformed,
        encoding: None,
    })
}

/// The rows of `columns` holding a NUL byte in a text cell, as rejected rows (what a CSV's
/// reader finds as it splits fields).
pub(super) fn with_nul_bytes(columns: &[SourceColumn], height: usize) -> Vec<Malformed> {
    let mut rows = std::collections::BTreeSet::new();
    for col in columns {
        match col {
            SourceColumn::Strings(ca) => rows.extend(
                ca.iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_some_and(|v| v.as_bytes().contains(&0)))
                    .map(|(i, _)| i),
            ),
            SourceColumn::Cells(cells) => rows.extend(
                cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, RawCell::Text(t) if t.contains('\0')))
                    .map(|(i, _)| i),
            ),
            _ => {}
        }
    }
    rows.into_iter()
        .filter(|i| *i < height)
        .map(|index| Malformed {
            index,
            reason: NUL_REASON.to_string(),
            fields: columns
                .iter()
                .map(|c| escaped_field(&c.get(index).display(), &mut Default::default()))
                .collect(),
        })
        .collect()
}

pub(super) const NUL_REASON: &str = "字段含空字符 / a field holds a NUL byte (shown as \\u{0})";

pub(super) fn any_to_cell(v: &AnyValue) -> RawCell {
    match v {
        AnyValue::Null => RawCell::Empty,
        AnyValue::Boolean(b) => RawCell::Bool(*b),
        AnyValue::String(s) => RawCell::Text(s.to_string()),
        AnyValue::StringOwned(s) => RawCell::Text(s.to_string()),
        // Days past what a date can hold: text that no date column accepts (the row is
        // rejected, never a panic).
        AnyValue::Date(days) => chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|epoch| {
                epoch.checked_add_signed(chrono::TimeDelta::try_days(i64::from(*days))?)
            })
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or_else(
                || RawCell::Text(format!("{days} days from 1970-01-01")),
                RawCell::DateTime,
            ),
        // Integers stay exact: an ID in an int64 column has lost nothing yet.
        AnyValue::Int64(i) => RawCell::Text(i.to_string()),
        AnyValue::Int32(i) => RawCell::Text(i.to_string()),
        AnyValue::UInt64(i) => RawCell::Text(i.to_string()),
        AnyValue::UInt32(i) => RawCell::Text(i.to_string()),
        other => match other.extract::<f64>() {
            Some(f) if other.is_primitive_numeric() => RawCell::Number(f),
            _ => RawCell::Text(other.to_string()),
        },
    }
}
