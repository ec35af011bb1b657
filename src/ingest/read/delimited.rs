//! CSV files read in chunks, decoded and parsed up to their last complete record: a row with
//! the wrong number of fields, a NUL byte or undecodable bytes rejected with its reason.

use super::*;

/// The line a CSV record starts on. The csv crate reports a record that follows blank lines at
/// the first blank line; the blank lines are counted here, as Excel shows them as rows.
pub(super) fn record_line(text: &str, r: &csv::ByteRecord) -> u64 {
    let Some(p) = r.position() else { return 0 };
    line_at(text, p)
}

pub(super) fn line_at(text: &str, p: &csv::Position) -> u64 {
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
pub(super) fn csv_records<'t>(
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
    pub(super) file: fs_err::File,
    pub(super) chunk: usize,
    pub(super) raw: std::sync::Arc<Vec<u8>>,
    pub(super) tap: Option<Tap>,
    pub(super) decoder: Decoder,
    pub(super) delimiter: u8,
    pub(super) header_row: u64,
    /// Text decoded and not yet parsed; it starts where a record (or a blank line) starts.
    pub(super) pending: String,
    /// The line `pending` starts on, 1-based.
    pub(super) line: u64,
    pub(super) headers: Option<Vec<String>>,
    pub(super) eof: bool,
    /// Whether a table was given out: a file of a header only gives one table of no rows.
    pub(super) given: bool,
    pub(super) done: bool,
    /// Records read, and those rejected for bytes invalid in the encoding: a file where most
    /// are is in another encoding, and is refused whole.
    pub(super) records: u64,
    pub(super) undecodable: u64,
    /// The line of the first undecodable record, for that message.
    pub(super) first_undecodable: Option<u64>,
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
pub(super) fn escaped_field(
    field: &str,
    invalid: &mut std::collections::VecDeque<Vec<u8>>,
) -> String {
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
    pub(super) fn error(&self, message: String) -> Error {
        Error::Input {
            path: self.decoder.path.clone(),
            message,
        }
    }

    /// The next table: chunks read until one holds a complete record past the header, or the
    /// file ends.
    pub(super) fn step(&mut self) -> Result<Option<SourceTable>> {
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
    pub(super) fn parse(&mut self) -> Result<Option<SourceTable>> {
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
