//! The sample city: a deterministic, seeded generator of realistic extracts — Chinese headers
//! that drift between files, GBK / GB18030 / UTF-8-BOM CSV, xlsx and Parquet, IDs as clerks
//! export them — with planted anomalies, benign near-misses each rule must not flag, and a
//! ground-truth file of the leads every bundled rule must find. `scale` multiplies the
//! background population (the planted cases stay the same), for benchmarks.

mod error;
mod grain;
mod packs;
mod people;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

pub use error::{Error, Result};
use people::{Person, Pool, Rng, decorate, legacy15};
use write::{Cell, Table};

/// What each bundled rule must find, and which rows the loader must reject.
#[derive(Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct GroundTruth {
    /// rule id → sorted lead keys.
    pub leads: BTreeMap<String, Vec<String>>,
    /// dataset → (file, row) of every row the loader must reject.
    pub rejected: BTreeMap<String, Vec<(String, u64)>>,
    /// dataset → data rows written.
    pub rows: BTreeMap<String, u64>,
}

impl GroundTruth {
    fn lead(&mut self, rule: &str, key: impl Into<String>) {
        self.leads
            .entry(rule.to_string())
            .or_default()
            .push(key.into());
    }
}

const PENSION_SCHEMES: [&str; 2] = ["城镇职工基本养老保险", "城乡居民基本养老保险"];
const LAND_LOST: &str = "被征地农民养老保障";
const ACTIVE: [&str; 2] = ["正常领取", "参保缴费"];
const MONTHS: [u32; 6] = [1, 2, 3, 4, 5, 6];

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
    let mut pool = Pool::new(&mut rng, 4000 * scale + 400);
    let mut truth = GroundTruth::default();
    // Retirees paid before 2025: their rows are written month by month at the end, never
    // held (a billion-row table does not fit in memory).
    let mut history_payees: Vec<(String, String, String, f64)> = Vec::new();
    // Round 2 on: (person, death month) whose payments after the death month are reversed.
    let mut reversed: Vec<(String, u32)> = Vec::new();

    let mut pension = Table::new(
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
    let mut payments = Table::new(
        "pension_payments",
        &["身份证号码", "姓名", "发放年月", "发放金额", "银行账号"],
    );
    let mut deaths = Table::new(
        "death_register",
        &["姓名", "公民身份号码", "死亡日期", "登记机关"],
    );
    let mut dibao = Table::new(
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
    let mut property = Table::new(
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
    let mut vehicles = Table::new(
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
    let mut payroll = Table::new(
        "public_payroll",
        &["姓名", "身份证号码", "工作单位", "应发工资", "发放年月"],
    );
    let mut requisition = Table::new(
        "land_requisition",
        &["被征地人姓名", "被征地人身份证号", "征地批次", "安置日期"],
    );

    let mut account_seq = 0u64;
    let mut new_account = |rng: &mut Rng| {
        account_seq += 1;
        format!("6217{:06}{:09}", 320_100 + rng.below(90), account_seq)
    };

    // --- Pension enrolment and payments -------------------------------------------------
    let pay = |payments: &mut Table,
               p: &Person,
               months: &[u32],
               account: &str,
               amount: f64,
               rng: &mut Rng| {
        for m in months {
            payments.push(vec![
                Cell::text(decorate(rng, &p.id, 0.03)),
                Cell::text(&p.name),
                Cell::text(format!("2025{m:02}")),
                Cell::Num(amount),
                Cell::text(account),
            ]);
        }
    };
    let enrol = |pension: &mut Table,
                 p: &Person,
                 id_text: String,
                 scheme: &str,
                 status: &str,
                 amount: Option<f64>,
                 rng: &mut Rng| {
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
    };

    // Background: enrolled people; retirees receive a pension every month.
    for _ in 0..1400 * scale {
        let p = pool.next();
        let scheme = PENSION_SCHEMES[rng.below(2) as usize];
        if p.age_in_2025() >= 60 {
            let amount = 1200.0 + rng.below(300_000) as f64 / 100.0;
            let id_text = decorate(&mut rng, &p.id, 0.08);
            enrol(
                &mut pension,
                &p,
                id_text,
                scheme,
                "正常领取",
                Some(amount),
                &mut rng,
            );
            let account = new_account(&mut rng);
            pay(&mut payments, &p, &MONTHS, &account, amount, &mut rng);
            if history > 0 {
                history_payees.push((p.id.clone(), p.name.clone(), account.clone(), amount));
            }
        } else {
            let status = if rng.below(10) == 0 {
                "暂停"
            } else {
                "参保缴费"
            };
            let id_text = decorate(&mut rng, &p.id, 0.08);
            enrol(&mut pension, &p, id_text, scheme, status, None, &mut rng);
        }
    }

    // Planted: a second active enrolment, the ID spelled differently in the second record.
    for variant in 0..6 {
        let p = pool.next_retiree();
        let amount = 1800.0 + rng.below(100_000) as f64 / 100.0;
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(amount),
            &mut rng,
        );
        let spelled = match variant {
            0 => people::fullwidth(&p.id),
            1 => format!(" {}\t", p.id),
            2 => format!("'{}", p.id),
            3 => legacy15(&p.id).unwrap_or_else(|| p.id.clone()),
            4 => p.id.to_lowercase(),
            _ => p.id.clone(),
        };
        let status = ACTIVE[variant % 2];
        let other = Person {
            district: (p.district + 1) % people::DISTRICTS.len(),
            ..p.clone()
        };
        enrol(
            &mut pension,
            &other,
            spelled,
            PENSION_SCHEMES[1],
            status,
            Some(amount / 2.0),
            &mut rng,
        );
        let account = new_account(&mut rng);
        pay(&mut payments, &p, &MONTHS, &account, amount, &mut rng);
        truth.lead("pension_duplicate_active", p.id.clone());
    }
    // Near-miss: the second enrolment was terminated.
    for _ in 0..4 {
        let p = pool.next_retiree();
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[1],
            "终止",
            None,
            &mut rng,
        );
        let id_text = decorate(&mut rng, &p.id, 0.5);
        enrol(
            &mut pension,
            &p,
            id_text,
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2100.0),
            &mut rng,
        );
        let account = new_account(&mut rng);
        pay(&mut payments, &p, &MONTHS, &account, 2100.0, &mut rng);
    }

    // Deaths of pensioners: stopped properly (before the death month), planted (paid months
    // after the death month), near-miss (paid for the death month itself).
    let death = |deaths: &mut Table, p: &Person, date: NaiveDate, rng: &mut Rng| {
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
    };
    for kind in 0..(12 + 2 * scale) {
        let p = pool.next_retiree();
        let amount = 2000.0 + rng.below(50_000) as f64 / 100.0;
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(amount),
            &mut rng,
        );
        let death_month = 2 + rng.below(4) as u32; // March .. May 2025 (months 2..5)
        let paid_until = match kind {
            // Put right from round 2 on: the payments after the death month are reversed.
            0..=1 if round >= 2 => {
                let until = (death_month + 1 + rng.below(2) as u32).min(6);
                reversed.push((p.id.clone(), death_month));
                until
            }
            0..=4 => {
                truth.lead("pension_paid_after_death", p.id.clone());
                (death_month + 1 + rng.below(2) as u32).min(6)
            }
            5..=7 => death_month,
            _ => death_month - 1,
        };
        let months: Vec<u32> = MONTHS
            .iter()
            .copied()
            .filter(|m| *m <= paid_until)
            .collect();
        let account = new_account(&mut rng);
        pay(&mut payments, &p, &months, &account, amount, &mut rng);
        death(
            &mut deaths,
            &p,
            d(2025, death_month, 1 + rng.below(28) as u32),
            &mut rng,
        );
    }

    // Planted: one bank account receiving three people's pensions; near-miss: a couple.
    let shared = new_account(&mut rng);
    let couple = new_account(&mut rng);
    for (account, n) in [(&shared, 3), (&couple, 2)] {
        for _ in 0..n {
            let p = pool.next_retiree();
            enrol(
                &mut pension,
                &p,
                p.id.clone(),
                PENSION_SCHEMES[1],
                "正常领取",
                Some(1500.0),
                &mut rng,
            );
            pay(&mut payments, &p, &MONTHS, account, 1500.0, &mut rng);
        }
    }
    truth.lead("pension_shared_bank_account", shared.clone());

    // Land-lost farmers: enrolled under the land-lost scheme, each on a requisition list —
    // except the planted ones. Some lists carry the 15-digit ID (same person: near-miss).
    let requisitioned = |requisition: &mut Table, p: &Person, id_text: String, rng: &mut Rng| {
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
    };
    for i in 0..(60 * scale + 3) {
        let p = pool.next_born_1900s();
        let id_text = decorate(&mut rng, &p.id, 0.1);
        enrol(
            &mut pension,
            &p,
            id_text,
            LAND_LOST,
            "参保缴费",
            None,
            &mut rng,
        );
        if i < 3 {
            truth.lead("land_lost_farmer_without_requisition", p.id.clone());
        } else if i < 8 {
            requisitioned(
                &mut requisition,
                &p,
                legacy15(&p.id).expect("born in the 1900s"),
                &mut rng,
            );
        } else {
            requisitioned(
                &mut requisition,
                &p,
                decorate(&mut rng, &p.id, 0.1),
                &mut rng,
            );
        }
    }
    // People on requisition lists who have not enrolled (not a lead for this rule).
    for _ in 0..20 * scale {
        let p = pool.next();
        requisitioned(&mut requisition, &p, p.id.clone(), &mut rng);
    }

    // ID quality: wrong check characters and impossible birth dates, written as is.
    for _ in 0..3 {
        let p = pool.next();
        let bad = people::wrong_check(&p.id);
        enrol(
            &mut pension,
            &p,
            bad.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            &mut rng,
        );
        truth.lead("id_check_character_wrong", bad);
    }
    for _ in 0..2 {
        let p = pool.next();
        let bad = people::impossible_birth(&p.id);
        enrol(
            &mut pension,
            &p,
            bad.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            &mut rng,
        );
        truth.lead("id_birth_date_impossible", bad);
    }
    // Other damage: reported as data quality, not by these two rules.
    let p = pool.next();
    enrol(
        &mut pension,
        &p,
        format!("{:.5E}", p.id.parse::<f64>().expect("digits")).replace('E', "E+"),
        PENSION_SCHEMES[1],
        "参保缴费",
        None,
        &mut rng,
    );
    let p = pool.next();
    enrol(
        &mut pension,
        &p,
        p.id[..17].to_string(),
        PENSION_SCHEMES[1],
        "参保缴费",
        None,
        &mut rng,
    );

    // The same person under two ID numbers: a typo in the sequence (check character left
    // wrong), and a changed digit with a recomputed check character (both IDs valid).
    // Near-miss: two different people with the same name and birth date.
    for variant in 0..3 {
        let p = pool.next_retiree();
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2300.0),
            &mut rng,
        );
        let other = match variant {
            0 | 1 => people::typo_in_sequence(&p.id, variant),
            _ => people::typo_recomputed(&p.id),
        };
        enrol(
            &mut pension,
            &p,
            other.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            &mut rng,
        );
        let account = new_account(&mut rng);
        pay(&mut payments, &p, &MONTHS, &account, 2300.0, &mut rng);
        let (a, b) = if p.id < other {
            (&p.id, &other)
        } else {
            (&other, &p.id)
        };
        truth.lead("pension_same_person_two_ids", format!("{a}~{b}"));
        if !people::check_fits(&other) {
            truth.lead("id_check_character_wrong", other.clone());
        }
    }
    for _ in 0..2 {
        let p = pool.next();
        let namesake = pool.next_where(|q| q.birth == p.birth && q.district != p.district);
        let namesake = Person {
            name: p.name.clone(),
            ..namesake
        };
        for q in [&p, &namesake] {
            enrol(
                &mut pension,
                q,
                q.id.clone(),
                PENSION_SCHEMES[1],
                "参保缴费",
                None,
                &mut rng,
            );
        }
    }

    // Rows the loader must reject: a ragged row and an amount that is not a number.
    let p = pool.next_retiree();
    pension.push(vec![
        Cell::text(&p.name),
        Cell::text(&p.id),
        Cell::text(PENSION_SCHEMES[0]),
        Cell::text(p.district_name()),
        Cell::text("正常领取"),
        Cell::text("2,100.00"),
    ]);
    truth
        .rejected
        .entry("pension_enrolment".into())
        .or_default()
        .push(("pension_enrolment.csv".into(), pension.len() as u64 + 1));
    let p = pool.next_retiree();
    enrol(
        &mut pension,
        &p,
        p.id.clone(),
        PENSION_SCHEMES[0],
        "正常领取",
        None,
        &mut rng,
    );
    pension.last_mut()[5] = Cell::text("待核定");
    truth
        .rejected
        .entry("pension_enrolment".into())
        .or_default()
        .push(("pension_enrolment.csv".into(), pension.len() as u64 + 1));

    // --- Dibao roll and what it is checked against -----------------------------------------
    let household = |dibao: &mut Table, p: &Person, id: Cell, rng: &mut Rng| {
        dibao.push(vec![
            Cell::text(&p.name),
            id,
            Cell::Num(1.0 + rng.below(5) as f64),
            Cell::Num(400.0 + rng.below(400) as f64),
            Cell::text(format!(
                "{}{}街道",
                p.district_name(),
                ["东", "西", "南", "北", "中"][rng.below(5) as usize]
            )),
            Cell::Date(d(
                2015 + rng.below(10) as i32,
                1 + rng.below(12) as u32,
                1 + rng.below(28) as u32,
            )),
        ]);
    };
    let home = |property: &mut Table, p: &Person, id_text: String, area: f64, rng: &mut Rng| {
        property.push(vec![
            Cell::text(&p.name),
            Cell::text(id_text),
            Cell::text(format!(
                "320100{:06}GB{:05}F{:08}",
                rng.below(1_000_000),
                rng.below(100_000),
                rng.below(100_000_000)
            )),
            Cell::text(format!(
                "{}{}路{}号{}室",
                p.district_name(),
                ["和平", "建设", "人民", "解放", "中山", "长江"][rng.below(6) as usize],
                1 + rng.below(300),
                101 + rng.below(1500)
            )),
            Cell::text(format!("{area:.2}")),
            Cell::text(
                d(
                    1998 + rng.below(26) as i32,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                )
                .format("%Y年%-m月%-d日")
                .to_string(),
            ),
        ]);
    };
    let mut plate_seq = 0u32;
    let mut car = |vehicles: &mut Table, p: &Person, kind: &str, price: f64, rng: &mut Rng| {
        plate_seq += 1;
        let letters = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"];
        let plate = format!("苏A{}{:04}", letters[rng.below(10) as usize], plate_seq);
        let plate = if rng.below(5) == 0 {
            format!(" {} ", plate.to_lowercase())
        } else {
            plate
        };
        vehicles.push(vec![
            Cell::text(&p.name),
            Cell::text(decorate(rng, &p.id, 0.05)),
            Cell::text(plate),
            Cell::text(kind),
            Cell::text(money_text(rng, price)),
            Cell::text(
                d(
                    2012 + rng.below(13) as i32,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                )
                .format("%Y/%-m/%-d")
                .to_string(),
            ),
        ]);
    };
    let units = [
        "市民政局",
        "市财政局",
        "区教育局",
        "区卫生健康委",
        "街道办事处",
        "市自然资源局",
        "区人民法院",
    ];
    let salary = |payroll: &mut Table, p: &Person, rng: &mut Rng| {
        let unit = units[rng.below(units.len() as u64) as usize];
        let wage = 5200.0 + rng.below(600_000) as f64 / 100.0;
        for m in [4u32, 5, 6] {
            payroll.push(vec![
                Cell::text(&p.name),
                Cell::text(decorate(rng, &p.id, 0.05)),
                Cell::text(unit),
                Cell::Num(wage),
                Cell::text(format!("2025-{m:02}")),
            ]);
        }
    };

    for _ in 0..120 * scale {
        let p = pool.next();
        let id_text = decorate(&mut rng, &p.id, 0.1);
        household(&mut dibao, &p, Cell::text(id_text), &mut rng);
    }
    // Planted dibao leads.
    for _ in 0..3 {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        death(
            &mut deaths,
            &p,
            d(2025, 1 + rng.below(5) as u32, 1 + rng.below(28) as u32),
            &mut rng,
        );
        truth.lead("dibao_recipient_deceased", p.id.clone());
    }
    for i in 0..4 {
        let p = if i == 0 {
            pool.next_born_1900s()
        } else {
            pool.next()
        };
        let id_text = decorate(&mut rng, &p.id, 0.3);
        household(&mut dibao, &p, Cell::text(id_text), &mut rng);
        for j in 0..(2 + i % 2) {
            // One owner's older record carries the 15-digit ID.
            let id_text = if i == 0 && j == 1 {
                legacy15(&p.id).expect("born in the 1900s")
            } else {
                p.id.clone()
            };
            home(
                &mut property,
                &p,
                id_text,
                60.0 + rng.below(8000) as f64 / 100.0,
                &mut rng,
            );
        }
        truth.lead("dibao_multiple_properties", p.id.clone());
    }
    for (i, kind) in ["小型轿车", "小型普通客车", "小型轿车"]
        .into_iter()
        .enumerate()
    {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        // Sold in round 2 (the row goes to a scratch table so the rest of the city is the
        // same), bought back in round 3.
        let sold = i == 0 && round == 2;
        let mut scratch = Table::new("sold", &[]);
        let target = if sold { &mut scratch } else { &mut vehicles };
        car(
            target,
            &p,
            kind,
            80_000.0 + rng.below(200_000) as f64,
            &mut rng,
        );
        if !sold {
            truth.lead("dibao_owns_car", p.id.clone());
        }
    }
    for _ in 0..3 {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        salary(&mut payroll, &p, &mut rng);
        truth.lead("dibao_on_public_payroll", p.id.clone());
    }
    // Near-misses: one modest home; an electric tricycle; a motorbike; a cheap old car; a
    // namesake (same name, another ID) in the death register.
    for _ in 0..5 {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        home(
            &mut property,
            &p,
            p.id.clone(),
            45.0 + rng.below(2000) as f64 / 100.0,
            &mut rng,
        );
    }
    for (kind, price) in [
        ("电动三轮车", 6_800.0),
        ("电动三轮车", 9_500.0),
        ("二轮摩托车", 7_200.0),
        ("小型轿车", 28_000.0),
    ] {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        car(&mut vehicles, &p, kind, price, &mut rng);
    }
    {
        let p = pool.next();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        let namesake = Person {
            name: p.name.clone(),
            ..pool.next()
        };
        death(&mut deaths, &namesake, d(2025, 2, 14), &mut rng);
    }
    // Dibao ID quality: a wrong check character, an impossible birth date, and an ID the
    // spreadsheet stored as a number (digits lost: a data-quality finding).
    let p = pool.next();
    let bad = people::wrong_check(&p.id);
    household(&mut dibao, &p, Cell::text(&bad), &mut rng);
    truth.lead("id_check_character_wrong", bad);
    let p = pool.next();
    let bad = people::impossible_birth(&p.id);
    household(&mut dibao, &p, Cell::text(&bad), &mut rng);
    truth.lead("id_birth_date_impossible", bad);
    let p = pool.next();
    household(
        &mut dibao,
        &p,
        Cell::Num(p.id[..17].parse::<f64>().expect("digits") * 10.0),
        &mut rng,
    );

    // Background owners, vehicles, civil servants and deaths: nobody on the dibao roll.
    for _ in 0..300 * scale {
        let p = pool.next();
        for _ in 0..1 + rng.below(3) {
            let id_text = match legacy15(&p.id) {
                Some(l) if rng.below(10) == 0 => l,
                _ => decorate(&mut rng, &p.id, 0.05),
            };
            home(
                &mut property,
                &p,
                id_text,
                50.0 + rng.below(15_000) as f64 / 100.0,
                &mut rng,
            );
        }
    }
    for _ in 0..250 * scale {
        let p = pool.next();
        let kinds = [
            "小型轿车",
            "小型普通客车",
            "轻型货车",
            "电动三轮车",
            "二轮摩托车",
        ];
        let kind = kinds[rng.below(5) as usize];
        car(
            &mut vehicles,
            &p,
            kind,
            5_000.0 + rng.below(300_000) as f64,
            &mut rng,
        );
    }
    for _ in 0..180 * scale {
        let p = pool.next();
        salary(&mut payroll, &p, &mut rng);
    }
    for _ in 0..30 * scale {
        let p = pool.next();
        death(
            &mut deaths,
            &p,
            d(2025, 1 + rng.below(6) as u32, 1 + rng.below(28) as u32),
            &mut rng,
        );
    }

    let mut g = grain::generate(&mut rng, &mut pool, scale, &mut truth);

    // Identities the standard allows and a careless normaliser loses: valid IDs ending in 000
    // (sequence x00, check character 0), and 15-digit IDs with sequences 996-999 whose owners
    // are 19xx in every other register. Each must match its other records.
    {
        let p = pool.next_ending_000(|p| p.age_in_2025() >= 62);
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2345.6),
            &mut rng,
        );
        let account = new_account(&mut rng);
        pay(
            &mut payments,
            &p,
            &[1, 2, 3, 4, 5],
            &account,
            2345.6,
            &mut rng,
        );
        death(&mut deaths, &p, d(2025, 3, 9), &mut rng);
        truth.lead("pension_paid_after_death", p.id.clone());

        let p = pool.next_ending_000(|_| true);
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        death(&mut deaths, &p, d(2025, 4, 2), &mut rng);
        truth.lead("dibao_recipient_deceased", p.id.clone());

        let p = pool.next_ending_000(|_| true);
        household(
            &mut dibao,
            &p,
            Cell::text(people::fullwidth(&p.id)),
            &mut rng,
        );
        salary(&mut payroll, &p, &mut rng);
        truth.lead("dibao_on_public_payroll", p.id.clone());

        // Near-miss: a farmer with a contract for all the land claimed.
        let p = pool.next_ending_000(|_| true);
        g.contracts.push(vec![
            Cell::text(&p.name),
            Cell::text(&p.id),
            Cell::text("3201159000000001"),
            Cell::text("东地块"),
            Cell::Num(3.5),
        ]);
        g.subsidy.push(vec![
            Cell::text("东湖村一组"),
            Cell::text(&p.name),
            Cell::text(&p.id),
            Cell::text("3.5"),
            Cell::text("108.5"),
            Cell::text("379.75"),
        ]);

        // Digits lost to a number format: 000 with a check character that does not fit. Paid
        // after death under that text, it is a data-quality finding, never silently matched.
        let (p, damaged) = loop {
            let p = pool.next_retiree();
            let damaged = format!("{}000", &p.id[..15]);
            if people::check_character(&damaged.as_bytes()[..17]) != '0' {
                break (p, damaged);
            }
        };
        enrol(
            &mut pension,
            &p,
            damaged.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(1999.0),
            &mut rng,
        );
        for m in [1u32, 2, 3, 4] {
            payments.push(vec![
                Cell::text(&damaged),
                Cell::text(&p.name),
                Cell::text(format!("2025{m:02}")),
                Cell::Num(1999.0),
                Cell::text("6217320199000000001"),
            ]);
        }
        deaths.push(vec![
            Cell::text(&p.name),
            Cell::text(&damaged),
            Cell::text("2025-02-11"),
            Cell::text(format!("{}公安分局", p.district_name())),
        ]);

        // Sequences 996-999: the land-lost farmer's requisition record and one dibao owner's
        // older deed carry the 15-digit ID.
        let p = pool.next_sequence_996_to_999();
        enrol(
            &mut pension,
            &p,
            p.id.clone(),
            LAND_LOST,
            "参保缴费",
            None,
            &mut rng,
        );
        requisitioned(
            &mut requisition,
            &p,
            people::fifteen_digits(&p.id),
            &mut rng,
        );
        let p = pool.next_sequence_996_to_999();
        household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
        home(&mut property, &p, p.id.clone(), 88.4, &mut rng);
        home(
            &mut property,
            &p,
            people::fifteen_digits(&p.id),
            63.2,
            &mut rng,
        );
        truth.lead("dibao_multiple_properties", p.id.clone());

        // On the car price threshold (at or above 50,000): exactly 50,000.00 (a lead), and
        // 49,999.99 (not).
        for (price, plate, lead) in [
            ("50,000.00", "苏AZ9001", true),
            ("49999.99", "苏AZ9002", false),
        ] {
            let p = pool.next();
            household(&mut dibao, &p, Cell::text(&p.id), &mut rng);
            vehicles.push(vec![
                Cell::text(&p.name),
                Cell::text(&p.id),
                Cell::text(plate),
                Cell::text("小型轿车"),
                Cell::text(price),
                Cell::text("2021/5/6"),
            ]);
            if lead {
                truth.lead("dibao_owns_car", p.id.clone());
            }
        }
    }

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
            household(&mut dibao, &p, Cell::text(&p.id), &mut later);
            salary(&mut payroll, &p, &mut later);
            truth.lead("dibao_on_public_payroll", p.id.clone());
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
        "{rows} rows in {} datasets, {} planted leads",
        truth.rows.len(),
        truth.leads.values().map(Vec::len).sum::<usize>()
    ))
}

/// The catalog written beside the sample city.
pub const CATALOG: &str = include_str!("datasets.yaml");
