//! Workbooks: a sheet read as a stream of cells, refused past what the format holds.

use super::*;

pub(super) fn excel_cell(d: &Data) -> RawCell {
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
    check_shared_strings(bytes, SHARED_STRINGS_LIMIT).map_err(&err)?;
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
pub(super) struct SheetRows {
    pub(super) header_at: u32,
    pub(super) headers: Option<Vec<String>>,
    pub(super) columns: Vec<Vec<RawCell>>,
    pub(super) rows: Vec<u64>,
}

impl SheetRows {
    /// Takes the cells of row `at` (0-based).
    pub(super) fn take(
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

/// The most a workbook's shared strings may unpack to. calamine holds the whole table in
/// memory (the sheet itself is streamed); a sheet of a million rows of distinct texts needs a
/// few hundred MB, a zip bomb many GB.
const SHARED_STRINGS_LIMIT: u64 = 1 << 30;

/// Refuses a workbook whose shared-strings part unpacks to more than `limit` bytes, read from
/// the zip's table of contents before anything is unpacked.
pub(super) fn check_shared_strings(bytes: &[u8], limit: u64) -> std::result::Result<(), String> {
    let Ok(mut zip) = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        // Not a zip: calamine says what it is not.
        return Ok(());
    };
    let Ok(part) = zip.by_name("xl/sharedStrings.xml") else {
        return Ok(());
    };
    let size = part.size();
    if size > limit {
        return Err(format!(
            "its shared strings unpack to {} MB, more than a workbook of a million rows needs \
             ({} MB at most): the file is damaged or made to exhaust memory; export the data \
             again, or as CSV",
            size >> 20,
            limit >> 20
        ));
    }
    Ok(())
}
