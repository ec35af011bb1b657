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
fn record_line(text: &str, r: &csv::ByteRecord) -> u64 {
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
    delimiter: u8,
    header_row: u64,
) -> impl Iterator<Item = csv::Result<csv::StringRecord>> + 't {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .into_records()
        .skip_while(move |r| {
            r.as_ref()
                .is_ok_and(|r| record_line(text, r.as_byte_record()) < header_row)
        })
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
/// invalid sequence is an error, never a replacement character. The text and the encoding's
/// name as the manifest gives it.
pub fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<(String, &'static str)> {
    let mut decoder = Decoder::new(path, encoding);
    let mut text = String::new();
    decoder.push(bytes, true, &mut text)?;
    Ok((text, decoder.name()))
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A file's bytes to UTF-8 text as they are read, piece by piece: the declared encoding, or
/// with `auto` the one the first 64 KiB from the first non-ASCII byte on show (ASCII reads the
/// same in each, so until then nothing is decided).
struct Decoder {
    path: PathBuf,
    auto: bool,
    state: DecodeState,
    /// Line breaks decoded so far: where an invalid byte is.
    lines: u64,
    started: bool,
    /// Whether an invalid byte sequence becomes `INVALID` in the text (its bytes queued in
    /// `invalid`) for the row holding it to be rejected, rather than an error.
    lenient: bool,
    invalid: std::collections::VecDeque<Vec<u8>>,
}

/// Stands in the decoded text for a byte sequence invalid in the file's encoding: a Unicode
/// noncharacter, reserved for a program's internal use, so no extract means it.
const INVALID: char = '\u{FDD0}';

/// How many bytes from the first non-ASCII piece on `auto` decides the encoding by.
const DETECT_BYTES: usize = 64 << 10;

enum DecodeState {
    /// Only ASCII so far (`auto`), or the bytes from the first piece with another byte on,
    /// held until there are enough to tell the encoding by.
    Undecided(Vec<u8>),
    /// The decoder (which keeps a character split between pieces) and the encoding's name.
    Decided(encoding_rs::Decoder, &'static str),
}

impl DecodeState {
    fn of(encoding: &'static encoding_rs::Encoding, name: &'static str) -> DecodeState {
        DecodeState::Decided(encoding.new_decoder_without_bom_handling(), name)
    }
}

impl Decoder {
    fn new(path: &Path, encoding: Encoding) -> Decoder {
        let state = match encoding {
            Encoding::Auto => DecodeState::Undecided(Vec::new()),
            Encoding::Utf8 => DecodeState::of(encoding_rs::UTF_8, "UTF-8"),
            Encoding::Gbk => DecodeState::of(encoding_rs::GBK, "GBK"),
            Encoding::Gb18030 => DecodeState::of(encoding_rs::GB18030, "GB18030"),
        };
        Decoder {
            path: path.to_path_buf(),
            auto: encoding == Encoding::Auto,
            state,
            lines: 0,
            started: false,
            lenient: false,
            invalid: Default::default(),
        }
    }

    /// The encoding read, as the manifest names it (UTF-8 for a file of ASCII only).
    fn name(&self) -> &'static str {
        match &self.state {
            DecodeState::Undecided(_) => "UTF-8",
            DecodeState::Decided(_, name) => name,
        }
    }

    /// Appends the text of the file's next `bytes` to `out` (or holds them, undecided);
    /// `last` when they end the file. The first piece holds at least 3 bytes, or the file:
    /// a UTF-8 byte order mark is looked for there (and left out of the text), unless the
    /// declared encoding is GBK or GB18030.
    fn push(&mut self, mut bytes: &[u8], last: bool, out: &mut String) -> Result<()> {
        if !std::mem::replace(&mut self.started, true)
            && let Some(body) = bytes.strip_prefix(BOM)
        {
            match &self.state {
                DecodeState::Undecided(_) => {
                    self.state = DecodeState::of(encoding_rs::UTF_8, "UTF-8 BOM");
                    bytes = body;
                }
                DecodeState::Decided(d, _) if d.encoding() == encoding_rs::UTF_8 => bytes = body,
                DecodeState::Decided(..) => {}
            }
        }
        let DecodeState::Undecided(held) = &mut self.state else {
            return self.decode(bytes, last, out);
        };
        if held.is_empty() && bytes.is_ascii() {
            let text = std::str::from_utf8(bytes).expect("ASCII is UTF-8");
            self.lines += newlines(text.as_bytes());
            out.push_str(text);
            return Ok(());
        }
        held.extend_from_slice(bytes);
        if held.len() < DETECT_BYTES && !last {
            return Ok(());
        }
        let held = std::mem::take(held);
        self.state = detect(&held, last);
        self.decode(&held, last, out)
    }

    /// `push` once the encoding is decided.
    fn decode(&mut self, mut bytes: &[u8], last: bool, out: &mut String) -> Result<()> {
        let DecodeState::Decided(decoder, _) = &mut self.state else {
            unreachable!("decided before decoding")
        };
        let start = out.len();
        let valid = loop {
            let room = decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 4);
            out.reserve(room);
            let (result, read) = decoder.decode_to_string_without_replacement(bytes, out, last);
            let consumed = &bytes[..read];
            bytes = &bytes[read..];
            match result {
                encoding_rs::DecoderResult::InputEmpty => break true,
                encoding_rs::DecoderResult::OutputFull => continue,
                encoding_rs::DecoderResult::Malformed(bad, after) if self.lenient => {
                    // The bad bytes end `after` bytes before what was consumed; they may have
                    // begun in the piece before (then only their part in this one is kept).
                    let end = read.saturating_sub(usize::from(after));
                    let from = end.saturating_sub(usize::from(bad));
                    self.invalid.push_back(consumed[from..end].to_vec());
                    out.push(INVALID);
                }
                encoding_rs::DecoderResult::Malformed(..) => break false,
            }
        };
        let decoded = newlines(&out.as_bytes()[start..]);
        if !valid {
            let read_as = if self.auto {
                " (the file's first non-ASCII bytes read as that)"
            } else {
                ""
            };
            return Err(Error::Input {
                path: self.path.clone(),
                message: format!(
                    "bytes that are not valid {} on line {}{read_as}; declare the right `encoding` in datasets.yaml (utf-8, gbk, gb18030)",
                    self.name(),
                    self.lines + decoded + 1
                ),
            });
        }
        self.lines += decoded;
        Ok(())
    }
}

/// The encoding of a file whose first non-ASCII bytes are in `bytes` (`last`: the file ends
/// with them; else they may end inside a character): UTF-8 when they are valid UTF-8, unless
/// that reading is mostly not Chinese and the GB18030 one more so (GBK bytes can happen to be
/// valid UTF-8: 薛 = D1 A6 reads as Ѧ); else GB18030, which decodes every GBK byte sequence
/// identically and more besides.
fn detect(bytes: &[u8], last: bool) -> DecodeState {
    let utf8 = match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        // Ends inside a character: the next piece holds the rest.
        Err(e) if e.error_len().is_none() && !last => {
            Some(std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to"))
        }
        Err(_) => None,
    };
    let more_chinese_as_gb18030 = |text: &str| {
        let share = chinese_share(text);
        share < 0.5
            && encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(text.as_bytes())
                .is_some_and(|gb| chinese_share(&gb) > share)
    };
    match utf8 {
        Some(text) if !more_chinese_as_gb18030(text) => {
            DecodeState::of(encoding_rs::UTF_8, "UTF-8")
        }
        _ => DecodeState::of(encoding_rs::GB18030, "GB18030"),
    }
}

/// What `auto` would read a CSV file's first bytes as, and whether that is certain: a BOM,
/// or text whose reading is mostly Chinese (or ASCII only) leaves no doubt; a short file
/// whose few non-ASCII bytes read as little Chinese either way does.
pub fn sniff_encoding(head: &[u8]) -> (Encoding, &'static str, bool) {
    if head.starts_with(BOM) {
        return (Encoding::Utf8, "UTF-8 BOM", true);
    }
    let Some(first) = head.iter().position(|b| !b.is_ascii()) else {
        return (Encoding::Utf8, "ASCII", true);
    };
    let tail = &head[first..];
    let last = head.len() < DETECT_BYTES;
    let DecodeState::Decided(decoder, name) = detect(tail, last) else {
        unreachable!("detect decides")
    };
    let text = decoder
        .encoding()
        .decode_without_bom_handling(tail)
        .0
        .into_owned();
    let sure = chinese_share(&text) >= 0.8;
    if decoder.encoding() == encoding_rs::UTF_8 {
        (Encoding::Utf8, "UTF-8", sure)
    } else if encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(tail)
        .is_some()
    {
        (Encoding::Gbk, "GBK", sure)
    } else {
        (Encoding::Gb18030, name, sure)
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// Where a CSV file's bytes go as they are read, besides the decoder (its hash, so the file is
/// read once): each chunk, then `None` once the file has ended. Reading twice cost more than
/// hashing: copying the pages out of the kernel's cache was three quarters of the hash's time.
pub type Tap = std::sync::mpsc::SyncSender<Option<std::sync::Arc<Vec<u8>>>>;

/// Raw bytes of a CSV file read, decoded and parsed at a time when it is converted batch by
/// batch: a batch of a few tens of thousands of rows, whatever the file's size.
pub const CSV_CHUNK_BYTES: usize = 8 << 20;

/// A CSV file's records in batches, each as a source table with the header: the file is read
/// `chunk` bytes at a time, decoded, and parsed up to its last complete record; the text of a
/// record the chunk ends inside is parsed again with the next. Memory is a chunk or two, never
/// the file.
pub struct CsvBatches {
    file: fs_err::File,
    chunk: usize,
    raw: std::sync::Arc<Vec<u8>>,
    tap: Option<Tap>,
    decoder: Decoder,
    delimiter: u8,
    header_row: u64,
    /// Text decoded and not yet parsed; it starts where a record (or a blank line) starts.
    pending: String,
    /// The line `pending` starts on, 1-based.
    line: u64,
    headers: Option<Vec<String>>,
    eof: bool,
    /// Whether a table was given out: a file of a header only gives one table of no rows.
    given: bool,
    done: bool,
    /// Records read, and those rejected for bytes invalid in the encoding: a file where most
    /// are is in another encoding, and is refused whole.
    records: u64,
    undecodable: u64,
    /// The line of the first undecodable record, for that message.
    first_undecodable: Option<u64>,
}

pub fn csv_batches(
    path: &Path,
    o: &ReadOptions,
    chunk: usize,
    tap: Option<Tap>,
) -> Result<CsvBatches> {
    let mut decoder = Decoder::new(path, o.encoding);
    decoder.lenient = true;
    Ok(CsvBatches {
        file: fs_err::File::open(path)?,
        chunk: chunk.max(BOM.len()),
        raw: Default::default(),
        tap,
        decoder,
        delimiter: ascii_delimiter(path, o.delimiter)?,
        header_row: o.header_row,
        pending: String::new(),
        line: 1,
        headers: None,
        eof: false,
        given: false,
        done: false,
        records: 0,
        undecodable: 0,
        first_undecodable: None,
    })
}

/// The delimiter as the one ASCII byte fields are split at. Fields are cut out of UTF-8 text
/// at ASCII bytes only, which is what keeps each field UTF-8 (see `CsvBatches::parse`): a
/// full-width comma or a middle dot would split inside characters.
pub fn ascii_delimiter(path: &Path, delimiter: char) -> Result<u8> {
    match u8::try_from(delimiter) {
        Ok(b) if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(b),
        _ => Err(Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "the delimiter {:?} is not supported: crosscheck splits CSV fields at one ASCII \
                 character other than a quote or a line break (`,` `;` `|` or a tab, `\\t`). \
                 Save the file with such a delimiter, or replace {:?} with one",
                delimiter, delimiter
            ),
        }),
    }
}

/// A field's text with each invalid byte sequence (`INVALID`) written as its bytes, escaped
/// (`\xD1\xA6`), taken in order from `invalid`; NUL and other control characters but tab and
/// line breaks escaped too, so a rejected row is shown as it was and harms nothing.
fn escaped_field(field: &str, invalid: &mut std::collections::VecDeque<Vec<u8>>) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            INVALID => {
                for b in invalid.pop_front().unwrap_or_default() {
                    out.push_str(&format!("\\x{b:02X}"));
                }
            }
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

impl Iterator for CsvBatches {
    type Item = Result<SourceTable>;

    fn next(&mut self) -> Option<Result<SourceTable>> {
        if self.done {
            return None;
        }
        let next = self.step().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        self.given |= next.is_some();
        next
    }
}

impl CsvBatches {
    fn error(&self, message: String) -> Error {
        Error::Input {
            path: self.decoder.path.clone(),
            message,
        }
    }

    /// The next table: chunks read until one holds a complete record past the header, or the
    /// file ends.
    fn step(&mut self) -> Result<Option<SourceTable>> {
        loop {
            if !self.eof {
                // The last chunk's buffer, unless the tap still holds it.
                let mut raw =
                    std::sync::Arc::try_unwrap(std::mem::take(&mut self.raw)).unwrap_or_default();
                raw.clear();
                let read = (&mut self.file)
                    .take(self.chunk as u64)
                    .read_to_end(&mut raw)?;
                self.eof = read < self.chunk;
                self.raw = std::sync::Arc::new(raw);
                if let Some(tap) = &self.tap {
                    // A send fails only when the hash stopped on an error, which it reports.
                    let _ = tap.send(Some(self.raw.clone()));
                    if self.eof {
                        let _ = tap.send(None);
                    }
                }
                self.decoder.push(&self.raw, self.eof, &mut self.pending)?;
            }
            let table = self.parse()?;
            if table.is_some() || self.eof {
                return Ok(table);
            }
        }
    }

    /// The records `pending` holds in full (all of them once the file has ended), as a table;
    /// their text is dropped from `pending`.
    fn parse(&mut self) -> Result<Option<SourceTable>> {
        let last = self.eof;
        let text = self.pending.as_str();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(text.as_bytes());
        // Fields as bytes: `text` is valid UTF-8 and a field is cut out of it at ASCII bytes
        // (the delimiter, which `ascii_delimiter` makes ASCII, quotes, line breaks), so each is
        // UTF-8 already; checking every field again was a tenth of reading a CSV file.
        let mut record = csv::ByteRecord::new();
        fn field(f: &[u8]) -> &str {
            // SAFETY: a field of a UTF-8 text split at ASCII bytes is UTF-8 (see above).
            unsafe { std::str::from_utf8_unchecked(f) }
        }
        let fields = |r: &csv::ByteRecord| r.iter().map(|f| field(f).to_string()).collect();
        let mut columns: Vec<SourceColumn> = (self.headers.iter().flatten())
            .map(|_| SourceColumn::text())
            .collect();
        let (mut rows, mut malformed) = (Vec::new(), Vec::new());
        // The text before this byte is parsed.
        let mut parsed = 0;
        loop {
            // Reading bytes from memory, with records of any length allowed, cannot fail.
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| self.error(format!("unreadable CSV: {e}")))?;
            let end = reader.position().byte() as usize;
            // A record that reaches the end of the text may go on in the next chunk.
            if !last && end >= text.len() {
                break;
            }
            parsed = end;
            if !more {
                break;
            }
            // Row numbers as Excel shows them: the line a record starts on (a blank line is
            // an empty row in Excel and is counted, but is not a record).
            let row = self.line - 1 + record_line(text, &record);
            // What cannot be loaded as it is: bytes invalid in the encoding, a NUL byte.
            let (bad_bytes, nul) = record.iter().fold((0, false), |(n, nul), f| {
                let s = field(f);
                (n + s.matches(INVALID).count(), nul || f.contains(&0))
            });
            let Some(headers) = &self.headers else {
                // Title lines above the header are neither header nor records.
                if row >= self.header_row {
                    if bad_bytes > 0 {
                        return Err(self.error(format!(
                            "the header row (line {row}) holds bytes that are not valid {}: the \
                             file is in another encoding; declare the right `encoding` in \
                             datasets.yaml (utf-8, gbk, gb18030)",
                            self.decoder.name()
                        )));
                    }
                    self.headers = Some(fields(&record));
                    columns = record.iter().map(|_| SourceColumn::text()).collect();
                }
                for _ in 0..bad_bytes {
                    self.decoder.invalid.pop_front();
                }
                continue;
            };
            rows.push(row);
            self.records += 1;
            if bad_bytes > 0 || nul {
                let reason = if bad_bytes > 0 {
                    self.undecodable += 1;
                    self.first_undecodable.get_or_insert(row);
                    format!(
                        "含有非 {0} 编码的字节 / bytes that are not valid {0} (shown as \\xNN)",
                        self.decoder.name()
                    )
                } else {
                    NUL_REASON.to_string()
                };
                for col in &mut columns {
                    col.push_text("");
                }
                let shown = record
                    .iter()
                    .map(|f| escaped_field(field(f), &mut self.decoder.invalid))
                    .collect();
                malformed.push(Malformed {
                    index: rows.len() - 1,
                    reason,
                    fields: shown,
                });
                continue;
            }
            if record.len() == headers.len() {
                for (col, f) in columns.iter_mut().zip(record.iter()) {
                    col.push_text(field(f));
                }
                continue;
            }
            for col in &mut columns {
                col.push_text("");
            }
            malformed.push(Malformed {
                index: rows.len() - 1,
                reason: format!(
                    "行字段数不符 / row has {} fields, the header has {}",
                    record.len(),
                    headers.len()
                ),
                fields: fields(&record),
            });
        }
        // More than a tenth of the records undecodable (at the end, or already among ten
        // thousand): the file is not in the encoding it was read as, and is refused whole
        // rather than loaded as a pile of rejected rows.
        if self.undecodable * 10 > self.records && (last || self.records >= 10_000) {
            let read_as = if self.decoder.auto {
                " (the file's first non-ASCII bytes read as that)"
            } else {
                ""
            };
            return Err(self.error(format!(
                "{} of {} records so far hold bytes that are not valid {}{read_as}, the first on \
                 line {}: the file is in another encoding; declare the right `encoding` in \
                 datasets.yaml (utf-8, gbk, gb18030)",
                self.undecodable,
                self.records,
                self.decoder.name(),
                self.first_undecodable.unwrap_or(0)
            )));
        }
        self.line += newlines(&text.as_bytes()[..parsed]);
        self.pending.drain(..parsed);
        let Some(headers) = &self.headers else {
            return match last {
                true => Err(self.error("the file is empty (no header row)".into())),
                false => Ok(None),
            };
        };
        if rows.is_empty() && (self.given || !last) {
            return Ok(None);
        }
        Ok(Some(SourceTable {
            sheet: None,
            headers: headers.clone(),
            columns,
            rows,
            malformed,
            encoding: Some(self.decoder.name()),
        }))
    }
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
            // A serial past what a date can hold stays a number, which no date column accepts:
            // the row is rejected, never a panic.
            let epoch =
                chrono::NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0));
            let at = chrono::TimeDelta::try_milliseconds((serial * 86_400_000.0).round() as i64)
                .zip(epoch)
                .and_then(|(offset, epoch)| epoch.checked_add_signed(offset));
            match at {
                Some(at) if dt.is_datetime() && serial.is_finite() => RawCell::DateTime(at),
                _ => RawCell::Number(serial),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawCell::Text(s.clone()),
        Data::Error(e) => RawCell::Text(format!("#{e:?}")),
    }
}

/// The rows and columns an xlsx sheet can hold: a file claiming more is damaged or made to
/// exhaust memory, and is refused as soon as a cell past them is read.
pub const XLSX_MAX_ROWS: u32 = 1_048_576;
pub const XLSX_MAX_COLUMNS: u32 = 16_384;

/// A workbook's sheet as a source table. The sheet's cells are read as a stream (never the
/// whole sheet held twice, once by the reader and once here), so a sheet that unpacks to more
/// rows than the format holds is refused before it can fill memory.
pub fn read_xlsx(path: &Path, bytes: &[u8], o: &ReadOptions) -> Result<SourceTable> {
    let err = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| err(format!("not a readable xlsx workbook: {e}")))?;
    let names = wb.sheet_names();
    let name = match o.sheet {
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
    let mut cells = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| err(format!("sheet `{name}`: {e}")))?;
    // Rows above the header (a title) are skipped; Excel numbers rows from 1.
    let header_at = u32::try_from(o.header_row - 1).unwrap_or(u32::MAX);
    let mut sheet = SheetRows {
        header_at,
        headers: None,
        columns: Vec::new(),
        rows: Vec::new(),
    };
    let mut row: Option<u32> = None;
    let mut line: Vec<(u32, RawCell)> = Vec::new();
    loop {
        let cell = cells
            .next_cell()
            .map_err(|e| err(format!("sheet `{name}`: {e}")))?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        if r >= XLSX_MAX_ROWS || c >= XLSX_MAX_COLUMNS {
            return Err(err(format!(
                "sheet `{name}` has a cell at row {}, column {}, past what an xlsx sheet holds \
                 ({XLSX_MAX_ROWS} rows, {XLSX_MAX_COLUMNS} columns): the file is damaged or not \
                 a workbook Excel wrote; export the data again, or as CSV",
                u64::from(r) + 1,
                u64::from(c) + 1
            )));
        }
        if row.is_some_and(|at| at != r) {
            sheet.take(row.expect("a row"), std::mem::take(&mut line), &name, &err)?;
        }
        row = Some(r);
        if r >= header_at {
            line.push((c, excel_cell(&Data::from(cell.get_value().clone()))));
        }
    }
    if let Some(at) = row {
        sheet.take(at, line, &name, &err)?;
    }
    let headers = sheet
        .headers
        .ok_or_else(|| err(format!("sheet `{name}` is empty (no header row)")))?;
    Ok(SourceTable {
        sheet: Some(name),
        headers,
        columns: sheet.columns.into_iter().map(SourceColumn::Cells).collect(),
        rows: sheet.rows,
        malformed: Vec::new(),
        encoding: None,
    })
}

/// A sheet's rows as they are read: the header row, then a column of cells per header.
struct SheetRows {
    header_at: u32,
    headers: Option<Vec<String>>,
    columns: Vec<Vec<RawCell>>,
    rows: Vec<u64>,
}

impl SheetRows {
    /// Takes the cells of row `at` (0-based).
    fn take(
        &mut self,
        at: u32,
        mut line: Vec<(u32, RawCell)>,
        name: &str,
        err: &dyn Fn(String) -> Error,
    ) -> Result<()> {
        if at < self.header_at {
            return Ok(());
        }
        // Excel writes a row's cells in order; a file that does not is read the same.
        line.sort_by_key(|(c, _)| *c);
        let Some(headers) = &self.headers else {
            if at > self.header_at {
                return Err(err(format!(
                    "sheet `{name}`: header_row {} is empty; the first row with cells below it \
                     is row {}",
                    u64::from(self.header_at) + 1,
                    u64::from(at) + 1
                )));
            }
            let width = line.last().map_or(0, |(c, _)| *c as usize + 1);
            let mut headers = vec![String::new(); width];
            for (c, cell) in line {
                headers[c as usize] = cell.display();
            }
            self.columns = headers.iter().map(|_| Vec::new()).collect();
            self.headers = Some(headers);
            return Ok(());
        };
        // A fully empty line inside the used range is formatting, not a record.
        if line.iter().all(|(_, cell)| cell.is_empty()) {
            return Ok(());
        }
        self.rows.push(u64::from(at) + 1);
        let mut cells = line.into_iter().peekable();
        for (j, col) in self.columns.iter_mut().enumerate() {
            while cells.peek().is_some_and(|(c, _)| (*c as usize) < j) {
                cells.next();
            }
            match cells.peek() {
                Some((c, _)) if *c as usize == j => col.push(cells.next().expect("peeked").1),
                _ => col.push(RawCell::Empty),
            }
        }
        debug_assert_eq!(headers.len(), self.columns.len());
        Ok(())
    }
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
fn with_nul_bytes(columns: &[SourceColumn], height: usize) -> Vec<Malformed> {
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

const NUL_REASON: &str = "字段含空字符 / a field holds a NUL byte (shown as \\u{0})";

fn any_to_cell(v: &AnyValue) -> RawCell {
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

#[cfg(test)]
mod tests;
