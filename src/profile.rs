//! `crosscheck profile`: from a folder of extracts nobody described to a draft catalog. Each
//! file's format, encoding, sheet, header row and row count; each column's likely semantic
//! type with its share empty, distinct values, samples and (for IDs) the quality counts the
//! loader would report; the same column recognised across files by its values, so the draft
//! gives it one name with every header seen as an alias.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ingest::id_card::normalize_id_card;
use crate::ingest::normalize::{CellRef, parse_date, parse_datetime, parse_decimal};
use crate::ingest::read::{self, ReadOptions, SourceTable};
use crate::job::catalog::{Encoding, Format, SemanticType};

/// Rows read from each file to profile its columns: enough to type them, few enough to stay
/// fast on extracts of millions of rows.
pub const SAMPLE_ROWS: usize = 20_000;

/// One file, profiled.
pub struct FileProfile {
    pub path: PathBuf,
    pub format: Format,
    /// CSV: the encoding read, and whether detection was certain.
    pub encoding: Option<(Encoding, &'static str, bool)>,
    pub sheet: Option<String>,
    pub sheets: Vec<String>,
    /// As Excel numbers rows; above it, title lines.
    pub header_row: u64,
    /// Rows read to profile, and the file's rows (`None`: not counted, a large CSV).
    pub sampled: usize,
    pub rows: Option<u64>,
    pub columns: Vec<ColumnProfile>,
}

pub struct ColumnProfile {
    pub header: String,
    pub ty: SemanticType,
    /// For dates: the forms seen (`2024-03-01`, `20240301`, …).
    pub forms: Vec<&'static str>,
    /// Decimal places to declare: the values have more than the type's default.
    pub scale: Option<u8>,
    pub empty: usize,
    pub distinct: usize,
    pub samples: Vec<String>,
    /// For IDs: valid, cleaned, legacy upgraded, and invalid by reason.
    pub ids: Option<IdCounts>,
    /// The canonical name given in the draft.
    pub name: String,
    /// Values seen (normalised), to recognise the same column in other files.
    values: HashSet<String>,
}

#[derive(Default)]
pub struct IdCounts {
    pub valid: usize,
    pub cleaned: usize,
    pub upgraded: usize,
    pub invalid: BTreeMap<&'static str, usize>,
}

/// The files under `paths`: files as given, folders searched one level deep, globs expanded;
/// only CSV, xlsx and Parquet files.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = BTreeSet::new();
    let wanted = |p: &Path| {
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        matches!(ext.as_str(), "csv" | "xlsx" | "parquet") && p.is_file()
    };
    for p in paths {
        if p.is_dir() {
            for e in fs_err::read_dir(p)? {
                let f = e?.path();
                if wanted(&f) {
                    out.insert(f);
                }
            }
        } else if p.is_file() {
            out.insert(p.clone());
        } else {
            let pattern = p.to_string_lossy();
            let matched = glob::glob(&pattern).map_err(|e| Error::Input {
                path: p.clone(),
                message: format!("bad glob: {e}"),
            })?;
            let before = out.len();
            out.extend(matched.filter_map(|m| m.ok()).filter(|f| wanted(f)));
            if out.len() == before {
                return Err(Error::Input {
                    path: p.clone(),
                    message: "no CSV, xlsx or Parquet file here".into(),
                });
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Profiles one file.
pub fn profile_file(path: &Path) -> Result<FileProfile> {
    let format = read::format_of(path, None)?;
    let (encoding, sheets, header_row, table, rows) = match format {
        // Not told from an extension: `format_of` without a declaration never says ORC.
        Format::Orc => {
            return Err(Error::Input {
                path: path.to_path_buf(),
                message: "ORC files are profiled on a cluster, not here".into(),
            });
        }
        Format::Csv => {
            let mut head = Vec::new();
            use std::io::Read;
            fs_err::File::open(path)?
                .take(64 << 10)
                .read_to_end(&mut head)?;
            let sniffed = read::sniff_encoding(&head);
            let header_row = header_row_of(&first_records(path, sniffed.0, 1)?);
            let o = options(Format::Csv, sniffed.0, None, header_row);
            let mut table: Option<SourceTable> = None;
            for t in read::csv_batches(path, &o, 1 << 20, None)? {
                let t = t?;
                let more = table.as_ref().map_or(0, |x| x.rows.len()) < SAMPLE_ROWS;
                table = Some(match table {
                    None => t,
                    Some(x) if more => append(x, t),
                    Some(x) => x,
                });
                if !more {
                    break;
                }
            }
            let table = table.ok_or_else(|| Error::Input {
                path: path.to_path_buf(),
                message: "the file is empty".into(),
            })?;
            // Counted when small; a large file's count would read it all.
            let size = fs_err::metadata(path)?.len();
            let rows = (table.rows.len() < SAMPLE_ROWS || size < (64 << 20))
                .then(|| count_records(path, &o))
                .transpose()?;
            (Some(sniffed), Vec::new(), header_row, table, rows)
        }
        Format::Xlsx => {
            let bytes = fs_err::read(path)?;
            use calamine::Reader;
            let sheets = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(&bytes))
                .map(|wb| wb.sheet_names())
                .unwrap_or_default();
            let probe = read::read_xlsx(
                path,
                &bytes,
                &options(Format::Xlsx, Encoding::Auto, None, 1),
            )?;
            let mut first: Vec<Vec<String>> = vec![probe.headers.clone()];
            for i in 0..probe.rows.len().min(10) {
                first.push(
                    probe
                        .columns
                        .iter()
                        .map(|c| c.get(i).display().into_owned())
                        .collect(),
                );
            }
            let header_row = header_row_of(&first);
            let table = if header_row == 1 {
                probe
            } else {
                read::read_xlsx(
                    path,
                    &bytes,
                    &options(Format::Xlsx, Encoding::Auto, None, header_row),
                )?
            };
            let rows = table.rows.len() as u64;
            (None, sheets, header_row, table, Some(rows))
        }
        Format::Parquet => {
            let mut batches = read::parquet_batches(path, SAMPLE_ROWS)?;
            let table = batches.next().ok_or_else(|| Error::Input {
                path: path.to_path_buf(),
                message: "no rows".into(),
            })??;
            let mut rows =
                polars::prelude::ParquetReader::new(fs_err::File::open(path)?.into_parts().0);
            use polars::prelude::SerReader;
            let rows = rows.num_rows().ok().map(|n| n as u64);
            (None, Vec::new(), 1, table, rows)
        }
    };
    let sampled = table.rows.len().min(SAMPLE_ROWS);
    let columns = table
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.trim().is_empty())
        .map(|(i, h)| profile_column(h, &table, i, sampled))
        .collect();
    Ok(FileProfile {
        path: path.to_path_buf(),
        format,
        encoding,
        sheet: table.sheet.clone(),
        sheets,
        header_row,
        sampled,
        rows,
        columns,
    })
}

fn options(
    format: Format,
    encoding: Encoding,
    sheet: Option<&str>,
    header_row: u64,
) -> ReadOptions<'_> {
    ReadOptions {
        format,
        encoding,
        sheet,
        delimiter: ',',
        header_row,
    }
}

fn append(mut a: SourceTable, b: SourceTable) -> SourceTable {
    let offset = a.rows.len();
    for (ca, cb) in a.columns.iter_mut().zip(b.columns) {
        let mut cells: Vec<crate::ingest::normalize::RawCell> =
            (0..ca.len()).map(|i| raw(ca.get(i))).collect();
        cells.extend((0..cb.len()).map(|i| raw(cb.get(i))));
        *ca = read::SourceColumn::Cells(cells);
    }
    a.rows.extend(b.rows);
    a.malformed.extend(b.malformed.into_iter().map(|mut m| {
        m.index += offset;
        m
    }));
    a
}

fn raw(c: CellRef<'_>) -> crate::ingest::normalize::RawCell {
    use crate::ingest::normalize::RawCell;
    match c {
        CellRef::Empty => RawCell::Empty,
        CellRef::Text(s) => RawCell::Text(s.to_string()),
        CellRef::Number(v) => RawCell::Number(v),
        CellRef::Bool(b) => RawCell::Bool(b),
        CellRef::DateTime(d) => RawCell::DateTime(d),
    }
}

/// The first records of a CSV file as text (header row 1, flexible), for finding the header.
fn first_records(path: &Path, encoding: Encoding, header_row: u64) -> Result<Vec<Vec<String>>> {
    let o = options(Format::Csv, encoding, None, header_row);
    let mut out = Vec::new();
    if let Some(t) = read::csv_batches(path, &o, 64 << 10, None)?.next() {
        let t = t?;
        out.push(t.headers.clone());
        for i in 0..t.rows.len().min(10) {
            out.push(
                t.columns
                    .iter()
                    .map(|c| c.get(i).display().into_owned())
                    .collect(),
            );
        }
        for m in t.malformed.iter().take(10) {
            if m.index < 10 {
                out.insert((m.index + 1).min(out.len()), m.fields.clone());
            }
        }
    }
    Ok(out)
}

/// The header's row (1-based) among the first rows: the first with at least half as many
/// filled cells as the widest of them (a title above it fills one).
fn header_row_of(first: &[Vec<String>]) -> u64 {
    let filled = |r: &Vec<String>| r.iter().filter(|c| !c.trim().is_empty()).count();
    let widest = first.iter().map(filled).max().unwrap_or(0);
    first
        .iter()
        .position(|r| filled(r) * 2 >= widest && filled(r) >= 2.min(widest))
        .map_or(1, |i| i as u64 + 1)
}

fn count_records(path: &Path, o: &ReadOptions) -> Result<u64> {
    let mut n = 0;
    for t in read::csv_batches(path, o, read::CSV_CHUNK_BYTES, None)? {
        n += t?.rows.len() as u64;
    }
    Ok(n)
}

/// Whether a header names a kind of value (Chinese extract headers, as clerks write them).
fn header_says(h: &str, words: &[&str]) -> bool {
    words.iter().any(|w| h.contains(w))
}

fn profile_column(header: &str, t: &SourceTable, i: usize, n: usize) -> ColumnProfile {
    let col = &t.columns[i];
    let cells: Vec<CellRef<'_>> = (0..n).map(|r| col.get(r)).collect();
    let filled: Vec<CellRef<'_>> = cells.iter().copied().filter(|c| !c.is_empty()).collect();
    let share = |ok: usize| {
        if filled.is_empty() {
            0.0
        } else {
            ok as f64 / filled.len() as f64
        }
    };
    let text = |c: &CellRef<'_>| c.display().trim().to_string();

    let mut ids = IdCounts::default();
    for c in &filled {
        let id = match c {
            CellRef::Number(v) => crate::ingest::id_card::normalize_id_number(*v),
            _ => normalize_id_card(&text(c)),
        };
        match id.issue {
            None => {
                ids.valid += 1;
                ids.cleaned += usize::from(id.was_cleaned);
                ids.upgraded += usize::from(id.upgraded_legacy);
            }
            Some(issue) => *ids.invalid.entry(issue.code()).or_default() += 1,
        }
    }
    let dates = filled
        .iter()
        .filter(|c| matches!(parse_date(**c), Ok(Some(_))))
        .count();
    let with_time = filled
        .iter()
        .filter(|c| {
            matches!(c, CellRef::Text(s) if s.contains(':'))
                && matches!(parse_datetime(**c), Ok(Some(_)))
        })
        .count();
    let numbers = filled
        .iter()
        .filter(|c| matches!(parse_decimal(**c), Ok(Some(_))))
        .count();
    let whole = filled
        .iter()
        .filter(|c| matches!(parse_decimal(**c), Ok(Some(v)) if v.fract() == 0.0))
        .count();
    let all_digits = filled
        .iter()
        .filter(|c| matches!(c, CellRef::Number(_)) || text(c).bytes().all(|b| b.is_ascii_digit()))
        .count();
    let names = filled
        .iter()
        .filter(|c| {
            let s = text(c);
            let n = s.chars().count();
            (2..=4).contains(&n) && s.chars().all(|ch| ('\u{4E00}'..='\u{9FFF}').contains(&ch))
        })
        .count();
    let plates = filled.iter().filter(|c| looks_like_plate(&text(c))).count();
    let date_header = header_says(header, &["日期", "年月", "时间", "日", "期", "时点"]);
    let money_header = (header_says(
        header,
        &[
            "金额",
            "工资",
            "报酬",
            "薪酬",
            "薪资",
            "价格",
            "租金",
            "养老金",
            "待遇",
            "保障金",
            "补助标准",
            "补贴标准",
        ],
    ) || header.contains('元'))
        && !header.contains("万元");
    let ty = if !filled.is_empty()
        && share(ids.valid + ids.invalid.values().sum::<usize>()) >= 0.8
        && share(ids.valid) >= 0.5
    {
        SemanticType::IdCard
    } else if !filled.is_empty() && share(with_time) >= 0.9 {
        SemanticType::Datetime
    } else if !filled.is_empty()
        && share(dates) >= 0.9
        // Numbers alone (202503, 20240301) are dates only where the header says so.
        && (share(all_digits) < 0.5 || date_header)
    {
        SemanticType::Date
    } else if !filled.is_empty() && share(numbers) >= 0.95 && money_header {
        SemanticType::Money
    } else if !filled.is_empty()
        && share(numbers) >= 0.95
        && share(whole) == 1.0
        && !header_says(header, &["号", "码", "编"])
    {
        SemanticType::Int
    } else if !filled.is_empty() && share(numbers) >= 0.95 && share(whole) < 1.0 {
        SemanticType::Decimal
    } else if header_says(header, &["车牌", "号牌"]) || (!filled.is_empty() && share(plates) >= 0.8)
    {
        SemanticType::Plate
    } else if header_says(
        header,
        &["姓名", "户主", "权利人", "所有人", "承包方代表", "被征地人"],
    ) && share(names) >= 0.6
    {
        SemanticType::Name
    } else {
        SemanticType::Text
    };
    // The decimal places the values have, beyond a type's default scale: declared in the draft,
    // or past the most a decimal keeps, a float.
    // (binary noise, 2093.7899999999995, counts as the places it stands for, as the loader
    // reads it).
    let places = filled
        .iter()
        .filter_map(|c| parse_decimal(*c).ok().flatten())
        .map(|v| {
            (0..=9)
                .find(|p| {
                    let f = 10f64.powi(*p);
                    (v - (v * f).round() / f).abs() <= 1e-9 * v.abs().max(1.0)
                })
                .map_or(10, |p| p as usize)
        })
        .max()
        .unwrap_or(0);
    let default_places = match ty {
        SemanticType::Money => 4,
        SemanticType::Decimal => 6,
        _ => usize::MAX,
    };
    let (ty, scale) =
        if places > usize::from(crate::job::catalog::MAX_SCALE) && default_places != usize::MAX {
            (SemanticType::Float, None)
        } else if places > default_places {
            (ty, Some(places as u8))
        } else {
            (ty, None)
        };
    let forms: Vec<&'static str> = if matches!(ty, SemanticType::Date | SemanticType::Datetime) {
        let mut f: BTreeSet<&'static str> = BTreeSet::new();
        for c in &filled {
            f.insert(date_form(c));
        }
        f.into_iter().collect()
    } else {
        Vec::new()
    };
    let values: HashSet<String> = filled
        .iter()
        .map(|c| match ty {
            SemanticType::IdCard => normalize_id_card(&text(c)).valid.unwrap_or_else(|| text(c)),
            _ => text(c),
        })
        .collect();
    let mut samples: Vec<String> = Vec::new();
    for c in &filled {
        let s = text(c);
        if !samples.contains(&s) {
            samples.push(s);
        }
        if samples.len() == 3 {
            break;
        }
    }
    ColumnProfile {
        header: header.to_string(),
        ty,
        forms,
        empty: cells.len() - filled.len(),
        distinct: values.len(),
        samples,
        ids: (ty == SemanticType::IdCard).then_some(ids),
        scale,
        name: String::new(),
        values,
    }
}

fn looks_like_plate(s: &str) -> bool {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '·' && *c != '.')
        .collect();
    let mut chars = s.chars();
    let first = chars.next();
    let rest: String = chars.collect();
    first.is_some_and(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
        && (6..=7).contains(&rest.chars().count())
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

fn date_form(c: &CellRef<'_>) -> &'static str {
    match c {
        CellRef::DateTime(_) => "date cell",
        CellRef::Number(_) => "Excel serial",
        CellRef::Text(s) => {
            let s = s.trim();
            if s.contains('年') {
                "2024年3月1日"
            } else if s.contains(':') {
                "2024-03-01 08:00"
            } else if s.contains('/') {
                "2024/3/1"
            } else if s.contains('.') {
                "2024.3.1"
            } else if s.contains('-') {
                if s.len() <= 7 {
                    "2024-03"
                } else {
                    "2024-03-01"
                }
            } else if s.len() == 6 {
                "202403"
            } else {
                "20240301"
            }
        }
        _ => "?",
    }
}

/// Canonical names common to registers (a column's header → its name), else none.
const KNOWN: &[(&[&str], &str)] = &[
    (&["姓名", "户主姓名", "被征地人姓名", "农户姓名"], "name"),
    (&["参保状态"], "status"),
    (&["险种"], "scheme"),
    (&["车牌号", "号牌号码", "车牌号码"], "plate"),
    (&["车辆类型"], "vehicle_type"),
    (&["坐落"], "address"),
    (&["建筑面积"], "floor_area"),
    (&["工作单位"], "employer"),
];

/// Gives every column its canonical name: `id_card` for every ID column (so registers join on
/// it), a known header's name, one name for columns sharing most of their values across files,
/// else `<type>_<n>` within the file.
pub fn name_columns(files: &mut [FileProfile]) {
    // Columns of different files sharing values: one group each.
    let mut group_of: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut groups = 0;
    let keys: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, p)| (0..p.columns.len()).map(move |c| (f, c)))
        .collect();
    for (a, &(fa, ca)) in keys.iter().enumerate() {
        for &(fb, cb) in &keys[a + 1..] {
            if fa == fb {
                continue;
            }
            let (x, y) = (&files[fa].columns[ca], &files[fb].columns[cb]);
            if x.ty != y.ty
                || x.ty == SemanticType::IdCard
                || x.values.len() < 5
                || y.values.len() < 5
            {
                continue;
            }
            let common = x.values.iter().filter(|v| y.values.contains(*v)).count();
            if common * 2 >= x.values.len().min(y.values.len()) && common >= 5 {
                let g = match (group_of.get(&(fa, ca)), group_of.get(&(fb, cb))) {
                    (Some(g), _) | (None, Some(g)) => *g,
                    (None, None) => {
                        groups += 1;
                        groups
                    }
                };
                group_of.insert((fa, ca), g);
                group_of.insert((fb, cb), g);
            }
        }
    }
    for (f, file) in files.iter_mut().enumerate() {
        let mut used: BTreeSet<String> = BTreeSet::new();
        for (c, col) in file.columns.iter_mut().enumerate() {
            let base = if col.ty == SemanticType::IdCard {
                "id_card".to_string()
            } else if let Some((_, n)) = KNOWN
                .iter()
                .find(|(hs, _)| hs.contains(&col.header.as_str()))
            {
                n.to_string()
            } else if let Some(g) = group_of.get(&(f, c)) {
                format!("shared_{g}")
            } else {
                format!("{}_{}", type_word(col.ty), c + 1)
            };
            let mut name = base.clone();
            let mut k = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}_{k}");
                k += 1;
            }
            col.name = name;
        }
    }
}

fn type_word(t: SemanticType) -> &'static str {
    match t {
        SemanticType::IdCard => "id_card",
        SemanticType::Date => "date",
        SemanticType::Datetime => "datetime",
        SemanticType::Decimal => "decimal",
        SemanticType::Money => "money",
        SemanticType::Plate => "plate",
        SemanticType::Name => "name",
        SemanticType::Text => "text",
        SemanticType::Int => "int",
        SemanticType::Float => "float",
        SemanticType::Bool => "bool",
    }
}

fn format_word(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
        Format::Parquet => "parquet",
        Format::Orc => "orc",
    }
}

fn encoding_word(e: Encoding) -> &'static str {
    match e {
        Encoding::Auto => "auto",
        Encoding::Utf8 => "utf-8",
        Encoding::Gbk => "gbk",
        Encoding::Gb18030 => "gb18030",
    }
}

/// A YAML string, quoted.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The dataset name a file gets: its stem when that is a safe name, else `dataset_<n>`.
fn dataset_name(path: &Path, n: usize, used: &mut BTreeSet<String>) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase().replace([' ', '-'], "_"))
        .unwrap_or_default();
    let base = if crate::job::names::check_safe_name(&stem).is_ok()
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && stem.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        stem
    } else {
        format!("dataset_{n}")
    };
    let mut name = base.clone();
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}_{k}");
        k += 1;
    }
    name
}

/// The draft catalog for `files`, with paths relative to `dir` (where it will be written).
pub fn draft(files: &[FileProfile], dir: &Path) -> String {
    let mut out = String::from(
        "# Drafted by `crosscheck profile`: check the types and names, then `crosscheck check`.\ndatasets:\n",
    );
    let mut used = BTreeSet::new();
    for (n, f) in files.iter().enumerate() {
        let name = dataset_name(&f.path, n + 1, &mut used);
        let rel = pathdiff(&f.path, dir);
        out.push_str(&format!("  {name}:\n"));
        out.push_str(&format!("    path: {}\n", quoted(&rel)));
        out.push_str(&format!("    format: {}\n", format_word(f.format)));
        if let Some((e, _, sure)) = f.encoding
            && !sure
        {
            out.push_str(&format!("    encoding: {}\n", encoding_word(e)));
        }
        if let Some(s) = &f.sheet {
            out.push_str(&format!("    sheet: {}\n", quoted(s)));
        }
        if f.header_row != 1 {
            out.push_str(&format!("    header_row: {}\n", f.header_row));
        }
        out.push_str("    columns:\n");
        for c in &f.columns {
            let scale = c.scale.map_or(String::new(), |s| format!(", scale: {s}"));
            out.push_str(&format!(
                "      {}: {{ type: {}{scale}, aliases: [{}] }}\n",
                c.name,
                type_word(c.ty),
                quoted(&c.header)
            ));
        }
    }
    out
}

/// `path` relative to `dir` where it lies below it, else absolute.
fn pathdiff(path: &Path, dir: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.strip_prefix(&base)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| abs.to_string_lossy().into_owned())
}

/// The profile as a person reads it, Chinese first, English beside; `mask` hides IDs and names
/// in the samples.
pub fn report(files: &[FileProfile], mask: bool) -> String {
    let mut out = String::new();
    for f in files {
        out.push_str(&format!("文件 File: {}\n", f.path.display()));
        out.push_str(&format!("  格式 format: {}", format_word(f.format)));
        if let Some((_, name, sure)) = f.encoding {
            out.push_str(&format!(
                "; 编码 encoding: {name} ({})",
                if sure {
                    "确定 certain"
                } else {
                    "不确定，请在目录中声明 uncertain: declare it"
                }
            ));
        }
        if !f.sheets.is_empty() {
            out.push_str(&format!(
                "; 工作表 sheets: {} (读取 read: {})",
                f.sheets.join(", "),
                f.sheet.as_deref().unwrap_or("")
            ));
        }
        out.push('\n');
        out.push_str(&format!(
            "  表头行 header row: {}{}; 行数 rows: {}{}\n",
            f.header_row,
            if f.header_row > 1 {
                " (上方为标题行 title rows above)"
            } else {
                ""
            },
            f.rows
                .map_or("未计数 not counted".to_string(), |r| r.to_string()),
            if f.rows.is_some_and(|r| r as usize > f.sampled) {
                format!(
                    " (按前 {} 行分析 profiled on the first {} rows)",
                    f.sampled, f.sampled
                )
            } else {
                String::new()
            }
        ));
        for c in &f.columns {
            let samples: Vec<String> = c
                .samples
                .iter()
                .map(|s| match (mask, c.ty) {
                    (true, SemanticType::Name) => crate::output::mask::mask_name(s),
                    (true, _) => crate::output::mask::mask_ids(s),
                    _ => s.clone(),
                })
                .collect();
            out.push_str(&format!(
                "  {} → {} [{}] 空 empty {:.0}%, 不同值 distinct {}, 例 e.g. {}",
                c.header,
                c.name,
                type_word(c.ty),
                100.0 * c.empty as f64 / f.sampled.max(1) as f64,
                c.distinct,
                samples.join(" | ")
            ));
            if !c.forms.is_empty() {
                out.push_str(&format!("; 格式 forms: {}", c.forms.join(", ")));
            }
            if let Some(ids) = &c.ids {
                out.push_str(&format!(
                    "; 有效 valid {}, 清理 cleaned {}, 15位升级 upgraded {}",
                    ids.valid, ids.cleaned, ids.upgraded
                ));
                for (why, n) in &ids.invalid {
                    out.push_str(&format!(", {why} {n}"));
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_row_above_the_header_is_passed_over() {
        let rows = |r: &[&[&str]]| -> Vec<Vec<String>> {
            r.iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect()
        };
        assert_eq!(
            header_row_of(&rows(&[
                &["2025年低保对象名册", "", "", ""],
                &["户主姓名", "身份证号", "家庭人口", "月保障金额"],
                &["张伟", "320102195003011238", "3", "600"],
            ])),
            2
        );
        assert_eq!(
            header_row_of(&rows(&[
                &["户主姓名", "身份证号", "家庭人口", "月保障金额"],
                &["张伟", "320102195003011238", "3", ""],
            ])),
            1
        );
    }

    #[test]
    fn plates_are_told_by_their_shape() {
        assert!(looks_like_plate("苏A·12345"));
        assert!(looks_like_plate(" 苏f12345 "));
        assert!(!looks_like_plate("苏州市"));
        assert!(!looks_like_plate("12345678"));
    }
}
