//! Readers per format and encoding. Each yields the header and the columns of one source file
//! as raw cells, with the row number a person sees in Excel for every record; typing happens
//! in `ingest`, a column at a time.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader};
use polars::prelude::*;

use super::normalize::{CellRef, RawCell};
use crate::error::{Error, Result};
use crate::job::catalog::{Encoding, Format};

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

/// The line a CSV record starts on. The csv crate reports a record that follows blank lines at
/// the first blank line; the blank lines are counted here, as Excel shows them as rows.
fn record_line(text: &str, r: &csv::StringRecord) -> u64 {
    let Some(p) = r.position() else { return 0 };
    line_at(text, p)
}

fn line_at(text: &str, p: &csv::Position) -> u64 {
    let rest = &text.as_bytes()[(p.byte() as usize).min(text.len())..];
    let blank = rest
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    p.line() + blank as u64
}

/// The records of a CSV text from its header row on: title lines above the header are neither
/// header nor records.
fn csv_records<'t>(
    text: &'t str,
    o: &ReadOptions,
) -> impl Iterator<Item = csv::Result<csv::StringRecord>> + 't {
    let header_row = o.header_row;
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(o.delimiter as u8)
        .from_reader(text.as_bytes())
        .into_records()
        .skip_while(move |r| r.as_ref().is_ok_and(|r| record_line(text, r) < header_row))
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

/// Reads a source file from its bytes (read once by the caller, who also hashes them); `path`
/// names it in errors.
pub fn read_source(path: &Path, bytes: &[u8], o: &ReadOptions) -> Result<SourceTable> {
    match o.format {
        Format::Csv => read_csv(path, bytes, o),
        Format::Xlsx => read_xlsx(path, bytes, o),
        Format::Parquet => read_parquet(path, bytes),
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
            let (text, _) = decode(path, &head, o.encoding)?;
            let mut records = csv_records(&text, o);
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
    }
}

/// The share of non-ASCII characters that are Chinese (CJK ideographs, CJK punctuation,
/// full-width forms); 1.0 for pure ASCII.
fn chinese_share(text: &str) -> f64 {
    let (mut non_ascii, mut chinese) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '\u{2018}'..='\u{201D}' | '\u{2026}')
        {
            chinese += 1;
        }
    }
    if non_ascii == 0 {
        1.0
    } else {
        chinese as f64 / non_ascii as f64
    }
}

/// Decodes bytes to UTF-8 text without loss: a declared or detected encoding that meets an
/// invalid sequence is an error, never a replacement character.
pub fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<(String, &'static str)> {
    let lossless = |enc: &'static encoding_rs::Encoding, body: &[u8]| -> Result<String> {
        let (text, had_errors) = enc.decode_without_bom_handling(body);
        if had_errors {
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: format!(
                    "bytes that are not valid {}; declare the right `encoding` in datasets.yaml (utf-8, gbk, gb18030)",
                    enc.name()
                ),
            });
        }
        Ok(text.into_owned())
    };
    let (body, has_bom) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    match encoding {
        Encoding::Utf8 => Ok((lossless(encoding_rs::UTF_8, body)?, "UTF-8")),
        Encoding::Gbk => Ok((lossless(encoding_rs::GBK, bytes)?, "GBK")),
        Encoding::Gb18030 => Ok((lossless(encoding_rs::GB18030, bytes)?, "GB18030")),
        Encoding::Auto => {
            if has_bom {
                return Ok((lossless(encoding_rs::UTF_8, body)?, "UTF-8 BOM"));
            }
            if let Ok(utf8) = std::str::from_utf8(body) {
                // GBK bytes can happen to be valid UTF-8 (薛 = D1 A6 reads as Ѧ): when the
                // UTF-8 reading is mostly not Chinese and the GB18030 reading is more so, the
                // file is GB18030. Real UTF-8 Chinese text reads as Chinese and stays UTF-8.
                let utf8_share = chinese_share(utf8);
                if utf8_share < 0.5 {
                    let (gb, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
                    if !had_errors && chinese_share(&gb) > utf8_share {
                        return Ok((gb.into_owned(), "GB18030"));
                    }
                }
                Ok((utf8.to_string(), "UTF-8"))
            } else {
                // GB18030 decodes every GBK byte sequence identically and more besides.
                Ok((lossless(encoding_rs::GB18030, bytes)?, "GB18030"))
            }
        }
    }
}

fn read_csv(path: &Path, bytes: &[u8], o: &ReadOptions) -> Result<SourceTable> {
    let (text, enc) = decode(path, bytes, o.encoding)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(o.delimiter as u8)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    // Title lines above the header are neither header nor records.
    let headers: Vec<String> = loop {
        match reader.read_record(&mut record) {
            Ok(true) if record_line(&text, &record) < o.header_row => continue,
            Ok(true) => break record.iter().map(str::to_string).collect(),
            Ok(false) => {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    message: "the file is empty (no header row)".into(),
                });
            }
            Err(e) => {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    message: format!("header: {e}"),
                });
            }
        }
    };
    let mut columns: Vec<SourceColumn> = headers.iter().map(|_| SourceColumn::text()).collect();
    let (mut rows, mut malformed) = (Vec::new(), Vec::new());
    // Row numbers as Excel shows them: the line a record starts on (the header is line 1; a
    // blank line is an empty row in Excel and is counted, but is not a record).
    let mut last_row = 1u64;
    loop {
        let problem = match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record_line(&text, &record);
                last_row = row;
                rows.push(row);
                if record.len() == headers.len() {
                    for (col, field) in columns.iter_mut().zip(record.iter()) {
                        col.push_text(field);
                    }
                    continue;
                }
                (
                    format!(
                        "行字段数不符 / row has {} fields, the header has {}",
                        record.len(),
                        headers.len()
                    ),
                    record.iter().map(str::to_string).collect(),
                )
            }
            Err(e) => {
                last_row += 1;
                rows.push(last_row);
                (format!("无法解析 / unreadable CSV row: {e}"), Vec::new())
            }
        };
        for col in &mut columns {
            col.push_text("");
        }
        malformed.push(Malformed {
            index: rows.len() - 1,
            reason: problem.0,
            fields: problem.1,
        });
    }
    Ok(SourceTable {
        sheet: None,
        headers,
        columns,
        rows,
        malformed,
        encoding: Some(enc),
    })
}

fn excel_cell(d: &Data) -> RawCell {
    match d {
        Data::Empty => RawCell::Empty,
        Data::String(s) => {
            if s.is_empty() {
                RawCell::Empty
            } else {
                RawCell::Text(s.clone())
            }
        }
        // Exact as text: an f64 would lose the last digits of an 18-digit number.
        Data::Int(i) => RawCell::Text(i.to_string()),
        Data::Float(f) => RawCell::Number(*f),
        Data::Bool(b) => RawCell::Bool(*b),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            match chrono::NaiveDate::from_ymd_opt(1899, 12, 30) {
                Some(epoch) if dt.is_datetime() => RawCell::DateTime(
                    epoch.and_hms_opt(0, 0, 0).expect("midnight")
                        + chrono::Duration::milliseconds((serial * 86_400_000.0).round() as i64),
                ),
                _ => RawCell::Number(serial),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawCell::Text(s.clone()),
        Data::Error(e) => RawCell::Text(format!("#{e:?}")),
    }
}

fn read_xlsx(path: &Path, bytes: &[u8], o: &ReadOptions) -> Result<SourceTable> {
    let sheet = o.sheet;
    let err = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| err(format!("not a readable workbook: {e}")))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => {
            return Err(err(format!(
                "no sheet `{s}`; the workbook has: {}",
                names.join(", ")
            )));
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| err("the workbook has no sheets".into()))?,
    };
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| err(format!("sheet `{name}`: {e}")))?;
    let (start_row, _) = range.start().unwrap_or((0, 0));
    // Rows above the header (a title) are skipped; Excel numbers rows from 1.
    let header_at = o.header_row - 1;
    if header_at < u64::from(start_row) {
        return Err(err(format!(
            "sheet `{name}`: header_row {} is above the first non-empty row ({})",
            o.header_row,
            start_row + 1
        )));
    }
    let skip = (header_at - u64::from(start_row)) as usize;
    let start_row = header_at as u32;
    let mut rows_iter = range.rows().skip(skip);
    let headers: Vec<String> = rows_iter
        .next()
        .ok_or_else(|| err(format!("sheet `{name}` is empty (no header row)")))?
        .iter()
        .map(|d| excel_cell(d).display())
        .collect();
    let mut columns: Vec<Vec<RawCell>> = headers.iter().map(|_| Vec::new()).collect();
    let mut rows = Vec::new();
    for (i, r) in rows_iter.enumerate() {
        // A fully empty line inside the used range is formatting, not a record.
        if r.iter().all(|d| excel_cell(d).is_empty()) {
            continue;
        }
        rows.push(u64::from(start_row) + i as u64 + 2);
        for (j, col) in columns.iter_mut().enumerate() {
            col.push(r.get(j).map_or(RawCell::Empty, excel_cell));
        }
    }
    Ok(SourceTable {
        sheet: Some(name),
        headers,
        columns: columns.into_iter().map(SourceColumn::Cells).collect(),
        rows,
        malformed: Vec::new(),
        encoding: None,
    })
}

fn read_parquet(path: &Path, bytes: &[u8]) -> Result<SourceTable> {
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| unreadable_parquet(path, e))?;
    table_of_frame(df, 0)
}

fn unreadable_parquet(path: &Path, e: PolarsError) -> Error {
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
) -> Result<impl Iterator<Item = Result<SourceTable>>> {
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
fn table_of_frame(df: DataFrame, first: u64) -> Result<SourceTable> {
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
    Ok(SourceTable {
        sheet: None,
        headers,
        columns,
        rows: (0..df.height() as u64).map(|i| first + i + 2).collect(),
        malformed: Vec::new(),
        encoding: None,
    })
}

fn any_to_cell(v: &AnyValue) -> RawCell {
    match v {
        AnyValue::Null => RawCell::Empty,
        AnyValue::Boolean(b) => RawCell::Bool(*b),
        AnyValue::String(s) => RawCell::Text(s.to_string()),
        AnyValue::StringOwned(s) => RawCell::Text(s.to_string()),
        AnyValue::Date(days) => RawCell::DateTime(
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .expect("epoch")
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                + chrono::Duration::days(i64::from(*days)),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Property: any text GBK or GB18030 can hold survives encode → detect → decode unchanged,
    /// with or without a declared encoding, and UTF-8 with a BOM too.
    #[test]
    fn encodings_round_trip() {
        let alphabet: Vec<char> = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文，。、；：“”（）《》０１２３４５６７８９ＸＡａ　abcXYZ0123456789 ,.-_/'\"\t年月日元号室区路镇村组"
            .chars()
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let path = Path::new("prop.csv");
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 60) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i % 40)) as usize + i * 7919) % alphabet.len()])
                .collect();
            for (enc, declared) in [
                (encoding_rs::GBK, Encoding::Gbk),
                (encoding_rs::GB18030, Encoding::Gb18030),
            ] {
                let (bytes, _, unmappable) = enc.encode(&text);
                assert!(!unmappable);
                assert_eq!(decode(path, &bytes, declared).unwrap().0, text);
                // Detected, also when the GBK bytes happen to be valid UTF-8.
                let (auto, _) = decode(path, &bytes, Encoding::Auto).unwrap();
                assert_eq!(auto, text);
            }
            let mut bom = b"\xEF\xBB\xBF".to_vec();
            bom.extend_from_slice(text.as_bytes());
            assert_eq!(
                decode(path, &bom, Encoding::Auto).unwrap(),
                (text.clone(), "UTF-8 BOM")
            );
            // UTF-8 without a BOM stays UTF-8.
            assert_eq!(
                decode(path, text.as_bytes(), Encoding::Auto).unwrap().0,
                text
            );
        }
    }

    #[test]
    fn parquet_is_read_in_batches_whose_rows_continue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        let mut df = df!("id" => (0..10).map(|i| format!("r{i}")).collect::<Vec<_>>()).unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let tables: Vec<SourceTable> = parquet_batches(&path, 4)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let rows: Vec<Vec<u64>> = tables.iter().map(|t| t.rows.clone()).collect();
        assert_eq!(rows, [vec![2, 3, 4, 5], vec![6, 7, 8, 9], vec![10, 11]]);
        let last: Vec<String> = (0..2)
            .map(|i| tables[2].columns[0].get(i).display().into_owned())
            .collect();
        assert_eq!(last, ["r8", "r9"]);
    }

    #[test]
    fn bytes_invalid_in_the_declared_encoding_are_an_error_not_a_replacement() {
        let err = decode(Path::new("x.csv"), b"\xff\xfe\xfd", Encoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.csv") && err.contains("declare the right `encoding`"),
            "{err}"
        );
        // A GBK lead byte followed by a space is not GBK.
        assert!(decode(Path::new("x.csv"), b"a\x81 ", Encoding::Gbk).is_err());
    }
}
