//! The sample city's extracts for the debt, development-zone, business-environment and
//! public-funds packs. Drawn from their own random stream, after everything else, so the
//! pension, dibao, land and grain extracts stay the same row for row. Planted leads go to the
//! ground truth; each pack also plants near-misses its rules must not flag.

use chrono::{Duration, NaiveDate};

use super::GroundTruth;
use super::people::{Pool, Rng};
use super::write::{Cell, Table};

/// How a table is written: the encodings and formats real extracts arrive in.
pub enum Format {
    Csv(&'static encoding_rs::Encoding, bool),
    Xlsx(&'static str),
    Parquet,
}

pub struct Extract {
    pub file: &'static str,
    pub format: Format,
    pub table: Table,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid generator date")
}

fn ymd(x: NaiveDate) -> Cell {
    Cell::text(x.format("%Y-%m-%d").to_string())
}

fn money(v: f64) -> Cell {
    Cell::text(format!("{v:.2}"))
}

/// A unified social credit code (统一社会信用代码) of the sample city's enterprises.
fn uscc(n: u64) -> String {
    const CHECK: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    format!("91320115MA{n:07X}{}", CHECK[(n % 31) as usize] as char)
}

/// The PRC working-day calendar crosscheck ships (`src/calendar/prc.csv`): weekends off, its
/// holidays off, its make-up days on.
fn is_workday(day: NaiveDate) -> bool {
    use chrono::Datelike;
    const CALENDAR: &str = include_str!("../../src/calendar/prc.csv");
    let date = day.format("%Y-%m-%d").to_string();
    let listed = CALENDAR
        .lines()
        .find(|l| l.starts_with(&date))
        .and_then(|l| l.split(',').nth(1));
    match listed {
        Some(kind) => kind == "workday",
        None => !matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun),
    }
}

/// The day `n` working days after `from` on the shipped calendar.
fn add_working_days(from: NaiveDate, n: i64) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if is_workday(day) {
            left -= 1;
        }
    }
    day
}

pub fn generate(seed: u64, scale: usize, truth: &mut GroundTruth) -> Vec<Extract> {
    let mut rng = Rng::new(seed ^ 0x5041_434B);
    let mut out = Vec::new();
    debt(&mut rng, scale, truth, &mut out);
    zones(&mut rng, scale, truth, &mut out);
    business(&mut rng, scale, truth, &mut out);
    let mut pool = Pool::new(&mut rng, 1000 * scale);
    funds(&mut rng, &mut pool, scale, truth, &mut out);
    out
}

// --- Local-government debt ---------------------------------------------------------------

const BORROWERS: [&str; 6] = [
    "江宁城市建设投资集团有限公司",
    "江宁交通产业集团有限公司",
    "滨江开发区投资发展有限公司",
    "秣陵新城建设有限公司",
    "汤山文旅产业发展有限公司",
    "禄口空港建设发展有限公司",
];
const BANKS: [&str; 6] = [
    "工商银行江宁支行",
    "农业银行江宁支行",
    "建设银行江宁支行",
    "江苏银行江宁支行",
    "南京银行江宁支行",
    "兴业银行南京分行",
];
const INTERMEDIARIES: [&str; 4] = [
    "江苏金陵资产评估事务所有限公司",
    "南京正衡会计师事务所有限公司",
    "江苏天衡律师事务所",
    "南京融信融资担保有限公司",
];

fn debt(rng: &mut Rng, scale: usize, truth: &mut GroundTruth, out: &mut Vec<Extract>) {
    let mut contracts = Table::new(
        "financing_contracts",
        &[
            "合同编号",
            "融资主体",
            "贷款机构",
            "融资金额（万元）",
            "年利率（%）",
            "期限（月）",
            "起息日",
            "抵押资产编号",
        ],
    );
    let mut fees = Table::new(
        "financing_fees",
        &[
            "费用流水号",
            "合同编号",
            "费用类型",
            "收款单位",
            "收款单位类型",
            "支付日期",
            "金额（万元）",
        ],
    );
    let mut assets = Table::new(
        "asset_register",
        &[
            "资产编号",
            "资产名称",
            "权属单位",
            "评估价值（万元）",
            "评估基准日",
        ],
    );
    let mut registry = Table::new(
        "intermediary_register",
        &["机构名称", "统一社会信用代码", "备案日期"],
    );
    for (i, name) in INTERMEDIARIES.iter().enumerate() {
        registry.push(vec![
            Cell::text(*name),
            Cell::text(uscc(9000 + i as u64)),
            Cell::Date(d(2019, 3 + i as u32, 10)),
        ]);
    }
    let mut fee_seq = 0;
    let mut fee = |fees: &mut Table,
                   contract: &str,
                   kind: &str,
                   payee: &str,
                   payee_kind: &str,
                   on: NaiveDate,
                   amount: f64| {
        fee_seq += 1;
        let id = format!("FY2025{fee_seq:05}");
        fees.push(vec![
            Cell::text(&id),
            Cell::text(contract),
            Cell::text(kind),
            Cell::text(payee),
            Cell::text(payee_kind),
            ymd(on),
            Cell::text(format!("{amount:.2}")),
        ]);
        id
    };
    let mut asset_seq = 0;
    let mut asset = |assets: &mut Table, owner: &str, value: f64| {
        asset_seq += 1;
        let id = format!("ZC{asset_seq:05}");
        assets.push(vec![
            Cell::text(&id),
            Cell::text(format!(
                "{}地块国有土地使用权",
                ["秣陵", "东山", "淳化", "汤山", "禄口"][asset_seq % 5]
            )),
            Cell::text(owner),
            Cell::Num(value),
            Cell::Date(d(2023, 12, 31)),
        ]);
        id
    };
    let mut contract_seq = 0;
    // A contract: returns its number. `pledge`: an asset ID, or none.
    let mut contract = |contracts: &mut Table,
                        rng: &mut Rng,
                        principal: f64,
                        rate: f64,
                        months: u32,
                        pledge: Option<&str>| {
        contract_seq += 1;
        let no = format!("RZ2024-{contract_seq:04}");
        contracts.push(vec![
            Cell::text(&no),
            Cell::text(BORROWERS[rng.below(6) as usize]),
            Cell::text(BANKS[rng.below(6) as usize]),
            Cell::Num(principal),
            Cell::Num(rate),
            Cell::Num(months as f64),
            Cell::Date(d(2024, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)),
            Cell::text(pledge.unwrap_or("")),
        ]);
        no
    };
    let paid = |rng: &mut Rng| d(2024, 2 + rng.below(10) as u32, 1 + rng.below(28) as u32);

    // Background: all-in cost below the cap (rate ≤ 6.5 %, fees ≤ 0.65 % a year), fees of
    // at most three types to banks, registered intermediaries and a guarantor, each asset
    // pledged once within its value.
    for _ in 0..40 * scale {
        let principal = (5_000 + rng.below(450) * 100) as f64;
        let rate = (380 + rng.below(271)) as f64 / 100.0;
        let months = [24, 36, 60, 120][rng.below(4) as usize];
        let pledge = if rng.below(10) < 7 {
            Some(asset(
                &mut assets,
                BORROWERS[rng.below(6) as usize],
                principal * (1.5 + rng.below(100) as f64 / 100.0),
            ))
        } else {
            None
        };
        let no = contract(
            &mut contracts,
            rng,
            principal,
            rate,
            months,
            pledge.as_deref(),
        );
        if rng.below(2) == 0 {
            let bank = BANKS[rng.below(6) as usize];
            let share = (10 + rng.below(20)) as f64 / 10_000.0;
            fee(
                &mut fees,
                &no,
                "银团安排费",
                bank,
                "银行",
                paid(rng),
                principal * share,
            );
        }
        if rng.below(3) == 0 {
            let who = INTERMEDIARIES[rng.below(3) as usize];
            fee(
                &mut fees,
                &no,
                "中介服务费",
                who,
                "中介机构",
                paid(rng),
                5.0 + rng.below(40) as f64,
            );
        }
        if rng.below(3) == 0 {
            let share = (50 + rng.below(50)) as f64 / 10_000.0;
            fee(
                &mut fees,
                &no,
                "担保费",
                INTERMEDIARIES[3],
                "担保公司",
                paid(rng),
                principal * share,
            );
        }
    }
    // All-in cost above 8 %: 5.9 % interest plus a guarantee fee of 9-12 % of the principal
    // over three years.
    for i in 0..3 {
        let no = contract(&mut contracts, rng, 10_000.0, 5.9, 36, None);
        fee(
            &mut fees,
            &no,
            "担保费",
            INTERMEDIARIES[3],
            "担保公司",
            paid(rng),
            900.0 + 100.0 * i as f64,
        );
        truth.lead("debt_all_in_cost_above_cap", no);
    }
    // Near-misses: 6.8 % + 3 % over three years = 7.8 %; 5.5 % + 10 % over ten years = 6.5 %.
    let no = contract(&mut contracts, rng, 10_000.0, 6.8, 36, None);
    fee(
        &mut fees,
        &no,
        "担保费",
        INTERMEDIARIES[3],
        "担保公司",
        paid(rng),
        300.0,
    );
    let no = contract(&mut contracts, rng, 20_000.0, 5.5, 120, None);
    fee(
        &mut fees,
        &no,
        "担保费",
        INTERMEDIARIES[3],
        "担保公司",
        paid(rng),
        2_000.0,
    );

    // Fees to intermediaries not registered, or registered after the fee was paid.
    for name in ["南京鼎盛财务顾问有限公司", "江苏汇通融资服务有限公司"] {
        let no = contract(&mut contracts, rng, 8_000.0, 4.6, 60, None);
        fee(
            &mut fees,
            &no,
            "融资服务费",
            name,
            "中介机构",
            d(2024, 6, 18),
            40.0,
        );
        truth.lead("debt_unregistered_intermediary", name);
    }
    {
        let late = "南京启元咨询服务有限公司";
        registry.push(vec![
            Cell::text(late),
            Cell::text(uscc(9100)),
            Cell::Date(d(2024, 9, 2)),
        ]);
        let no = contract(&mut contracts, rng, 6_000.0, 4.2, 60, None);
        fee(
            &mut fees,
            &no,
            "中介服务费",
            late,
            "中介机构",
            d(2024, 7, 15),
            30.0,
        );
        truth.lead("debt_unregistered_intermediary", late);
        // Near-miss: paid on the day it was registered.
        let same_day = "南京衡信会计师事务所有限公司";
        registry.push(vec![
            Cell::text(same_day),
            Cell::text(uscc(9101)),
            Cell::Date(d(2024, 5, 6)),
        ]);
        let no = contract(&mut contracts, rng, 6_000.0, 4.2, 60, None);
        fee(
            &mut fees,
            &no,
            "中介服务费",
            same_day,
            "中介机构",
            d(2024, 5, 6),
            25.0,
        );
    }

    // One asset pledged for several financings above its appraised value, twice; near-miss:
    // an asset backing two financings within its value.
    for (value, loans) in [
        (30_000.0, [12_000.0, 11_000.0, 10_000.0]),
        (20_000.0, [9_000.0, 8_000.0, 6_000.0]),
    ] {
        let a = asset(&mut assets, BORROWERS[0], value);
        for p in loans {
            contract(&mut contracts, rng, p, 4.5, 60, Some(&a));
        }
        truth.lead("debt_asset_pledged_beyond_value", a);
    }
    let a = asset(&mut assets, BORROWERS[1], 50_000.0);
    for p in [15_000.0, 20_000.0] {
        contract(&mut contracts, rng, p, 4.5, 60, Some(&a));
    }

    // Charges banks may not levy (七不准: fees for no service, fees tied to the loan).
    for kind in ["资金管理费", "财务顾问费", "承诺费"] {
        let no = contract(&mut contracts, rng, 12_000.0, 4.35, 60, None);
        let id = fee(&mut fees, &no, kind, BANKS[2], "银行", d(2024, 4, 9), 36.0);
        truth.lead("debt_prohibited_bank_fee", id);
    }
    // Near-miss: a financial adviser's fee paid to a registered adviser, not to the bank.
    let no = contract(&mut contracts, rng, 12_000.0, 4.35, 60, None);
    fee(
        &mut fees,
        &no,
        "财务顾问费",
        INTERMEDIARIES[1],
        "中介机构",
        d(2024, 4, 9),
        36.0,
    );

    // Contracts loaded with four or five fee types; near-miss: three types, and five fees of
    // two types.
    for kinds in [
        &["银团安排费", "中介服务费", "担保费", "评估费"][..],
        &["银团安排费", "中介服务费", "担保费", "评估费", "律师费"][..],
    ] {
        let no = contract(&mut contracts, rng, 15_000.0, 4.1, 60, None);
        for k in kinds {
            let (payee, payee_kind) = match *k {
                "银团安排费" => (BANKS[0], "银行"),
                "担保费" => (INTERMEDIARIES[3], "担保公司"),
                "律师费" => (INTERMEDIARIES[2], "中介机构"),
                _ => (INTERMEDIARIES[0], "中介机构"),
            };
            fee(&mut fees, &no, k, payee, payee_kind, d(2024, 8, 20), 15.0);
        }
        truth.lead("debt_many_fee_types", no);
    }
    let no = contract(&mut contracts, rng, 15_000.0, 4.1, 60, None);
    for (k, payee, kind) in [
        ("银团安排费", BANKS[0], "银行"),
        ("中介服务费", INTERMEDIARIES[0], "中介机构"),
        ("担保费", INTERMEDIARIES[3], "担保公司"),
    ] {
        fee(&mut fees, &no, k, payee, kind, d(2024, 8, 20), 15.0);
    }
    let no = contract(&mut contracts, rng, 15_000.0, 4.1, 60, None);
    for i in 0..5 {
        let (k, payee, kind) = if i % 2 == 0 {
            ("银团安排费", BANKS[0], "银行")
        } else {
            ("中介服务费", INTERMEDIARIES[0], "中介机构")
        };
        fee(&mut fees, &no, k, payee, kind, d(2024, 8, 20 + i), 5.0);
    }

    out.push(Extract {
        file: "financing_contracts.xlsx",
        format: Format::Xlsx("融资合同台账"),
        table: contracts,
    });
    out.push(Extract {
        file: "financing_fees.csv",
        format: Format::Csv(encoding_rs::GBK, false),
        table: fees,
    });
    out.push(Extract {
        file: "asset_register.csv",
        format: Format::Csv(encoding_rs::UTF_8, true),
        table: assets,
    });
    out.push(Extract {
        file: "intermediary_register.csv",
        format: Format::Csv(encoding_rs::UTF_8, false),
        table: registry,
    });
}

// --- Development-zone projects -----------------------------------------------------------

const PRODUCTS: [&str; 8] = [
    "新能源汽车电机",
    "集成电路封装测试",
    "医疗器械",
    "智能装备",
    "锂电池隔膜",
    "光伏组件",
    "生物医药中间体",
    "工业机器人",
];

struct Project {
    no: String,
    investor: String,
    code: String,
    parcel: String,
    investment: f64,
    mu: f64,
    output: f64,
    tax: f64,
    start: NaiveDate,
    production: NaiveDate,
}

fn zones(rng: &mut Rng, scale: usize, truth: &mut GroundTruth, out: &mut Vec<Extract>) {
    let mut projects = Table::new(
        "zone_projects",
        &[
            "项目编号",
            "项目名称",
            "投资方",
            "统一社会信用代码",
            "宗地编号",
            "协议投资额（万元）",
            "用地面积（亩）",
            "承诺年产值（万元）",
            "承诺年税收（万元）",
            "约定开工日期",
            "约定投产日期",
        ],
    );
    let mut investment = Table::new(
        "zone_investment",
        &["项目编号", "统计年月", "本期完成投资（万元）"],
    );
    let mut production = Table::new(
        "zone_production",
        &["项目编号", "生产状态", "年产值（万元）", "填报日期"],
    );
    let mut tax = Table::new(
        "zone_tax",
        &[
            "纳税人识别号",
            "纳税人名称",
            "税款所属期",
            "实缴税额（万元）",
        ],
    );
    let mut land = Table::new(
        "land_registry",
        &[
            "不动产权证号",
            "宗地编号",
            "权利人",
            "权利人证件号",
            "宗地面积（平方米）",
        ],
    );
    let as_of = d(2025, 9, 30);
    let mut seq = 0u64;
    let mut new_project = |rng: &mut Rng, production: NaiveDate| {
        seq += 1;
        let mu = (30 + rng.below(270)) as f64;
        Project {
            no: format!("KFQ-{:04}", seq),
            investor: format!(
                "南京{}{}有限公司",
                ["宏", "恒", "瑞", "汇", "嘉", "信", "华", "博"][(seq % 8) as usize],
                ["科技", "智造", "新材料", "电子", "精密"][(seq % 5) as usize]
            ),
            code: uscc(seq),
            parcel: format!("320115{:03}{:03}GB{:05}", 3 + seq % 7, seq % 100, seq),
            investment: mu * (80 + rng.below(120)) as f64,
            mu,
            output: mu * (150 + rng.below(250)) as f64,
            tax: mu * (12 + rng.below(18)) as f64,
            start: production - Duration::days(540 + rng.below(300) as i64),
            production,
        }
    };
    let record =
        |projects: &mut Table, land: &mut Table, p: &Project, name: &str, register_land: bool| {
            projects.push(vec![
                Cell::text(&p.no),
                Cell::text(name),
                Cell::text(&p.investor),
                Cell::text(&p.code),
                Cell::text(&p.parcel),
                Cell::Num(p.investment.round()),
                Cell::Num(p.mu),
                Cell::Num(p.output.round()),
                Cell::Num(p.tax.round()),
                Cell::Date(p.start),
                Cell::Date(p.production),
            ]);
            if register_land {
                land.push(vec![
                    Cell::text(format!("苏(2021)宁江不动产权第{:07}号", 100 + land.len())),
                    Cell::text(&p.parcel),
                    Cell::text(&p.investor),
                    Cell::text(&p.code),
                    Cell::text(format!("{:.2}", p.mu * 666.67)),
                ]);
            }
        };
    // Investment in quarterly instalments adding up to `share` of the agreed amount.
    let invest = |investment: &mut Table, rng: &mut Rng, p: &Project, share: f64| {
        let quarters = 4 + rng.below(4) as i64;
        for q in 0..quarters {
            let month = p.start + Duration::days(91 * q);
            investment.push(vec![
                Cell::text(&p.no),
                Cell::text(month.format("%Y%m").to_string()),
                Cell::text(format!("{:.2}", p.investment * share / quarters as f64)),
            ]);
        }
    };
    let produce = |production: &mut Table, p: &Project, status: &str, share: f64| {
        production.push(vec![
            Cell::text(&p.no),
            Cell::text(status),
            Cell::Num((p.output * share).round()),
            Cell::Date(d(2025, 9, 15)),
        ]);
    };
    // 2024 tax in monthly payments adding up to `per_mu` × area.
    let pay_tax = |tax: &mut Table, p: &Project, per_mu: f64| {
        for m in 1..=12 {
            tax.push(vec![
                Cell::text(&p.code),
                Cell::text(&p.investor),
                Cell::text(format!("2024{m:02}")),
                Cell::text(format!("{:.2}", p.mu * per_mu / 12.0)),
            ]);
        }
    };
    let name = |rng: &mut Rng| {
        format!(
            "年产{}万套{}项目",
            5 + rng.below(50),
            PRODUCTS[rng.below(8) as usize]
        )
    };

    // Background: projects producing before 2024 meet their promises; projects due later are
    // under way and not yet checked.
    for i in 0..20 * scale {
        let due = i % 4 != 0;
        let when = if due {
            d(2021 + rng.below(3) as i32, 1 + rng.below(12) as u32, 1)
        } else {
            d(2026, 1 + rng.below(12) as u32, 1)
        };
        let p = new_project(rng, when);
        record(&mut projects, &mut land, &p, &name(rng), true);
        if due {
            let share = (85 + rng.below(40)) as f64 / 100.0;
            invest(&mut investment, rng, &p, share);
            produce(
                &mut production,
                &p,
                "已投产",
                (80 + rng.below(60)) as f64 / 100.0,
            );
            pay_tax(
                &mut tax,
                &p,
                p.tax / p.mu * (90 + rng.below(40)) as f64 / 100.0,
            );
        } else {
            let share = (10 + rng.below(30)) as f64 / 100.0;
            invest(&mut investment, rng, &p, share);
            produce(&mut production, &p, "在建", 0.0);
        }
    }
    // Projects due in 2024-25 (no full tax year yet), each planted for one rule.
    let due_2024 = |rng: &mut Rng| d(2024, 3 + rng.below(9) as u32, 1);
    // Investment below 70 % of the agreement, and no investment recorded at all.
    for share in [0.2, 0.41, 0.55, 0.0] {
        let due = due_2024(rng);
        let p = new_project(rng, due);
        record(&mut projects, &mut land, &p, &name(rng), true);
        if share > 0.0 {
            invest(&mut investment, rng, &p, share);
        }
        produce(&mut production, &p, "已投产", 1.0);
        truth.lead("zones_investment_shortfall", p.no.clone());
    }
    // Not producing, or producing below half the promised output, or no report at all.
    for (status, share) in [("在建", 0.0), ("停产", 0.0), ("已投产", 0.3), ("", 0.0)] {
        let due = due_2024(rng);
        let p = new_project(rng, due);
        record(&mut projects, &mut land, &p, &name(rng), true);
        invest(&mut investment, rng, &p, 1.0);
        if !status.is_empty() {
            produce(&mut production, &p, status, share);
        }
        truth.lead("zones_not_in_production", p.no.clone());
    }
    // Near-misses: 75 % invested and 60 % of the output; under way at 30 %, not yet due.
    let due = due_2024(rng);
    let p = new_project(rng, due);
    record(&mut projects, &mut land, &p, &name(rng), true);
    invest(&mut investment, rng, &p, 0.75);
    produce(&mut production, &p, "已投产", 0.6);
    let p = new_project(rng, as_of + Duration::days(40));
    record(&mut projects, &mut land, &p, &name(rng), true);
    invest(&mut investment, rng, &p, 0.3);
    produce(&mut production, &p, "在建", 0.0);
    // On the 70 % share: invested exactly 70 % of the agreement in three instalments (not a
    // lead), and 0.01 万元 less (a lead).
    for (short, lead) in [(0, false), (1, true)] {
        let due = due_2024(rng);
        let p = new_project(rng, due);
        record(&mut projects, &mut land, &p, &name(rng), true);
        // 70 % of a whole number of 万元, in hundredths.
        let total = p.investment.round() as i64 * 70 - short;
        let parts = [total / 3, total / 3, total - 2 * (total / 3)];
        for (q, part) in parts.iter().enumerate() {
            investment.push(vec![
                Cell::text(&p.no),
                Cell::text(
                    (p.start + Duration::days(91 * q as i64))
                        .format("%Y%m")
                        .to_string(),
                ),
                Cell::text(format!("{}.{:02}", part / 100, part % 100)),
            ]);
        }
        produce(&mut production, &p, "已投产", 1.0);
        if lead {
            truth.lead("zones_investment_shortfall", p.no.clone());
        }
    }

    // Tax per mu in 2024 below 8 万元: two low payers and one that paid nothing. Near-misses:
    // 9 万元 per mu; 2 万元 per mu but producing only from 2024.
    for per_mu in [2.5, 4.0, 0.0] {
        let p = new_project(rng, d(2022, 6, 1));
        record(&mut projects, &mut land, &p, &name(rng), true);
        invest(&mut investment, rng, &p, 1.0);
        produce(&mut production, &p, "已投产", 1.0);
        if per_mu > 0.0 {
            pay_tax(&mut tax, &p, per_mu);
        }
        truth.lead("zones_low_tax_per_mu", p.code.clone());
    }
    let p = new_project(rng, d(2022, 6, 1));
    record(&mut projects, &mut land, &p, &name(rng), true);
    invest(&mut investment, rng, &p, 1.0);
    produce(&mut production, &p, "已投产", 1.0);
    pay_tax(&mut tax, &p, 9.0);
    let p = new_project(rng, d(2024, 2, 1));
    record(&mut projects, &mut land, &p, &name(rng), true);
    invest(&mut investment, rng, &p, 1.0);
    produce(&mut production, &p, "已投产", 1.0);
    pay_tax(&mut tax, &p, 2.0);

    // Projects recorded twice (the same investor and parcel under a second number and a
    // reworded name), not yet due; near-miss: the same investor's second phase on another
    // parcel.
    for _ in 0..2 {
        let p = new_project(rng, d(2026, 6, 1));
        let product = PRODUCTS[rng.below(8) as usize];
        record(
            &mut projects,
            &mut land,
            &p,
            &format!("年产20万套{product}项目"),
            true,
        );
        let copy = Project {
            no: format!("{}-1", p.no),
            ..new_project(rng, p.production)
        };
        let copy = Project {
            investor: p.investor.clone(),
            code: p.code.clone(),
            parcel: p.parcel.clone(),
            ..copy
        };
        record(
            &mut projects,
            &mut land,
            &copy,
            &format!("{product}生产基地项目"),
            false,
        );
        truth.lead(
            "zones_project_recorded_twice",
            format!("{}|{}", p.code, p.parcel),
        );
    }
    let p = new_project(rng, d(2026, 6, 1));
    record(&mut projects, &mut land, &p, "智能装备产业园一期项目", true);
    let phase2 = new_project(rng, d(2026, 9, 1));
    let phase2 = Project {
        investor: p.investor.clone(),
        code: p.code.clone(),
        ..phase2
    };
    record(
        &mut projects,
        &mut land,
        &phase2,
        "智能装备产业园二期项目",
        true,
    );

    out.push(Extract {
        file: "zone_projects.xlsx",
        format: Format::Xlsx("项目协议"),
        table: projects,
    });
    out.push(Extract {
        file: "zone_investment.csv",
        format: Format::Csv(encoding_rs::GBK, false),
        table: investment,
    });
    out.push(Extract {
        file: "zone_production.csv",
        format: Format::Csv(encoding_rs::UTF_8, false),
        table: production,
    });
    out.push(Extract {
        file: "zone_tax.parquet",
        format: Format::Parquet,
        table: tax,
    });
    out.push(Extract {
        file: "land_registry.csv",
        format: Format::Csv(encoding_rs::GB18030, false),
        table: land,
    });
}

// --- Business environment ----------------------------------------------------------------

fn business(rng: &mut Rng, scale: usize, truth: &mut GroundTruth, out: &mut Vec<Extract>) {
    let mut eia = Table::new(
        "eia_approvals",
        &[
            "受理编号",
            "项目名称",
            "建设单位",
            "环评类别",
            "受理日期",
            "办结日期",
        ],
    );
    let mut eia_seq = 0;
    let mut approval = |eia: &mut Table,
                        rng: &mut Rng,
                        category: &str,
                        accepted: NaiveDate,
                        decided: NaiveDate| {
        eia_seq += 1;
        let no = format!("HP{}{eia_seq:04}", accepted.format("%Y"));
        eia.push(vec![
            Cell::text(&no),
            Cell::text(format!("{}项目", PRODUCTS[rng.below(8) as usize])),
            Cell::text(format!(
                "南京{}有限公司",
                ["华辰", "中恒", "博远", "天成", "金鼎"][rng.below(5) as usize]
            )),
            Cell::text(category),
            Cell::Date(accepted),
            Cell::Date(decided),
        ]);
        no
    };
    // Background: within the promised time (报告书 20 working days, 报告表 10).
    for _ in 0..60 * scale {
        let accepted = d(2024, 1, 2) + Duration::days(rng.below(600) as i64);
        let (category, days) = if rng.below(3) == 0 {
            ("报告书", 5 + rng.below(16) as i64)
        } else {
            ("报告表", 2 + rng.below(9) as i64)
        };
        approval(
            &mut eia,
            rng,
            category,
            accepted,
            add_working_days(accepted, days),
        );
    }
    // Overdue: 26 and 14 working days, and 12 working days spanning the Spring Festival.
    for (category, accepted, days) in [
        ("报告书", d(2025, 3, 10), 26),
        ("报告表", d(2024, 11, 4), 14),
        ("报告表", d(2025, 1, 20), 12),
    ] {
        let no = approval(
            &mut eia,
            rng,
            category,
            accepted,
            add_working_days(accepted, days),
        );
        truth.lead("business_eia_overdue", no);
    }
    // Near-misses: exactly on the limit across National Day 2025 (28 calendar days) and across
    // the Spring Festival (22 calendar days) — overdue only if counted in calendar days.
    approval(
        &mut eia,
        rng,
        "报告书",
        d(2025, 9, 26),
        add_working_days(d(2025, 9, 26), 20),
    );
    approval(
        &mut eia,
        rng,
        "报告表",
        d(2025, 1, 22),
        add_working_days(d(2025, 1, 22), 10),
    );

    let mut leases = Table::new(
        "state_leases",
        &[
            "合同编号",
            "出租单位",
            "承租人",
            "承租人类型",
            "月租金（元）",
            "租期起",
            "租期止",
        ],
    );
    let mut relief = Table::new(
        "rent_relief",
        &["合同编号", "减免月数", "减免金额（元）", "减免日期"],
    );
    let mut lease_seq = 0;
    let mut lease =
        |leases: &mut Table, rng: &mut Rng, kind: &str, from: NaiveDate, to: NaiveDate| {
            lease_seq += 1;
            let no = format!("ZL{lease_seq:05}");
            let rent = (20 + rng.below(180)) as f64 * 100.0;
            leases.push(vec![
                Cell::text(&no),
                Cell::text(
                    [
                        "江宁区机关事务管理局",
                        "江宁国资经营公司",
                        "秣陵街道资产管理办公室",
                    ][rng.below(3) as usize],
                ),
                Cell::text(format!(
                    "{}{}",
                    ["南京", "江宁区"][rng.below(2) as usize],
                    [
                        "老张面馆",
                        "禾丰超市",
                        "新概念教育咨询有限公司",
                        "云帆电子商务有限公司",
                        "小李修车铺"
                    ][rng.below(5) as usize]
                )),
                Cell::text(kind),
                Cell::text(format!("{rent:.2}")),
                Cell::text(from.format("%Y/%m/%d").to_string()),
                Cell::text(to.format("%Y/%m/%d").to_string()),
            ]);
            (no, rent)
        };
    let relieve = |relief: &mut Table, no: &str, months: u32, rent: f64| {
        relief.push(vec![
            Cell::text(no),
            Cell::Num(months as f64),
            money(rent * months as f64),
            Cell::Date(d(2022, 7, 15)),
        ]);
    };
    // Background: small tenants of 2022 relieved 3 months' rent; others not eligible.
    for _ in 0..40 * scale {
        let kind = ["小微企业", "个体工商户", "其他企业"][rng.below(3) as usize];
        let from = d(2019 + rng.below(3) as i32, 1 + rng.below(12) as u32, 1);
        let (no, rent) = lease(
            &mut leases,
            rng,
            kind,
            from,
            from + Duration::days(365 * 3 - 1),
        );
        if kind != "其他企业" {
            relieve(&mut relief, &no, 3, rent);
        }
    }
    // Eligible and not relieved; relieved one month instead of three.
    for (kind, months) in [("小微企业", 0), ("个体工商户", 0), ("小微企业", 1)] {
        let (no, rent) = lease(&mut leases, rng, kind, d(2021, 4, 1), d(2024, 3, 31));
        if months > 0 {
            relieve(&mut relief, &no, months, rent);
        }
        truth.lead("business_rent_relief_missing", no);
    }
    // Near-misses: a large enterprise; a small one whose lease ended in 2021.
    lease(&mut leases, rng, "其他企业", d(2021, 4, 1), d(2024, 3, 31));
    lease(
        &mut leases,
        rng,
        "个体工商户",
        d(2019, 1, 1),
        d(2021, 12, 31),
    );

    let mut inspections = Table::new(
        "enterprise_inspections",
        &[
            "检查编号",
            "被检查企业",
            "统一社会信用代码",
            "检查日期",
            "检查方式",
        ],
    );
    let mut plan = Table::new(
        "inspection_plan",
        &["计划批次", "统一社会信用代码", "企业名称", "抽查年度"],
    );
    let mut insp_seq = 0;
    let mut inspect = |inspections: &mut Table, code: &str, on: NaiveDate, how: &str| {
        insp_seq += 1;
        inspections.push(vec![
            Cell::text(format!("JC{}{insp_seq:04}", on.format("%Y"))),
            Cell::text(format!("企业{}", &code[10..17])),
            Cell::text(code),
            Cell::Date(on),
            Cell::text(how),
        ]);
    };
    let planned = |plan: &mut Table, code: &str, year: i32| {
        plan.push(vec![
            Cell::text(format!("{year}年第{}批", 1 + code.len() % 2)),
            Cell::text(code),
            Cell::text(format!("企业{}", &code[10..17])),
            Cell::Num(year as f64),
        ]);
    };
    // Background: planned enterprises inspected in their plan year; complaints followed up
    // wherever they come from.
    for i in 0..50 * scale as u64 {
        let code = uscc(20_000 + i);
        let year = 2024 + (i % 2) as i32;
        planned(&mut plan, &code, year);
        if rng.below(4) != 0 {
            inspect(
                &mut inspections,
                &code,
                d(year, 3 + rng.below(9) as u32, 1 + rng.below(28) as u32),
                "双随机抽查",
            );
        }
    }
    for i in 0..10 * scale as u64 {
        inspect(
            &mut inspections,
            &uscc(30_000 + i),
            d(2025, 1 + rng.below(9) as u32, 10),
            "投诉举报核查",
        );
    }
    // Random inspections of enterprises not drawn: never planned, and planned only the year
    // before.
    for (i, year_planned) in [(0u64, None), (1, None), (2, Some(2024))] {
        let code = uscc(40_000 + i);
        if let Some(y) = year_planned {
            planned(&mut plan, &code, y);
        }
        inspect(&mut inspections, &code, d(2025, 6, 12), "双随机抽查");
        truth.lead("business_inspection_outside_plan", format!("{code}|2025"));
    }
    // Near-miss: the plan lists the code in lower case with a space.
    let code = uscc(40_010);
    planned(&mut plan, &format!("{} ", code.to_lowercase()), 2025);
    inspect(&mut inspections, &code, d(2025, 5, 20), "双随机抽查");

    out.push(Extract {
        file: "eia_approvals.xlsx",
        format: Format::Xlsx("环评审批"),
        table: eia,
    });
    out.push(Extract {
        file: "state_leases.csv",
        format: Format::Csv(encoding_rs::GBK, false),
        table: leases,
    });
    out.push(Extract {
        file: "rent_relief.csv",
        format: Format::Csv(encoding_rs::UTF_8, false),
        table: relief,
    });
    out.push(Extract {
        file: "enterprise_inspections.csv",
        format: Format::Csv(encoding_rs::UTF_8, true),
        table: inspections,
    });
    out.push(Extract {
        file: "inspection_plan.xlsx",
        format: Format::Xlsx("抽查计划"),
        table: plan,
    });
}

// --- Public funds reaching people --------------------------------------------------------

const UNITS: [&str; 5] = [
    "江宁区教育局",
    "江宁区卫生健康委员会",
    "江宁区农业农村局",
    "江宁区城市管理局",
    "江宁区文化和旅游局",
];

fn funds(
    rng: &mut Rng,
    pool: &mut Pool,
    scale: usize,
    truth: &mut GroundTruth,
    out: &mut Vec<Extract>,
) {
    let mut enrolment = Table::new(
        "school_enrolment",
        &["学校代码", "学校名称", "在籍学生数", "统计时点"],
    );
    let mut allocation = Table::new(
        "meal_allocation",
        &[
            "学校代码",
            "学校名称",
            "核定受助人数",
            "补助标准（元/生/年）",
            "分配金额（元）",
        ],
    );
    let mut receipts = Table::new(
        "meal_receipts",
        &["学校代码", "到账日期", "到账金额（元）", "摘要"],
    );
    const STANDARD: f64 = 1_000.0;
    let school = |i: usize| {
        (
            format!("3132011{:03}", 100 + i),
            format!("江宁区第{}小学", i + 1),
        )
    };
    let mut n_school = 0;
    let mut add = |enrolment: &mut Table,
                   allocation: &mut Table,
                   receipts: &mut Table,
                   rng: &mut Rng,
                   enrolled: Option<u64>,
                   funded: u64,
                   received: &[f64]| {
        let (code, name) = school(n_school);
        n_school += 1;
        if let Some(e) = enrolled {
            enrolment.push(vec![
                Cell::text(&code),
                Cell::text(&name),
                Cell::Num(e as f64),
                Cell::Date(d(2024, 9, 30)),
            ]);
        }
        let amount = funded as f64 * STANDARD;
        allocation.push(vec![
            Cell::text(&code),
            Cell::text(&name),
            Cell::Num(funded as f64),
            Cell::Num(STANDARD),
            Cell::Num(amount),
        ]);
        for (i, share) in received.iter().enumerate() {
            receipts.push(vec![
                Cell::text(&code),
                Cell::Date(d(2024, 10 + i as u32, 8 + rng.below(10) as u32)),
                money(amount * share),
                Cell::text(format!("学生营养膳食补助第{}批", i + 1)),
            ]);
        }
        code
    };
    for _ in 0..30 * scale {
        let e = 200 + rng.below(1500);
        let funded = e - rng.below(e / 10);
        let parts: &[f64] = if rng.below(2) == 0 {
            &[1.0]
        } else {
            &[0.6, 0.4]
        };
        add(
            &mut enrolment,
            &mut allocation,
            &mut receipts,
            rng,
            Some(e),
            funded,
            parts,
        );
    }
    // Funded for more pupils than enrolled, and a school not on the roll (funds received).
    for (enrolled, extra) in [(Some(800), 35), (Some(420), 60), (None, 300)] {
        let code = add(
            &mut enrolment,
            &mut allocation,
            &mut receipts,
            rng,
            enrolled,
            enrolled.unwrap_or(0) + extra,
            &[1.0],
        );
        truth.lead("funds_meal_pupils_above_enrolment", code);
    }
    // Received well below the allocation, or nothing.
    for parts in [&[0.6][..], &[0.5, 0.3][..], &[][..]] {
        let code = add(
            &mut enrolment,
            &mut allocation,
            &mut receipts,
            rng,
            Some(500),
            480,
            parts,
        );
        truth.lead("funds_meal_received_below_allocated", code);
    }
    // Near-misses: funded exactly as enrolled; 50 yuan short (a bank charge).
    add(
        &mut enrolment,
        &mut allocation,
        &mut receipts,
        rng,
        Some(600),
        600,
        &[0.5, 0.5],
    );
    let code = add(
        &mut enrolment,
        &mut allocation,
        &mut receipts,
        rng,
        Some(600),
        550,
        &[],
    );
    receipts.push(vec![
        Cell::text(&code),
        Cell::Date(d(2024, 10, 20)),
        money(550.0 * STANDARD - 50.0),
        Cell::text("学生营养膳食补助"),
    ]);
    // On the 100-yuan tolerance: received in three parts exactly 100.00 short (not a lead),
    // and 100.01 short (a lead).
    for (parts, lead) in [
        (["183333.33", "183333.33", "183233.34"], false),
        (["183333.33", "183333.33", "183233.33"], true),
    ] {
        let code = add(
            &mut enrolment,
            &mut allocation,
            &mut receipts,
            rng,
            Some(600),
            550,
            &[],
        );
        for (i, part) in parts.iter().enumerate() {
            receipts.push(vec![
                Cell::text(&code),
                Cell::Date(d(2024, 10 + i as u32, 15)),
                Cell::text(*part),
                Cell::text("学生营养膳食补助"),
            ]);
        }
        if lead {
            truth.lead("funds_meal_received_below_allocated", code);
        }
    }

    // Allowances paid on the payroll against the approved list.
    let mut approved = Table::new(
        "approved_allowances",
        &["津补贴项目", "批准文号", "适用范围"],
    );
    let items = [
        "岗位津贴",
        "交通补贴",
        "通讯补贴",
        "乡镇工作补贴",
        "艰苦边远地区津贴",
    ];
    for (i, item) in items.iter().enumerate() {
        approved.push(vec![
            Cell::text(*item),
            Cell::text(format!("苏人社发〔2019〕{}号", 11 + i)),
            Cell::text("全区机关事业单位"),
        ]);
    }
    let mut allowances = Table::new(
        "payroll_allowances",
        &[
            "单位名称",
            "姓名",
            "身份证号",
            "发放年月",
            "津补贴项目",
            "金额（元）",
        ],
    );
    let mut staff: Vec<(usize, super::people::Person)> = Vec::new();
    for i in 0..60 * scale {
        staff.push((i % UNITS.len(), pool.next()));
    }
    for m in 1..=6u32 {
        for (u, p) in &staff {
            for item in &items[..2 + (m as usize + u) % 3] {
                allowances.push(vec![
                    Cell::text(UNITS[*u]),
                    Cell::text(&p.name),
                    Cell::text(&p.id),
                    Cell::text(format!("2025{m:02}")),
                    Cell::text(if rng.below(20) == 0 {
                        format!(" {item}")
                    } else {
                        item.to_string()
                    }),
                    money((300 + rng.below(900)) as f64),
                ]);
            }
        }
    }
    // Unapproved items: a year-end bonus paid by two units, a "work subsidy" paid by one.
    for (item, units) in [
        ("年终一次性奖励", &[0usize, 3][..]),
        ("加班工作补助", &[2][..]),
    ] {
        for (u, p) in staff.iter().filter(|(u, _)| units.contains(u)).take(8) {
            allowances.push(vec![
                Cell::text(UNITS[*u]),
                Cell::text(&p.name),
                Cell::text(&p.id),
                Cell::text("202506"),
                Cell::text(item),
                money(2_000.0),
            ]);
        }
        truth.lead("funds_unapproved_allowance", item);
    }

    // Expense claims: invoices, voucher numbers per unit, amounts.
    let mut claims = Table::new(
        "expense_claims",
        &[
            "报销单号",
            "凭证号",
            "报销单位",
            "报销人",
            "发票代码",
            "发票号码",
            "开票日期",
            "金额（元）",
        ],
    );
    let mut invoice_seq = 0u64;
    let golden = 0.618_033_988_749_895_f64;
    let mut claimed: Vec<(usize, String, String, f64)> = Vec::new();
    for (u, _) in UNITS.iter().enumerate() {
        let offset = rng.below(1_000) as f64 / 1_000.0;
        for i in 0..400 * scale {
            // Amounts spread over four decades as Benford's law has them (a low-discrepancy
            // sequence, so that 400 claims already conform); unit 2 splits purchases just
            // under the 5,000 yuan approval limit.
            let u01 = (offset + i as f64 * golden).fract();
            let amount = if u == 2 && i % 2 == 0 {
                4_500.0 + rng.below(49_900) as f64 / 100.0
            } else {
                (10f64.powf(1.0 + 4.0 * u01) * 100.0).round() / 100.0
            };
            invoice_seq += 1;
            let (code, no) = if invoice_seq.is_multiple_of(3) {
                (
                    format!("0320024{:05}", 1 + invoice_seq % 9),
                    format!("{:08}", 10_000_000 + invoice_seq * 37 % 89_999_999),
                )
            } else {
                (
                    String::new(),
                    format!("2532{:016}", 1_000_000_000_000 + invoice_seq * 7919),
                )
            };
            claimed.push((u, code, no, amount));
        }
    }
    // A small unit whose 120 claims cluster is too small a sample to test.
    for i in 0..120 {
        invoice_seq += 1;
        claimed.push((
            5,
            String::new(),
            format!("2532{:016}", 1_000_000_000_000 + invoice_seq * 7919),
            3_000.0 + i as f64,
        ));
    }
    let small = "江宁区档案馆";
    truth.lead("funds_expense_benford", UNITS[2]);
    // Invoices claimed twice (once by two units, twice by one person months apart) and three
    // times; near-miss: the same 8-digit number under another invoice code.
    let dup_of = [10usize, 777, 1_503];
    for (k, &j) in dup_of.iter().enumerate() {
        let (_, code, no, amount) = claimed[j].clone();
        let times = if k == 2 { 2 } else { 1 };
        for t in 0..times {
            claimed.push((
                (j / (400 * scale) + 1 + t) % UNITS.len(),
                code.clone(),
                no.clone(),
                amount,
            ));
        }
        truth.lead("funds_invoice_claimed_twice", format!("{code}{no}"));
    }
    {
        let j = claimed
            .iter()
            .position(|c| !c.1.is_empty())
            .expect("an invoice with a code");
        let (u, code, no, amount) = claimed[j].clone();
        claimed.push((u, format!("044{}", &code[3..]), no, amount));
    }
    // Voucher numbers run on per unit; unit 3 lost vouchers 57 and 58, unit 4 number 200.
    let mut next = [0u32; 6];
    for (i, (u, code, no, amount)) in claimed.iter().enumerate() {
        next[*u] += 1;
        if *u == 3 && next[3] == 57 {
            next[3] += 2;
        }
        if *u == 4 && next[4] == 200 {
            next[4] += 1;
        }
        let unit = if *u == 5 { small } else { UNITS[*u] };
        let day = d(2025, 1, 2) + Duration::days((i % 170) as i64);
        claims.push(vec![
            Cell::text(format!("BX{:06}", i + 1)),
            Cell::Num(next[*u] as f64),
            Cell::text(unit),
            Cell::text(["王强", "李敏", "张伟", "刘芳", "陈静"][i % 5]),
            Cell::text(code),
            Cell::text(no),
            Cell::text(day.format("%Y-%m-%d").to_string()),
            Cell::Num(*amount),
        ]);
    }
    truth.lead("funds_voucher_gaps", UNITS[3]);
    truth.lead("funds_voucher_gaps", UNITS[4]);

    out.push(Extract {
        file: "school_enrolment.csv",
        format: Format::Csv(encoding_rs::GBK, false),
        table: enrolment,
    });
    out.push(Extract {
        file: "meal_allocation.xlsx",
        format: Format::Xlsx("资金分配"),
        table: allocation,
    });
    out.push(Extract {
        file: "meal_receipts.csv",
        format: Format::Csv(encoding_rs::UTF_8, true),
        table: receipts,
    });
    out.push(Extract {
        file: "approved_allowances.xlsx",
        format: Format::Xlsx("批准项目"),
        table: approved,
    });
    out.push(Extract {
        file: "payroll_allowances.csv",
        format: Format::Csv(encoding_rs::GB18030, false),
        table: allowances,
    });
    out.push(Extract {
        file: "expense_claims.parquet",
        format: Format::Parquet,
        table: claims,
    });
}
