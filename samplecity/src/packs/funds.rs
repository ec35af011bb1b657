//! The public-funds pack: school meals, payroll allowances, expense claims.

use super::*;

pub(super) const UNITS: [&str; 5] = [
    "江宁区教育局",
    "江宁区卫生健康委员会",
    "江宁区农业农村局",
    "江宁区城市管理局",
    "江宁区文化和旅游局",
];

pub(super) fn funds(
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
    // Received well below the allocation, or nothing: what did not arrive is the money.
    for parts in [&[0.6][..], &[0.5, 0.3][..], &[][..]] {
        let allocated = (480.0 * STANDARD * 100.0) as i64;
        let received: i64 = parts
            .iter()
            .map(|s| (480.0 * STANDARD * s * 100.0).round() as i64)
            .sum();
        let code = add(
            &mut enrolment,
            &mut allocation,
            &mut receipts,
            rng,
            Some(500),
            480,
            parts,
        );
        truth.lead_cents(
            "funds_meal_received_below_allocated",
            &code,
            allocated - received,
        );
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
            // 550,000 allocated, 549,899.99 received.
            truth.lead_cents("funds_meal_received_below_allocated", &code, 10_001);
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
    let mut staff: Vec<(usize, crate::people::Person)> = Vec::new();
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
        let mut paid = 0;
        for (u, p) in staff.iter().filter(|(u, _)| units.contains(u)).take(8) {
            paid += 2_000 * 100;
            allowances.push(vec![
                Cell::text(UNITS[*u]),
                Cell::text(&p.name),
                Cell::text(&p.id),
                Cell::text("202506"),
                Cell::text(item),
                money(2_000.0),
            ]);
        }
        truth.lead_cents("funds_unapproved_allowance", item, paid);
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
