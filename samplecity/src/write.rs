//! Writers for the sample city: CSV in a given encoding (optionally with a BOM), xlsx with
//! real date cells, and Parquet — the way real extracts arrive.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Num(f64),
    Date(NaiveDate),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    fn as_text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(v) => format_number(*v),
            Cell::Date(d) => d.to_string(),
        }
    }
}

pub struct Table {
    pub name: String,
    pub headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &str, headers: &[&str]) -> Table {
        Table {
            name: name.into(),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn retain(&mut self, keep: impl FnMut(&Vec<Cell>) -> bool) {
        self.rows.retain(keep);
    }
    pub fn last_mut(&mut self) -> &mut Vec<Cell> {
        self.rows.last_mut().expect("a row was pushed")
    }
}

pub fn csv(
    dir: &Path,
    file: &str,
    t: &Table,
    encoding: &'static encoding_rs::Encoding,
    bom: bool,
) -> Result<()> {
    let mut w = ::csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    w.write_record(&t.headers)
        .map_err(|e| Error::Bug(e.to_string()))?;
    for r in &t.rows {
        w.write_record(r.iter().map(Cell::as_text))
            .map_err(|e| Error::Bug(e.to_string()))?;
    }
    let text =
        String::from_utf8(w.into_inner().map_err(|e| Error::Bug(e.to_string()))?).expect("utf-8");
    let mut bytes = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    let (encoded, _, unmappable) = encoding.encode(&text);
    if unmappable {
        return Err(Error::Bug(format!(
            "{file}: text not representable in {}",
            encoding.name()
        )));
    }
    bytes.extend_from_slice(&encoded);
    fs_err::write(dir.join(file), bytes)?;
    Ok(())
}

pub fn xlsx(dir: &Path, file: &str, sheet: &str, t: &Table) -> Result<()> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| Error::Bug(format!("{file}: {e}"));
    let mut wb = Workbook::new();
    // A fixed creation time keeps the file byte-identical between generations.
    let created = ExcelDateTime::from_ymd(2025, 7, 1).map_err(err)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(err)?;
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string(0, c as u16, h).map_err(err)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s).map(|_| ()),
                Cell::Num(v) => ws.write_number(r, c, *v).map(|_| ()),
                Cell::Date(d) => {
                    use chrono::Datelike;
                    let dt =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                            .map_err(err)?;
                    ws.write_datetime_with_format(r, c, &dt, &date_format)
                        .map(|_| ())
                }
            }
            .map_err(err)?;
        }
    }
    wb.save(dir.join(file)).map_err(err)?;
    Ok(())
}

pub fn parquet(dir: &Path, file: &str, t: &Table) -> Result<()> {
    let mut df = frame(t)?;
    let f = fs_err::File::create(dir.join(file))?;
    ParquetWriter::new(f).finish(&mut df)?;
    Ok(())
}

/// A table, then more rows of the same columns a batch at a time (never all in memory);
/// returns the rows written after the table.
pub fn parquet_batched(
    dir: &Path,
    file: &str,
    t: &Table,
    batches: impl Iterator<Item = Vec<Vec<Cell>>>,
) -> Result<u64> {
    let first = frame(t)?;
    let f = fs_err::File::create(dir.join(file))?;
    let mut w = ParquetWriter::new(f)
        .with_compression(ParquetCompression::Lz4Raw)
        .batched(first.schema().as_ref())?;
    w.write_batch(&first)?;
    let mut more = 0;
    for rows in batches {
        more += rows.len() as u64;
        let batch = Table {
            name: t.name.clone(),
            headers: t.headers.clone(),
            rows,
        };
        // The same columns of the same types (amounts are numbers in both): one schema.
        w.write_batch(&frame(&batch)?)?;
    }
    w.finish()?;
    Ok(more)
}

fn frame(t: &Table) -> Result<DataFrame> {
    let mut columns = Vec::new();
    for (i, h) in t.headers.iter().enumerate() {
        let numeric = t
            .rows
            .iter()
            .all(|r| matches!(r.get(i), Some(Cell::Num(_))));
        if numeric {
            let v: Vec<f64> = t
                .rows
                .iter()
                .map(|r| {
                    if let Some(Cell::Num(v)) = r.get(i) {
                        *v
                    } else {
                        0.0
                    }
                })
                .collect();
            columns.push(Column::new(h.as_str().into(), v));
        } else {
            let v: Vec<String> = t
                .rows
                .iter()
                .map(|r| r.get(i).map(Cell::as_text).unwrap_or_default())
                .collect();
            columns.push(Column::new(h.as_str().into(), v));
        }
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// A number as a spreadsheet shows it: integers without `.0`, others in their shortest form.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}
