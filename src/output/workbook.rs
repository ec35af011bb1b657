//! `anomalies.xlsx` — what an inspection team opens: a summary sheet (rules, leads, data
//! quality), then one sheet per rule with the rule's Chinese labels as headers, IDs and codes as
//! text, numbers and dates typed, frozen header row, autofilter, and columns sized to their
//! content. A rule with more rows than a sheet holds spills onto further sheets.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::engine::{RuleStatus, RunResult};
use crate::job::catalog::ValueType;

/// Data rows per sheet: Excel's 1,048,576 rows less the header.
pub const MAX_ROWS: usize = 1_048_575;

/// Columns every rule sheet starts with, before the rule's evidence labels.
pub const LEAD_HEADERS: [&str; 6] = [
    "线索编号 Lead ID",
    "线索键 Key",
    "来源文件 File",
    "工作表 Sheet",
    "行号 Row",
    "关联记录 Partner",
];
/// The column of a rule's money at stake (rules that declare `amount`), per row and per rule.
pub const AMOUNT_HEADER: &str = "涉及金额 Amount";
/// Columns every rule sheet ends with; inspectors fill in the last two.
pub const TAIL_HEADERS: [&str; 4] = [
    "说明 Message",
    "证据指纹 Evidence hash",
    "核查状态 Status",
    "核查说明 Note",
];

/// Excel refuses cells longer than 32,767 characters: longer text is cut with a mark.
fn cell_text(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 32_767;
    if s.chars().count() <= MAX {
        std::borrow::Cow::Borrowed(s)
    } else {
        let cut: String = s.chars().take(MAX - 20).collect();
        std::borrow::Cow::Owned(format!("{cut}…（已截断 truncated）"))
    }
}

/// Display width of text: CJK characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if c.len_utf8() > 1 { 2 } else { 1 })
        .sum()
}

/// A sheet name Excel accepts (31 characters, none of []:*?/\), unique in the workbook.
fn sheet_name(base: &str, used: &mut BTreeSet<String>) -> String {
    let clean: String = base.chars().filter(|c| !"[]:*?/\\".contains(*c)).collect();
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("~{n}")
        };
        let keep = 31 - suffix.chars().count();
        let name: String = clean.chars().take(keep).collect::<String>() + &suffix;
        if used.insert(name.to_lowercase()) {
            return name;
        }
        n += 1;
    }
}

struct Widths(Vec<usize>);

impl Widths {
    fn see(&mut self, col: usize, text: &str) {
        if self.0.len() <= col {
            self.0.resize(col + 1, 0);
        }
        self.0[col] = self.0[col].max(width(text));
    }
    fn apply(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        for (c, w) in self.0.iter().enumerate() {
            ws.set_column_width(c as u16, (*w as f64 + 2.0).clamp(6.0, 60.0))?;
        }
        Ok(())
    }
}

fn in_excel(d: NaiveDate) -> bool {
    (1900..=9999).contains(&d.year())
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Writes one evidence value with its type: numbers as numbers, dates as dates, the rest
/// (IDs, codes, accounts) as text so Excel never rounds them.
fn write_value(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: &str,
    ty: ValueType,
    fmt: &Formats,
) -> Result<(), XlsxError> {
    match ty {
        // Excel keeps 15 significant digits: a larger number (or NaN, infinity) stays text.
        ValueType::Int | ValueType::Float => match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() < 1e15 => ws.write_number(row, col, v).map(|_| ()),
            _ => ws.write_string(row, col, value).map(|_| ()),
        },
        // Excel's dates start in 1900: an earlier one (a register's 0711-03-01) stays text.
        ValueType::Date => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            Ok(d) if in_excel(d) => ws
                .write_datetime_with_format(row, col, &excel_date(d)?, &fmt.date)
                .map(|_| ()),
            _ => ws.write_string(row, col, value).map(|_| ()),
        },
        ValueType::Datetime => match parse_datetime(value).filter(|dt| in_excel(dt.date())) {
            Some(dt) => {
                let x =
                    ExcelDateTime::from_ymd(dt.year() as u16, dt.month() as u8, dt.day() as u8)?
                        .and_hms(dt.hour() as u16, dt.minute() as u8, dt.second() as f64)?;
                ws.write_datetime_with_format(row, col, &x, &fmt.datetime)
                    .map(|_| ())
            }
            None => ws.write_string(row, col, value).map(|_| ()),
        },
        _ => ws.write_string(row, col, cell_text(value)).map(|_| ()),
    }
}

struct Formats {
    header: Format,
    date: Format,
    datetime: Format,
}

fn header_row(
    ws: &mut Worksheet,
    headers: &[String],
    fmt: &Formats,
    widths: &mut Widths,
) -> Result<(), XlsxError> {
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &fmt.header)?;
        widths.see(c, h);
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Builds the workbook in memory; `max_rows` is the sheet limit (tests use a small one).
pub fn workbook_bytes(result: &RunResult, max_rows: usize) -> Result<Vec<u8>, XlsxError> {
    let fmt = Formats {
        header: Format::new().set_bold().set_background_color("#DDEBF7"),
        date: Format::new().set_num_format("yyyy-mm-dd"),
        datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
    };
    let mut wb = Workbook::new();
    // A fixed creation time: the workbook of the same leads is the same file.
    wb.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_ymd(2000, 1, 1)?),
    );
    let mut used = BTreeSet::new();
    let summary_name = sheet_name("汇总 Summary", &mut used);

    // Rule sheets first (their names go into the summary), then the summary is moved first.
    let mut sheets_of_rule: Vec<Vec<String>> = Vec::new();
    let mut rule_sheets: Vec<Worksheet> = Vec::new();
    for o in &result.outcomes {
        let mut names = Vec::new();
        let chunks: Vec<&[crate::engine::LeadRow]> = if o.rows.is_empty() {
            vec![&[][..]]
        } else {
            o.rows.chunks(max_rows).collect()
        };
        for (part, rows) in chunks.into_iter().enumerate() {
            let base = if part == 0 {
                o.rule.id.clone()
            } else {
                format!("{} ({})", o.rule.id, part + 1)
            };
            let name = sheet_name(&base, &mut used);
            let mut ws = Worksheet::new();
            ws.set_name(&name)?;
            let mut headers: Vec<String> = LEAD_HEADERS.iter().map(|s| s.to_string()).collect();
            headers.extend(o.rule.evidence_labels.iter().cloned());
            if o.rule.has_amount {
                headers.push(AMOUNT_HEADER.to_string());
            }
            headers.extend(TAIL_HEADERS.iter().map(|s| s.to_string()));
            let mut widths = Widths(Vec::new());
            header_row(&mut ws, &headers, &fmt, &mut widths)?;
            for (i, r) in rows.iter().enumerate() {
                let row = i as u32 + 1;
                let fixed = [
                    r.lead_id.as_str(),
                    r.key.as_str(),
                    r.file.as_str(),
                    r.sheet.as_deref().unwrap_or(""),
                ];
                for (c, v) in fixed.iter().enumerate() {
                    ws.write_string(row, c as u16, *v)?;
                    widths.see(c, v);
                }
                ws.write_number(row, 4, r.row as f64)?;
                ws.write_string(row, 5, r.partner.as_deref().unwrap_or(""))?;
                widths.see(5, r.partner.as_deref().unwrap_or(""));
                for (j, (value, ty)) in r.evidence.values().zip(&o.rule.evidence_types).enumerate()
                {
                    let c = LEAD_HEADERS.len() + j;
                    let v = value.as_deref().unwrap_or("");
                    if !v.is_empty() {
                        write_value(&mut ws, row, c as u16, v, *ty, &fmt)?;
                    }
                    widths.see(c, v);
                }
                let mut c = LEAD_HEADERS.len() + o.rule.evidence_labels.len();
                if o.rule.has_amount {
                    let a = r.amount.as_deref().unwrap_or("");
                    if !a.is_empty() {
                        write_value(&mut ws, row, c as u16, a, ValueType::Float, &fmt)?;
                    }
                    widths.see(c, a);
                    c += 1;
                }
                let tail = [
                    r.message.as_deref().unwrap_or(""),
                    r.evidence_hash.as_str(),
                    r.disposition.map(|d| d.label()).unwrap_or(""),
                    r.disposition_note.as_deref().unwrap_or(""),
                ];
                for (j, text) in tail.iter().enumerate() {
                    ws.write_string(row, (c + j) as u16, cell_text(text))?;
                    widths.see(c + j, text);
                }
            }
            ws.autofilter(0, 0, rows.len() as u32, (headers.len() - 1) as u16)?;
            widths.apply(&mut ws)?;
            names.push(name);
            rule_sheets.push(ws);
        }
        sheets_of_rule.push(names);
    }

    let mut summary = Worksheet::new();
    summary.set_name(&summary_name)?;
    let headers: Vec<String> = [
        "规则编号 Rule ID",
        "规则名称 Title",
        "严重程度 Severity",
        "线索数 Leads",
        "记录数 Rows",
        "数据集 Datasets",
        "状态 Status",
        "工作表 Sheets",
        "核查结果 Dispositions",
        "不再提示的误报 Cleared false positives",
        "精确率 Precision",
        AMOUNT_HEADER,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut widths = Widths(Vec::new());
    header_row(&mut summary, &headers, &fmt, &mut widths)?;
    for (i, (o, sheets)) in result.outcomes.iter().zip(&sheets_of_rule).enumerate() {
        let row = i as u32 + 1;
        let status = match &o.status {
            RuleStatus::Ok => "完成 ok".to_string(),
            RuleStatus::Failed(e) => format!("失败 failed: {e}"),
        };
        let sheets_text = if sheets.len() > 1 {
            format!(
                "{}（分 {} 个工作表 / spread over {} sheets）",
                sheets.join(", "),
                sheets.len(),
                sheets.len()
            )
        } else {
            sheets.join(", ")
        };
        let texts = [
            o.rule.id.clone(),
            o.rule.title.clone(),
            o.rule.severity.as_str().to_string(),
        ];
        for (c, t) in texts.iter().enumerate() {
            summary.write_string(row, c as u16, t)?;
            widths.see(c, t);
        }
        summary.write_number(row, 3, o.lead_count() as f64)?;
        summary.write_number(row, 4, o.rows.len() as f64)?;
        let outcomes: Vec<String> = o
            .dispositions
            .iter()
            .map(|(d, n)| format!("{} {n}", d.label()))
            .collect();
        for (c, t) in [
            (5, o.rule.datasets.join(", ")),
            (6, status),
            (7, sheets_text),
            (8, outcomes.join(", ")),
        ] {
            summary.write_string(row, c as u16, cell_text(&t))?;
            widths.see(c as usize, &t);
        }
        summary.write_number(row, 9, o.suppressed.len() as f64)?;
        if let Some(p) = crate::engine::precision(&o.dispositions) {
            summary.write_number(row, 10, (p * 1000.0).round() / 1000.0)?;
        }
        if let Some(a) = o.amount() {
            write_value(&mut summary, row, 11, &a, ValueType::Float, &fmt)?;
            widths.see(11, &a);
        }
    }
    let last_rule_row = result.outcomes.len() as u32;
    summary.autofilter(0, 0, last_rule_row, (headers.len() - 1) as u16)?;

    // Data quality per dataset, below the rules.
    let dq_top = last_rule_row + 2;
    let dq_headers = [
        "数据集 Dataset",
        "读取行数 Rows read",
        "载入行数 Loaded",
        "拒绝行数 Rejected",
        "无效身份证号 Invalid IDs",
        "15位升级 Legacy IDs upgraded",
        "已清洗 IDs cleaned",
    ];
    for (c, h) in dq_headers.iter().enumerate() {
        summary.write_string_with_format(dq_top, c as u16, *h, &fmt.header)?;
        widths.see(c, h);
    }
    for (i, d) in result.datasets.iter().enumerate() {
        let row = dq_top + 1 + i as u32;
        let name = match &d.report {
            Some(r) => r
                .title
                .clone()
                .map(|t| format!("{} {t}", d.name))
                .unwrap_or_else(|| d.name.clone()),
            None => d.name.clone(),
        };
        summary.write_string(row, 0, &name)?;
        widths.see(0, &name);
        match &d.report {
            Some(r) => {
                let invalid: u64 = r.id_quality.values().flat_map(|q| q.invalid.values()).sum();
                let legacy: u64 = r.id_quality.values().map(|q| q.legacy_upgraded).sum();
                let cleaned: u64 = r.id_quality.values().map(|q| q.cleaned).sum();
                for (c, v) in [
                    r.rows_read,
                    r.rows_loaded,
                    r.rows_rejected,
                    invalid,
                    legacy,
                    cleaned,
                ]
                .iter()
                .enumerate()
                {
                    summary.write_number(row, c as u16 + 1, *v as f64)?;
                }
            }
            None => {
                let e = format!(
                    "未能读取 not loaded: {}",
                    d.error.clone().unwrap_or_default()
                );
                summary.write_string(row, 1, &e)?;
            }
        }
    }
    widths.apply(&mut summary)?;

    wb.push_worksheet(summary);
    for ws in rule_sheets {
        wb.push_worksheet(ws);
    }
    if let Some(ws) = link_weights(result, &fmt, &mut used)? {
        wb.push_worksheet(ws);
    }
    wb.save_to_buffer()
}

/// The weights each `link` rule estimated, a row per field and level: why a pair scored what
/// it did (a pair's weight is the prior's plus each field's at the level it agreed at).
fn link_weights(
    result: &RunResult,
    fmt: &Formats,
    used: &mut BTreeSet<String>,
) -> Result<Option<Worksheet>, XlsxError> {
    let estimates: Vec<_> = result
        .outcomes
        .iter()
        .filter_map(|o| o.rule.plan.link_estimates())
        .collect();
    if estimates.is_empty() {
        return Ok(None);
    }
    let mut ws = Worksheet::new();
    ws.set_name(sheet_name("匹配权重 Link weights", used))?;
    let headers: Vec<String> = [
        "规则编号 Rule ID",
        "字段 Field",
        "比对结果 Level",
        "同一人时的概率 m",
        "随机两条记录时的概率 u",
        "权重（比特）Weight (bits)",
        "由数据估计 Estimated",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut widths = Widths(Vec::new());
    header_row(&mut ws, &headers, fmt, &mut widths)?;
    let mut row = 1u32;
    for e in &estimates {
        ws.write_string(row, 0, &e.rule)?;
        ws.write_string(row, 1, "先验 Prior")?;
        ws.write_string(
            row,
            2,
            "任意两条记录为同一人 / two records drawn at random are one person",
        )?;
        ws.write_number(row, 3, e.prior)?;
        ws.write_number(row, 5, crate::plan::link::estimate::logit2(e.prior))?;
        ws.write_string(
            row,
            6,
            if e.prior_estimated {
                "是 yes"
            } else {
                "否 no"
            },
        )?;
        row += 1;
        for f in &e.fields {
            for (l, label) in f.levels.iter().enumerate() {
                ws.write_string(row, 0, &e.rule)?;
                ws.write_string(row, 1, &f.field)?;
                ws.write_string(row, 2, label)?;
                widths.see(2, label);
                ws.write_number(row, 3, f.m[l])?;
                ws.write_number(row, 4, f.u[l])?;
                ws.write_number(row, 5, f.weight[l])?;
                ws.write_string(row, 6, if f.m_estimated { "是 yes" } else { "否 no" })?;
                row += 1;
            }
        }
    }
    widths.apply(&mut ws)?;
    Ok(Some(ws))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_longer_than_an_excel_cell_is_cut_with_a_mark() {
        let long = "证".repeat(40_000);
        let cut = cell_text(&long);
        assert!(cut.chars().count() <= 32_767);
        assert!(cut.ends_with("（已截断 truncated）"));
        assert_eq!(cell_text("short"), "short");
    }
}
