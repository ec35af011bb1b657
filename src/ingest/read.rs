//! Readers per format and encoding. Each yields the header and the columns of a source file
//! as raw cells, with the row number a person sees in Excel for every record: a Parquet or CSV
//! file in batches (never held whole), a workbook whole; typing happens in `ingest`, a column
//! at a time.

use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use polars::prelude::*;

use super::normalize::{CellRef, RawCell};
use crate::error::{Error, Result};
use crate::job::catalog::{Encoding, Format};

mod decode;
mod delimited;
mod parquet;
mod xlsx;

use decode::*;
pub use decode::{decode, sniff_encoding};
use delimited::*;
pub use delimited::{CSV_CHUNK_BYTES, CsvBatches, Tap, ascii_delimiter, csv_batches};
use parquet::*;
pub use parquet::{PARQUET_BATCH_ROWS, parquet_batches};
pub use xlsx::{XLSX_MAX_COLUMNS, XLSX_MAX_ROWS, read_xlsx};

/// The cells of one source column, one per record.
pub enum SourceColumn {
    /// Text cells back to back (CSV, Parquet strings): cell `i` is `data[ends[i-1]..ends[i]]`;
    /// an empty cell is empty text. One buffer per column instead of a string per cell.
    Text { data: String, ends: Vec<usize> },
    /// A Parquet string column as read, in one chunk: typed without a copy.
    Strings(StringChunked),
    /// A Parquet float column as read, in one chunk.
    Numbers(Float64Chunked),
    /// Cells as a spreadsheet typed them.
    Cells(Vec<RawCell>),
}

impl SourceColumn {
    fn text() -> SourceColumn {
        SourceColumn::Text {
            data: String::new(),
            ends: Vec::new(),
        }
    }

    fn push_text(&mut self, s: &str) {
        match self {
            SourceColumn::Text { data, ends } => {
                data.push_str(s);
                ends.push(data.len());
            }
            SourceColumn::Strings(_) | SourceColumn::Numbers(_) => {
                unreachable!("Parquet columns are not built cell by cell")
            }
            SourceColumn::Cells(c) => c.push(if s.is_empty() {
                RawCell::Empty
            } else {
                RawCell::Text(s.to_string())
            }),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SourceColumn::Text { ends, .. } => ends.len(),
            SourceColumn::Strings(c) => c.len(),
            SourceColumn::Numbers(c) => c.len(),
            SourceColumn::Cells(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> CellRef<'_> {
        match self {
            SourceColumn::Text { data, ends } => {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                let s = &data[start..ends[i]];
                if s.is_empty() {
                    CellRef::Empty
                } else {
                    CellRef::Text(s)
                }
            }
            SourceColumn::Strings(c) => match c.get(i) {
                None | Some("") => CellRef::Empty,
                Some(s) => CellRef::Text(s),
            },
            SourceColumn::Numbers(c) => c.get(i).map_or(CellRef::Empty, CellRef::Number),
            SourceColumn::Cells(c) => c[i].as_ref(),
        }
    }
}

/// A record that cannot be aligned to the header (ragged CSV): why, and its fields as read.
pub struct Malformed {
    pub index: usize,
    pub reason: String,
    pub fields: Vec<String>,
}

pub struct SourceTable {
    pub sheet: Option<String>,
    pub headers: Vec<String>,
    /// One per header, each as long as `rows`; a malformed record has empty cells here.
    pub columns: Vec<SourceColumn>,
    /// The Excel-visible row number of each record.
    pub rows: Vec<u64>,
    pub malformed: Vec<Malformed>,
    /// The encoding the bytes were decoded from (CSV only).
    pub encoding: Option<&'static str>,
}

impl SourceTable {
    /// A table from rows of cells (rule fixtures).
    pub fn from_rows(headers: Vec<String>, rows: Vec<Vec<RawCell>>) -> SourceTable {
        let mut columns: Vec<Vec<RawCell>> = headers.iter().map(|_| Vec::new()).collect();
        let n = rows.len();
        for row in rows {
            let mut cells = row.into_iter();
            for col in &mut columns {
                col.push(cells.next().unwrap_or(RawCell::Empty));
            }
        }
        SourceTable {
            sheet: None,
            headers,
            columns: columns.into_iter().map(SourceColumn::Cells).collect(),
            rows: (0..n as u64).map(|i| i + 2).collect(),
            malformed: Vec::new(),
            encoding: None,
        }
    }
}

/// ORC is read by Spark on a cluster; the catalog refuses it for a file on this machine.
fn orc_here(path: &Path) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: "ORC files are read on a cluster only (--engine spark, the path a URI)".into(),
    }
}

pub fn format_of(path: &Path, declared: Option<Format>) -> Result<Format> {
    if let Some(f) = declared {
        return Ok(f);
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv" | "txt") => Ok(Format::Csv),
        Some("xlsx" | "xlsm") => Ok(Format::Xlsx),
        Some("parquet") => Ok(Format::Parquet),
        _ => Err(Error::Input {
            path: path.to_path_buf(),
            message: "cannot tell the format from the extension".into(),
        }),
    }
}

/// How to read the files of a dataset, from its catalog entry.
pub struct ReadOptions<'a> {
    pub format: Format,
    pub encoding: Encoding,
    pub sheet: Option<&'a str>,
    pub delimiter: char,
    /// 1-based, as Excel numbers rows.
    pub header_row: u64,
}

impl<'a> ReadOptions<'a> {
    pub fn of(path: &Path, spec: &'a crate::job::catalog::DatasetSpec) -> Result<ReadOptions<'a>> {
        Ok(ReadOptions {
            format: format_of(path, spec.format)?,
            encoding: spec.encoding,
            sheet: spec.sheet.as_deref(),
            delimiter: spec.delimiter.unwrap_or(','),
            header_row: spec.header_row.unwrap_or(1).max(1),
        })
    }
}

/// A file read batch by batch: a Parquet file `parquet_rows` rows at a time, a CSV file
/// `CSV_CHUNK_BYTES` at a time, each chunk also sent to `tap`. A workbook is read whole (`read_xlsx`): a sheet holds at most
/// a million rows.
pub fn batches(
    path: &Path,
    o: &ReadOptions,
    parquet_rows: usize,
    tap: Option<Tap>,
) -> Result<Box<dyn Iterator<Item = Result<SourceTable>> + Send>> {
    match o.format {
        Format::Parquet => Ok(Box::new(parquet_batches(path, parquet_rows)?)),
        Format::Csv => Ok(Box::new(csv_batches(path, o, CSV_CHUNK_BYTES, tap)?)),
        Format::Xlsx => Err(Error::Bug(format!(
            "{} is a workbook, read whole, not in batches",
            path.display()
        ))),
        Format::Orc => Err(orc_here(path)),
    }
}

/// The header row of a source file, reading as little as the format allows.
pub fn read_headers(path: &Path, o: &ReadOptions) -> Result<Vec<String>> {
    match o.format {
        Format::Csv => {
            let mut head = Vec::new();
            fs_err::File::open(path)?
                .take(1 << 20)
                .read_to_end(&mut head)?;
            // The lines up to the header are enough unless a header cell holds a line break
            // (then the whole first MiB is parsed).
            if let Some(end) = head
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .nth(o.header_row as usize - 1)
            {
                head.truncate(end + 1);
            }
            let delimiter = ascii_delimiter(path, o.delimiter)?;
            let (text, _) = decode(path, &head, o.encoding)?;
            let mut records = csv_records(&text, delimiter, o.header_row);
            match records.next() {
                Some(Ok(r)) => Ok(r.iter().map(str::to_string).collect()),
                _ => Err(Error::Input {
                    path: path.to_path_buf(),
                    message: "the file is empty (no header row)".into(),
                }),
            }
        }
        Format::Xlsx => Ok(read_xlsx(path, &fs_err::read(path)?, o)?.headers),
        Format::Parquet => {
            let file = fs_err::File::open(path)?;
            let schema = ParquetReader::new(file.into_parts().0)
                .schema()
                .map_err(|e| Error::Input {
                    path: path.to_path_buf(),
                    message: format!("not a readable Parquet file: {e}"),
                })?;
            Ok(schema.iter_names().map(|n| n.to_string()).collect())
        }
        Format::Orc => Err(orc_here(path)),
    }
}

#[cfg(test)]
mod tests;
