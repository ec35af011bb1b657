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
    let groups: Vec<usize> = ParquetReader::new(fs_err::File::open(path)?.into_parts().0)
        .get_metadata()
        .map_err(|e| unreadable_parquet(path, e))?
        .row_groups
        .iter()
        .map(|rg| rg.num_rows())
        .collect();
    let scan = LazyFrame::scan_parquet(
        path.to_string_lossy().as_ref().into(),
        ScanArgsParquet::default(),
    )
    .map_err(|e| unreadable_parquet(path, e))?;
    let path = path.to_path_buf();
    Ok(batch_slices(&groups, batch)
        .into_iter()
        .map(move |(offset, len)| {
            let df = scan
                .clone()
                .slice(offset as i64, len as IdxSize)
                .collect()
                .map_err(|e| unreadable_parquet(&path, e))?;
            table_of_frame(df, offset as u64)
        }))
}

/// The batches (first row, rows) of a file whose row groups hold `groups` rows, about
/// `batch` rows each, none across the end of a row group unless the groups are small: a
/// batch of two groups' rows is two chunks, which typing joins into one (a copy of every
/// text column, 8 % of converting two million people's payments, written by month). Small
/// groups are gathered up to `batch` rows; a group of up to twice `batch` is one batch, a
/// larger one as many equal slices as it takes. An empty file is one empty batch.
pub(super) fn batch_slices(groups: &[usize], batch: usize) -> Vec<(usize, usize)> {
    let batch = batch.max(1);
    let mut slices = Vec::new();
    let (mut start, mut gathered) = (0, 0);
    for &rows in groups.iter().filter(|r| **r > 0) {
        if gathered > 0 && gathered + rows > batch {
            slices.push((start, gathered));
            start += gathered;
            gathered = 0;
        }
        if rows <= 2 * batch {
            gathered += rows;
            continue;
        }
        let parts = rows.div_ceil(batch);
        for k in 0..parts {
            let (from, to) = (rows * k / parts, rows * (k + 1) / parts);
            slices.push((start + from, to - from));
        }
        start += rows;
    }
    if gathered > 0 {
        slices.push((start, gathered));
    } else if slices.is_empty() {
        slices.push((0, batch));
    }
    slices
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
            SourceColumn::Strings(ca) => {
                let mut offset = 0;
                for arr in ca.downcast_iter() {
                    rows.extend(with_nul(arr).map(|i| offset + i));
                    offset += arr.len();
                }
            }
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

/// The rows of a text array holding a NUL byte. A value of up to 12 bytes is held in its
/// row's view, a longer one in the data buffers: when no buffer holds a NUL (the usual
/// case, one scan of each), only the short values are looked at, in place. Row by row as
/// text this was 4 % of converting two million people's payments.
fn with_nul(arr: &polars_arrow::array::Utf8ViewArray) -> impl Iterator<Item = usize> + '_ {
    let long_clean = arr.data_buffers().iter().all(|b| !b.contains(&0));
    arr.views().iter().enumerate().filter_map(move |(i, v)| {
        let nul = match v.get_inlined_slice() {
            Some(short) => short.contains(&0),
            None if long_clean => false,
            None => arr.value(i).as_bytes().contains(&0),
        };
        (nul && polars_arrow::array::Array::is_valid(arr, i)).then_some(i)
    })
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
        // A register's timestamps: their wall-clock time (UTC for a zoned one), to the
        // nanosecond; past what chrono holds, text as for dates.
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let dt = match unit {
                TimeUnit::Nanoseconds => Some(chrono::DateTime::from_timestamp_nanos(*v)),
                TimeUnit::Microseconds => chrono::DateTime::from_timestamp_micros(*v),
                TimeUnit::Milliseconds => chrono::DateTime::from_timestamp_millis(*v),
            };
            dt.map_or_else(
                || RawCell::Text(format!("{v} {unit} from 1970-01-01")),
                |dt| RawCell::DateTime(dt.naive_utc()),
            )
        }
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
