//! The development-zone pack: project agreements, investment, production, tax and land.

use super::*;

pub(super) const PRODUCTS: [&str; 8] = [
    "新能源汽车电机",
    "集成电路封装测试",
    "医疗器械",
    "智能装备",
    "锂电池隔膜",
    "光伏组件",
    "生物医药中间体",
    "工业机器人",
];

pub(super) struct Project {
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

pub(super) fn zones(rng: &mut Rng, scale: usize, truth: &mut GroundTruth, out: &mut Vec<Extract>) {
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
