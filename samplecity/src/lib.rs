//! The sample city: a deterministic, seeded generator of realistic extracts — Chinese headers
//! that drift between files, GBK / GB18030 / UTF-8-BOM CSV, xlsx and Parquet, IDs as clerks
//! export them — with planted anomalies, benign near-misses each rule must not flag, and a
//! ground-truth file of the leads every bundled rule must find. `scale` multiplies the
//! background population (the planted cases stay the same), for benchmarks.

mod city;
mod dibao;
mod error;
mod grain;
mod identities;
mod packs;
mod pensions;
mod people;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

use city::{car, death, enrol, home, household, new_account, pay, requisitioned, salary};
pub use error::{Error, Result};
use people::{Person, Pool, Rng, decorate, legacy15};
use write::{Cell, Table};

use dibao::dibao_and_registers;
use identities::identities;
use pensions::pensions;

/// What each bundled rule must find, and which rows the loader must reject.
#[derive(Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct GroundTruth {
    /// rule id → sorted lead keys.
    pub leads: BTreeMap<String, Vec<String>>,
    /// dataset → (file, row) of every row the loader must reject.
    pub rejected: BTreeMap<String, Vec<(String, u64)>>,
    /// dataset → data rows written.
    pub rows: BTreeMap<String, u64>,
    /// rule id → lead key → money at stake in cents, for rules that declare `amount`.
    #[serde(default)]
    pub amounts: BTreeMap<String, BTreeMap<String, i64>>,
}

impl GroundTruth {
    fn lead(&mut self, rule: &str, key: impl Into<String>) {
        self.leads
            .entry(rule.to_string())
            .or_default()
            .push(key.into());
    }

    /// A lead with money at stake: `months` payments of `each` yuan.
    fn lead_amount(&mut self, rule: &str, key: &str, months: u32, each: f64) {
        self.lead_cents(rule, key, i64::from(months) * (each * 100.0).round() as i64);
    }

    /// A lead with money at stake, in cents.
    fn lead_cents(&mut self, rule: &str, key: &str, cents: i64) {
        self.lead(rule, key);
        *self
            .amounts
            .entry(rule.to_string())
            .or_default()
            .entry(key.to_string())
            .or_default() += cents;
    }
}

const PENSION_SCHEMES: [&str; 2] = ["城镇职工基本养老保险", "城乡居民基本养老保险"];
const LAND_LOST: &str = "被征地农民养老保障";
const ACTIVE: [&str; 2] = ["正常领取", "参保缴费"];
const MONTHS: [u32; 6] = [1, 2, 3, 4, 5, 6];

/// The people a city holds per unit of `scale`: every register grows with them.
pub const PEOPLE_PER_SCALE: usize = 4000;

/// The scale of a city of about `people` people (at least 1).
pub fn scale_for_people(people: u64) -> u32 {
    u32::try_from(people.div_ceil(PEOPLE_PER_SCALE as u64))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// The date the sample city's extracts were taken (the bundled job's `as_of`): benefits are
/// counted through its month.
pub const AS_OF: (i32, u32) = (2025, 6);

/// Months from `from`'s month to `AS_OF`'s (0 for the same month).
fn months_to_as_of(from: NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(AS_OF.0) * 12 + i64::from(AS_OF.1)
        - (i64::from(from.year()) * 12 + i64::from(from.month()))
}

/// Months from `since`'s month through `AS_OF`'s, both included (0 when `since` is later):
/// the months a dibao benefit was paid while ineligible from `since`.
fn months_since(since: NaiveDate) -> i64 {
    (months_to_as_of(since) + 1).max(0)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid generator date")
}

fn money_text(rng: &mut Rng, v: f64) -> String {
    match rng.below(3) {
        0 => format!("{v:.2}"),
        1 => {
            let whole = v.trunc() as i64;
            let s = whole.to_string();
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{out}.{:02}", ((v.fract() * 100.0).round() as i64).abs())
        }
        _ => format!("{v:.1}元"),
    }
}

/// Writes the sample city into `out`; returns a one-line summary.
pub fn generate(out: &Path, scale: u32, seed: u64) -> Result<String> {
    generate_round(out, scale, seed, 1)
}

/// Writes round `round` of the sample city. Round 2 is the same city half a year later: two
/// pensions paid after death stopped (their later payments reversed), one dibao recipient sold
/// the car, two dibao recipients joined the public payroll and one more person enrolled twice.
/// Round 3 is round 2 with the car bought back: that lead reappears.
pub fn generate_round(out: &Path, scale: u32, seed: u64, round: u32) -> Result<String> {
    generate_city(out, scale, seed, round, 0)
}

/// As `generate_round`, with `history` months of pension payments before 2025 for every
/// background retiree: a payments table of benchmark size (162 months at scale 100 is about
/// ten million rows) with the same leads, since background retirees are alive throughout.
pub fn generate_city(
    out: &Path,
    scale: u32,
    seed: u64,
    round: u32,
    history: u32,
) -> Result<String> {
    if !(1..=3).contains(&round) {
        return Err(Error::Input {
            path: out.to_path_buf(),
            message: format!("round {round}: the sample city has rounds 1, 2 and 3"),
        });
    }
    fs_err::create_dir_all(out)?;
    let scale = scale.max(1) as usize;
    let mut rng = Rng::new(seed);
    let mut pool = Pool::new(&mut rng, PEOPLE_PER_SCALE * scale + 400);
    let mut truth = GroundTruth::default();
    // Retirees paid before 2025: their rows are written month by month at the end, never
    // held (a billion-row table does not fit in memory).
    let history_payees: Vec<(String, String, String, f64)> = Vec::new();
    // Round 2 on: (person, death month) whose payments after the death month are reversed.
    let reversed: Vec<(String, u32)> = Vec::new();

    let pension = Table::new(
        "pension_enrolment",
        &[
            "姓名",
            "身份证号",
            "险种",
            "参保地",
            "参保状态",
            "月养老金",
            "参保日期",
        ],
    );
    let payments = Table::new(
        "pension_payments",
        &["身份证号码", "姓名", "发放年月", "发放金额", "银行账号"],
    );
    let deaths = Table::new(
        "death_register",
        &["姓名", "公民身份号码", "死亡日期", "登记机关"],
    );
    let dibao = Table::new(
        "dibao_roll",
        &[
            "户主姓名",
            "身份证号",
            "家庭人口",
            "月保障金额",
            "所属街道",
            "纳入日期",
        ],
    );
    let property = Table::new(
        "property_register",
        &[
            "权利人",
            "权利人证件号",
            "不动产单元号",
            "坐落",
            "建筑面积",
            "登记日期",
        ],
    );
    let vehicles = Table::new(
        "vehicle_register",
        &[
            "所有人",
            "身份证明号码",
            "号牌号码",
            "车辆类型",
            "购置价格",
            "初次登记日期",
        ],
    );
    let payroll = Table::new(
        "public_payroll",
        &["姓名", "身份证号码", "工作单位", "应发工资", "发放年月"],
    );
    let requisition = Table::new(
        "land_requisition",
        &["被征地人姓名", "被征地人身份证号", "征地批次", "安置日期"],
    );

    let account_seq = 0u64;
    let plate_seq = 0u32;

    let mut city = City {
        pension,
        payments,
        deaths,
        dibao,
        property,
        vehicles,
        payroll,
        requisition,
        account_seq,
        plate_seq,
        history_payees,
        reversed,
    };
    pensions(
        &mut city, &mut pool, &mut rng, &mut truth, scale, round, history,
    );
    dibao_and_registers(&mut city, &mut pool, &mut rng, &mut truth, scale, round);
    let mut g = grain::generate(&mut rng, &mut pool, scale, &mut truth);
    identities(&mut city, &mut g, &mut pool, &mut rng, &mut truth);
    let City {
        mut pension,
        mut payments,
        deaths,
        mut dibao,
        property,
        vehicles,
        mut payroll,
        requisition,
        history_payees,
        reversed,
        ..
    } = city;

    // Later rounds: what changed, after everything else so that the rest of the city is the
    // same row for row.
    payments.retain(|row| {
        let id = match &row[0] {
            Cell::Text(t) => people::undecorate(t),
            _ => String::new(),
        };
        let month = match &row[2] {
            Cell::Text(t) => t[4..].parse::<u32>().unwrap_or(0),
            _ => 0,
        };
        !reversed
            .iter()
            .any(|(r, death_month)| *r == id && month > *death_month)
    });
    if round >= 2 {
        let mut later = Rng::new(seed ^ 0x2026);
        for _ in 0..2 {
            let p = pool.next();
            let (benefit, enrolled) = household(&mut dibao, &p, Cell::text(&p.id), &mut later);
            salary(&mut payroll, &p, &mut later);
            let since = enrolled.max(d(2025, city::SALARY_MONTHS[0], 1));
            truth.lead_cents(
                "dibao_on_public_payroll",
                &p.id,
                months_since(since) * benefit * 100,
            );
        }
        let p = pool.next_retiree();
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(1900.0),
            &mut later,
        );
        enrol(
            &mut pension,
            &p,
            people::fullwidth(&p.id),
            PENSION_SCHEMES[1],
            "参保缴费",
            Some(950.0),
            &mut later,
        );
        truth.lead("pension_duplicate_active", p.id.clone());
    }

    let extracts = packs::generate(seed, scale, &mut truth);

    for keys in truth.leads.values_mut() {
        keys.sort();
    }
    for t in [
        &pension,
        &payments,
        &deaths,
        &dibao,
        &property,
        &vehicles,
        &payroll,
        &requisition,
        &g.book,
        &g.stocktake,
        &g.tickets,
        &g.subsidy,
        &g.contracts,
    ]
    .into_iter()
    .chain(extracts.iter().map(|e| &e.table))
    {
        truth.rows.insert(t.name.clone(), t.len() as u64);
    }

    // An xlsx sheet holds 1,048,576 rows, its header included. Refused before anything is
    // written: the payments alone take many minutes at benchmark sizes.
    const XLSX_ROWS: usize = 1_048_575;
    let sheets = [&dibao, &payroll, &g.stocktake, &g.contracts]
        .into_iter()
        .chain(
            extracts
                .iter()
                .filter(|e| matches!(e.format, packs::Format::Xlsx(_)))
                .map(|e| &e.table),
        );
    if let Some(t) = sheets.into_iter().find(|t| t.len() > XLSX_ROWS) {
        return Err(Error::Input {
            path: out.to_path_buf(),
            message: format!(
                "at scale {scale} the xlsx extract `{}` would have {} rows, more than a sheet \
                 holds ({XLSX_ROWS}); use a smaller --scale, and --payment-history for a larger \
                 payments table",
                t.name,
                t.len()
            ),
        });
    }
    write::csv(
        out,
        "pension_enrolment.csv",
        &pension,
        encoding_rs::GBK,
        false,
    )?;
    // Its own generator, so that the rest of the city does not depend on `history`.
    let mut history_rng = Rng::new(seed ^ 0x4849_5354);
    let months = (1..=history).map(|k| {
        let (y, m) = (2025 - (k as i32 + 11) / 12, 12 - (k + 11) % 12);
        let month = format!("{y}{m:02}");
        let rows: Vec<Vec<Cell>> = history_payees
            .iter()
            .map(|(id, name, account, amount)| {
                vec![
                    Cell::text(decorate(&mut history_rng, id, 0.03)),
                    Cell::text(name),
                    Cell::text(&month),
                    Cell::Num(*amount),
                    Cell::text(account),
                ]
            })
            .collect();
        rows
    });
    if history == 0 {
        write::parquet(out, "pension_payments.parquet", &payments)?;
    } else {
        let more = write::parquet_batched(out, "pension_payments.parquet", &payments, months)?;
        *truth.rows.entry(payments.name.clone()).or_default() += more;
    }
    write::csv(out, "death_register.csv", &deaths, encoding_rs::UTF_8, true)?;
    write::xlsx(out, "dibao_roll.xlsx", "低保对象", &dibao)?;
    write::csv(
        out,
        "property_register.csv",
        &property,
        encoding_rs::GB18030,
        false,
    )?;
    write::csv(
        out,
        "vehicle_register.csv",
        &vehicles,
        encoding_rs::UTF_8,
        false,
    )?;
    write::xlsx(out, "public_payroll.xlsx", "工资发放", &payroll)?;
    write::csv(
        out,
        "land_requisition.csv",
        &requisition,
        encoding_rs::GBK,
        false,
    )?;
    write::csv(
        out,
        "grain_book_stock.csv",
        &g.book,
        encoding_rs::GBK,
        false,
    )?;
    write::xlsx(out, "grain_stocktake.xlsx", "实测", &g.stocktake)?;
    write::csv(
        out,
        "weighbridge_tickets.csv",
        &g.tickets,
        encoding_rs::UTF_8,
        true,
    )?;
    write::csv(
        out,
        "planting_subsidy.csv",
        &g.subsidy,
        encoding_rs::GB18030,
        false,
    )?;
    write::xlsx(out, "land_contract.xlsx", "承包地块", &g.contracts)?;
    for e in &extracts {
        match e.format {
            packs::Format::Csv(encoding, bom) => write::csv(out, e.file, &e.table, encoding, bom)?,
            packs::Format::Xlsx(sheet) => write::xlsx(out, e.file, sheet, &e.table)?,
            packs::Format::Parquet => write::parquet(out, e.file, &e.table)?,
        }
    }
    fs_err::write(out.join("datasets.yaml"), CATALOG)?;
    let json = serde_json::to_string_pretty(&truth).expect("ground truth serialises");
    fs_err::write(out.join("ground_truth.json"), json + "\n")?;
    let rows: u64 = truth.rows.values().sum();
    Ok(format!(
        "{} people, {rows} rows in {} datasets, {} planted leads",
        PEOPLE_PER_SCALE * scale.max(1),
        truth.rows.len(),
        truth.leads.values().map(Vec::len).sum::<usize>()
    ))
}

/// The registers of the city while they are written, and what the later rounds need.
struct City {
    pension: Table,
    payments: Table,
    deaths: Table,
    dibao: Table,
    property: Table,
    vehicles: Table,
    payroll: Table,
    requisition: Table,
    account_seq: u64,
    plate_seq: u32,
    /// Retirees paid before 2025: written month by month at the end, never held.
    history_payees: Vec<(String, String, String, f64)>,
    /// Round 2 on: (person, death month) whose payments after the death month are reversed.
    reversed: Vec<(String, u32)>,
}

/// The catalog written beside the sample city.
pub const CATALOG: &str = include_str!("datasets.yaml");
