//! The business-environment pack: environmental-impact approvals, state leases and rent
//! relief, inspections against the random-inspection plan.

use super::*;

pub(super) fn business(
    rng: &mut Rng,
    scale: usize,
    truth: &mut GroundTruth,
    out: &mut Vec<Extract>,
) {
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
    // wherever they come from. Their codes never reach the planted ones (40,000 on) in a big
    // city: a background enterprise planned under a planted code would put that lead right.
    let apart = |base: u64, i: u64, far: u64| {
        if base + i < 40_000 { base + i } else { far + i }
    };
    for i in 0..50 * scale as u64 {
        let code = uscc(apart(20_000, i, 0x0100_0000));
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
            &uscc(apart(30_000, i, 0x0200_0000)),
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
