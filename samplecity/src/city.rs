//! The rows each register of the city gets: an enrolment, a month's payments, a death, a
//! requisition, a dibao household, a home, a car, a salary — each written as clerks export
//! them.

use chrono::NaiveDate;

use crate::people::{Person, Rng, decorate};
use crate::write::{Cell, Table};
use crate::{d, money_text};

/// Public-payroll employers.
const UNITS: [&str; 7] = [
    "市民政局",
    "市财政局",
    "区教育局",
    "区卫生健康委",
    "街道办事处",
    "市自然资源局",
    "区人民法院",
];

/// A new bank account number, the `seq`-th the city opens.
pub fn new_account(seq: &mut u64, rng: &mut Rng) -> String {
    *seq += 1;
    format!("6217{:06}{:09}", 320_100 + rng.below(90), seq)
}

pub fn pay(
    payments: &mut Table,
    p: &Person,
    months: &[u32],
    account: &str,
    amount: f64,
    rng: &mut Rng,
) {
    for m in months {
        payments.push(vec![
            Cell::text(decorate(rng, &p.id, 0.03)),
            Cell::text(&p.name),
            Cell::text(format!("2025{m:02}")),
            Cell::Num(amount),
            Cell::text(account),
        ]);
    }
}

pub fn enrol(
    pension: &mut Table,
    p: &Person,
    id_text: String,
    scheme: &str,
    status: &str,
    amount: Option<f64>,
    rng: &mut Rng,
) {
    let amount = amount.map(|a| money_text(rng, a)).unwrap_or_default();
    let since = d(2000 + rng.below(24) as i32, 1 + rng.below(12) as u32, 1);
    pension.push(vec![
        Cell::text(&p.name),
        Cell::text(id_text),
        Cell::text(scheme),
        Cell::text(p.district_name()),
        Cell::text(status),
        Cell::text(amount),
        Cell::text(since.format("%Y%m%d").to_string()),
    ]);
}

pub fn death(deaths: &mut Table, p: &Person, date: NaiveDate, rng: &mut Rng) {
    let formatted = match rng.below(3) {
        0 => date.format("%Y/%-m/%-d").to_string(),
        1 => date.format("%Y-%m-%d").to_string(),
        _ => date.format("%Y年%-m月%-d日").to_string(),
    };
    deaths.push(vec![
        Cell::text(&p.name),
        Cell::text(decorate(rng, &p.id, 0.1)),
        Cell::text(formatted),
        Cell::text(format!("{}公安分局", p.district_name())),
    ]);
}

pub fn requisitioned(requisition: &mut Table, p: &Person, id_text: String, rng: &mut Rng) {
    requisition.push(vec![
        Cell::text(&p.name),
        Cell::text(id_text),
        Cell::text(format!(
            "{}年第{}批次",
            2008 + rng.below(12),
            1 + rng.below(5)
        )),
        Cell::text(
            d(
                2008 + rng.below(12) as i32,
                1 + rng.below(12) as u32,
                1 + rng.below(28) as u32,
            )
            .format("%Y-%m-%d")
            .to_string(),
        ),
    ]);
}

/// A dibao household; returns its monthly benefit (whole yuan) and its enrolment date.
pub fn household(dibao: &mut Table, p: &Person, id: Cell, rng: &mut Rng) -> (i64, NaiveDate) {
    let size = Cell::Num(1.0 + rng.below(5) as f64);
    let benefit = 400 + rng.below(400) as i64;
    let street = Cell::text(format!(
        "{}{}街道",
        p.district_name(),
        ["东", "西", "南", "北", "中"][rng.below(5) as usize]
    ));
    let enrolled = d(
        2015 + rng.below(10) as i32,
        1 + rng.below(12) as u32,
        1 + rng.below(28) as u32,
    );
    dibao.push(vec![
        Cell::text(&p.name),
        id,
        size,
        Cell::Num(benefit as f64),
        street,
        Cell::Date(enrolled),
    ]);
    (benefit, enrolled)
}

/// A property record; returns its registration date.
pub fn home(
    property: &mut Table,
    p: &Person,
    id_text: String,
    area: f64,
    rng: &mut Rng,
) -> NaiveDate {
    let unit = Cell::text(format!(
        "320100{:06}GB{:05}F{:08}",
        rng.below(1_000_000),
        rng.below(100_000),
        rng.below(100_000_000)
    ));
    let address = Cell::text(format!(
        "{}{}路{}号{}室",
        p.district_name(),
        ["和平", "建设", "人民", "解放", "中山", "长江"][rng.below(6) as usize],
        1 + rng.below(300),
        101 + rng.below(1500)
    ));
    let registered = d(
        1998 + rng.below(26) as i32,
        1 + rng.below(12) as u32,
        1 + rng.below(28) as u32,
    );
    property.push(vec![
        Cell::text(&p.name),
        Cell::text(id_text),
        unit,
        address,
        Cell::text(format!("{area:.2}")),
        Cell::text(registered.format("%Y年%-m月%-d日").to_string()),
    ]);
    registered
}

/// The months of 2025 a salary is paid for.
pub const SALARY_MONTHS: [u32; 3] = [4, 5, 6];

pub fn salary(payroll: &mut Table, p: &Person, rng: &mut Rng) {
    let unit = UNITS[rng.below(UNITS.len() as u64) as usize];
    let wage = 5200.0 + rng.below(600_000) as f64 / 100.0;
    for m in SALARY_MONTHS {
        payroll.push(vec![
            Cell::text(&p.name),
            Cell::text(decorate(rng, &p.id, 0.05)),
            Cell::text(unit),
            Cell::Num(wage),
            Cell::text(format!("2025-{m:02}")),
        ]);
    }
}

/// A vehicle record; returns its first registration date.
pub fn car(
    seq: &mut u32,
    vehicles: &mut Table,
    p: &Person,
    kind: &str,
    price: f64,
    rng: &mut Rng,
) -> NaiveDate {
    *seq += 1;
    let letters = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"];
    let plate = format!("苏A{}{:04}", letters[rng.below(10) as usize], seq);
    let plate = if rng.below(5) == 0 {
        format!(" {} ", plate.to_lowercase())
    } else {
        plate
    };
    let id = Cell::text(decorate(rng, &p.id, 0.05));
    let price = Cell::text(money_text(rng, price));
    let registered = d(
        2012 + rng.below(13) as i32,
        1 + rng.below(12) as u32,
        1 + rng.below(28) as u32,
    );
    vehicles.push(vec![
        Cell::text(&p.name),
        id,
        Cell::text(plate),
        Cell::text(kind),
        price,
        Cell::text(registered.format("%Y/%-m/%-d").to_string()),
    ]);
    registered
}
