//! The local-government debt pack: platform companies' financings, their fees, intermediaries
//! and pledged assets.

use super::*;

pub(super) const BORROWERS: [&str; 6] = [
    "江宁城市建设投资集团有限公司",
    "江宁交通产业集团有限公司",
    "滨江开发区投资发展有限公司",
    "秣陵新城建设有限公司",
    "汤山文旅产业发展有限公司",
    "禄口空港建设发展有限公司",
];

pub(super) const BANKS: [&str; 6] = [
    "工商银行江宁支行",
    "农业银行江宁支行",
    "建设银行江宁支行",
    "江苏银行江宁支行",
    "南京银行江宁支行",
    "兴业银行南京分行",
];

pub(super) const INTERMEDIARIES: [&str; 4] = [
    "江苏金陵资产评估事务所有限公司",
    "南京正衡会计师事务所有限公司",
    "江苏天衡律师事务所",
    "南京融信融资担保有限公司",
];

pub(super) fn debt(rng: &mut Rng, scale: usize, truth: &mut GroundTruth, out: &mut Vec<Extract>) {
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
        // 40 ten-thousand yuan.
        truth.lead_cents("debt_unregistered_intermediary", name, 40 * 10_000 * 100);
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
        truth.lead_cents("debt_unregistered_intermediary", late, 30 * 10_000 * 100);
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
        truth.lead_cents("debt_prohibited_bank_fee", &id, 36 * 10_000 * 100);
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
