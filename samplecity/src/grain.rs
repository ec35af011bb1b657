//! Grain and subsidy extracts of the sample city: depot book stock and stock-take
//! measurements ("paper grain"), weighbridge tickets ("rotating grain"), and planting subsidies
//! against contracted land — each with planted leads and near-misses.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::GroundTruth;
use super::people::{Pool, Rng, decorate};
use super::write::{Cell, Table};

const GRAINS: [&str; 3] = ["小麦", "稻谷", "玉米"];

fn plate_number(seq: u32) -> String {
    let letters = ["A", "B", "C", "D", "E", "F", "G", "H", "K", "L"];
    format!("苏{}{:05}", letters[(seq % 10) as usize], 10_000 + seq * 7)
}

/// A plate as a weighbridge clerk typed it.
fn plate_as_typed(rng: &mut Rng, plate: &str) -> String {
    match rng.below(6) {
        0 => format!(" {} ", plate.to_lowercase()),
        1 => {
            let mut c = plate.chars();
            let (p, l) = (c.next().expect("province"), c.next().expect("letter"));
            format!("{p}{l}·{}", c.as_str())
        }
        2 => plate
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    char::from_u32(0xFF10 + c as u32 - '0' as u32).expect("digit")
                } else {
                    c
                }
            })
            .collect(),
        _ => plate.to_string(),
    }
}

pub struct GrainTables {
    pub book: Table,
    pub stocktake: Table,
    pub tickets: Table,
    pub subsidy: Table,
    pub contracts: Table,
}

pub fn generate(
    rng: &mut Rng,
    pool: &mut Pool,
    scale: usize,
    truth: &mut GroundTruth,
) -> GrainTables {
    let mut book = Table::new(
        "grain_book_stock",
        &[
            "库点编码",
            "库点名称",
            "仓号",
            "粮食品种",
            "账面数量（吨）",
            "统计日期",
        ],
    );
    let mut stocktake = Table::new(
        "grain_stocktake",
        &["库点", "仓房编号", "品种", "实测数量（吨）", "测量日期"],
    );
    let depots: Vec<(String, String)> = (0..4 * scale)
        .map(|i| (format!("JS{:04}", 101 + i), format!("{}号粮库", i + 1)))
        .collect();
    let date = NaiveDate::from_ymd_opt(2025, 9, 30).expect("date");
    for (d, (code, name)) in depots.iter().enumerate() {
        for b in 1..=6 {
            let bin = format!("P{b:02}");
            let grain = GRAINS[rng.below(3) as usize];
            let tonnes = 800.0 + rng.below(3_000) as f64;
            let key = format!("{code}|{bin}");
            // Planted in the first depot only (the same at every scale): paper grain, a bin
            // on the books never measured, a bin measured but not on the books, and two
            // near-misses (more grain than booked; a small bin within the absolute tolerance).
            let (measured, on_book, was_measured) = match (d, b) {
                (0, 1) | (0, 2) | (0, 3) => {
                    truth.lead("grain_paper_stock", key.clone());
                    (tonnes * (0.65 + rng.below(25) as f64 / 100.0), true, true)
                }
                (0, 4) => {
                    truth.lead("grain_paper_stock", key.clone());
                    (0.0, true, false)
                }
                (0, 5) => {
                    truth.lead("grain_paper_stock", key.clone());
                    (tonnes, false, true)
                }
                (0, 6) => (tonnes * 1.05, true, true),
                _ => {
                    // Normal measurement error: within ±1.5 %.
                    let err = (rng.below(301) as f64 - 150.0) / 10_000.0;
                    (tonnes * (1.0 + err), true, true)
                }
            };
            if on_book {
                book.push(vec![
                    Cell::text(code),
                    Cell::text(name),
                    Cell::text(&bin),
                    Cell::text(grain),
                    Cell::text(format!("{tonnes:.3}")),
                    Cell::text(date.format("%Y-%m-%d").to_string()),
                ]);
            }
            if was_measured {
                stocktake.push(vec![
                    Cell::text(code),
                    Cell::text(if rng.below(4) == 0 {
                        bin.to_lowercase()
                    } else {
                        bin.clone()
                    }),
                    Cell::text(grain),
                    Cell::Num((measured * 1000.0).round() / 1000.0),
                    Cell::Date(date + Duration::days(2)),
                ]);
            }
        }
    }
    // A small bin: 4 t short of 100 t is 4 %, above the relative tolerance but within 5 t.
    book.push(vec![
        Cell::text(&depots[0].0),
        Cell::text(&depots[0].1),
        Cell::text("P07"),
        Cell::text("玉米"),
        Cell::text("100.000"),
        Cell::text("2025-09-30"),
    ]);
    stocktake.push(vec![
        Cell::text(&depots[0].0),
        Cell::text("P07"),
        Cell::text("玉米"),
        Cell::Num(96.0),
        Cell::Date(date + Duration::days(2)),
    ]);
    // On the relative tolerance: 15 t short of 515 t booked is exactly 3 % of the 500 t
    // measured (not a lead); one kilogram more short is past it (a lead).
    for (bin, booked, lead) in [("P08", "515.000", false), ("P09", "515.001", true)] {
        book.push(vec![
            Cell::text(&depots[0].0),
            Cell::text(&depots[0].1),
            Cell::text(bin),
            Cell::text("稻谷"),
            Cell::text(booked),
            Cell::text("2025-09-30"),
        ]);
        stocktake.push(vec![
            Cell::text(&depots[0].0),
            Cell::text(bin),
            Cell::text("稻谷"),
            Cell::Num(500.0),
            Cell::Date(date + Duration::days(2)),
        ]);
        if lead {
            truth.lead("grain_paper_stock", format!("{}|{bin}", depots[0].0));
        }
    }

    // Weighbridge tickets.
    let mut tickets = Table::new(
        "weighbridge_tickets",
        &[
            "磅单号",
            "库点编码",
            "车牌号",
            "业务类型",
            "过磅时间",
            "净重（公斤）",
        ],
    );
    let start = NaiveDate::from_ymd_opt(2025, 9, 1)
        .expect("date")
        .and_hms_opt(6, 0, 0)
        .expect("time");
    let mut events: Vec<(NaiveDateTime, String, &str, f64, String)> = Vec::new();
    let mut plate_seq = 0;
    let mut next_plate = || {
        plate_seq += 1;
        plate_number(plate_seq)
    };
    let at = |rng: &mut Rng| start + Duration::minutes(rng.below(60 * 24 * 55) as i64);
    const IN: &str = "收购入库";
    const OUT: &str = "销售出库";
    // Background: farmers' trucks deliver; buyers' trucks collect. No truck does both.
    for _ in 0..30 * scale {
        let plate = next_plate();
        for _ in 0..1 + rng.below(6) {
            let t = at(rng);
            events.push((
                t,
                plate.clone(),
                IN,
                8_000.0 + rng.below(25_000) as f64,
                depots[rng.below(depots.len() as u64) as usize].0.clone(),
            ));
        }
    }
    for _ in 0..10 * scale {
        let plate = next_plate();
        for _ in 0..1 + rng.below(4) {
            let t = at(rng);
            events.push((
                t,
                plate.clone(),
                OUT,
                20_000.0 + rng.below(15_000) as f64,
                depots[rng.below(depots.len() as u64) as usize].0.clone(),
            ));
        }
    }
    // Planted: out, then back in within 72 h at about the same weight (±1 %). A lead is one
    // (sale, purchase) pair of tickets: (plate, out at, in at), numbered once sorted.
    let mut rotations: Vec<(String, NaiveDateTime, NaiveDateTime)> = Vec::new();
    for _ in 0..3 {
        let plate = next_plate();
        let t = at(rng);
        let w = 25_000.0 + rng.below(10_000) as f64;
        let back = w * (1.0 + (rng.below(201) as f64 - 100.0) / 10_000.0);
        let t_in = t + Duration::hours(6 + rng.below(60) as i64);
        events.push((t, plate.clone(), OUT, w, depots[0].0.clone()));
        events.push((
            t_in,
            plate.clone(),
            IN,
            back.round(),
            depots[1 % depots.len()].0.clone(),
        ));
        rotations.push((plate, t, t_in));
    }
    // One truck rotating twice, a week apart: two leads.
    {
        let plate = next_plate();
        let t = at(rng);
        for (out_at, in_at, kg) in [
            (t, t + Duration::hours(10), 28_140.0),
            (
                t + Duration::days(7),
                t + Duration::days(7) + Duration::hours(30),
                28_200.0,
            ),
        ] {
            events.push((out_at, plate.clone(), OUT, 28_000.0, depots[0].0.clone()));
            events.push((in_at, plate.clone(), IN, kg, depots[0].0.clone()));
            rotations.push((plate.clone(), out_at, in_at));
        }
    }
    // On the thresholds: back exactly 72 h later, exactly 2 % heavier (a lead); 72 h and a
    // minute later, or 2 % and one kilogram heavier (not).
    for (gap, kg, lead) in [
        (Duration::hours(72), 30_600.0, true),
        (Duration::hours(72) + Duration::minutes(1), 30_000.0, false),
        (Duration::hours(24), 30_601.0, false),
    ] {
        let plate = next_plate();
        let t = at(rng);
        events.push((t, plate.clone(), OUT, 30_000.0, depots[0].0.clone()));
        events.push((t + gap, plate.clone(), IN, kg, depots[0].0.clone()));
        if lead {
            rotations.push((plate, t, t + gap));
        }
    }
    // Near-misses: back in 5 days later at the same weight; back in within a day at a
    // different weight.
    for (delay_h, factor) in [(5 * 24 + 3, 1.0), (20, 0.82)] {
        let plate = next_plate();
        let t = at(rng);
        let w = 30_000.0;
        events.push((t, plate.clone(), OUT, w, depots[0].0.clone()));
        events.push((
            t + Duration::hours(delay_h),
            plate,
            IN,
            w * factor,
            depots[0].0.clone(),
        ));
    }
    events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let ticket = |at: NaiveDateTime, plate: &str, kind: &str| {
        let i = events
            .iter()
            .position(|e| e.0 == at && e.1 == plate && e.2 == kind)
            .expect("a planted event");
        format!("BD{:08}", i + 1)
    };
    for (plate, out_at, in_at) in &rotations {
        truth.lead(
            "grain_rotating",
            format!(
                "{}|{}",
                ticket(*out_at, plate, OUT),
                ticket(*in_at, plate, IN)
            ),
        );
    }
    for (i, (t, plate, kind, kg, depot)) in events.iter().enumerate() {
        tickets.push(vec![
            Cell::text(format!("BD{:08}", i + 1)),
            Cell::text(depot),
            Cell::text(plate_as_typed(rng, plate)),
            Cell::text(*kind),
            Cell::text(t.format("%Y-%m-%d %H:%M").to_string()),
            Cell::text(format!("{kg:.0}")),
        ]);
    }

    // Planting subsidies against contracted land.
    let mut subsidy = Table::new(
        "planting_subsidy",
        &[
            "村组",
            "农户姓名",
            "身份证号码",
            "补贴面积（亩）",
            "补贴标准（元/亩）",
            "补贴金额（元）",
        ],
    );
    let mut contracts = Table::new(
        "land_contract",
        &[
            "承包方代表",
            "承包方证件号码",
            "地块编码",
            "地块名称",
            "合同面积（亩）",
        ],
    );
    let villages = [
        "东湖村一组",
        "东湖村二组",
        "西岗村三组",
        "南塘村一组",
        "北圩村四组",
    ];
    let mut plot = 0;
    for i in 0..(150 * scale + 7) {
        let p = pool.next();
        let village = villages[rng.below(villages.len() as u64) as usize];
        let plots = if i == 6 { 0 } else { 1 + rng.below(4) };
        let mut area = 0.0;
        for _ in 0..plots {
            plot += 1;
            let a = (8 + rng.below(52)) as f64 / 10.0;
            area += a;
            contracts.push(vec![
                Cell::text(&p.name),
                Cell::text(decorate(rng, &p.id, 0.05)),
                Cell::text(format!("3201151{plot:09}")),
                Cell::text(format!(
                    "{}地块",
                    ["东", "西", "南", "北", "前", "后"][rng.below(6) as usize]
                )),
                Cell::Num(a),
            ]);
        }
        // The subsidy for the area above the contract: 108.5 yuan a mu, 1085 cents a tenth.
        let claimed = match i {
            0..=3 => {
                let excess = 30 + rng.below(120) as i64;
                truth.lead_cents("subsidy_area_above_contract", &p.id, excess * 1085);
                area + excess as f64 / 10.0
            }
            4 => area + 0.3, // rounding: within the tolerance
            5 => (area - 1.0).max(0.5),
            6 => {
                // Claimed with no contract at all: all of it.
                truth.lead_cents("subsidy_area_above_contract", &p.id, 45 * 1085);
                4.5
            }
            _ => area,
        };
        let claimed = (claimed * 10.0).round() / 10.0;
        subsidy.push(vec![
            Cell::text(village),
            Cell::text(&p.name),
            Cell::text(decorate(rng, &p.id, 0.05)),
            Cell::text(format!("{claimed:.1}")),
            Cell::text("108.5"),
            Cell::text(format!("{:.2}", claimed * 108.5)),
        ]);
    }
    // On the 0.5 mu tolerance: claimed exactly 0.5 mu above two plots of 0.7 and 0.1 mu (not a
    // lead, though in binary floating point 1.3 − (0.7 + 0.1) is 0.5000000000000001), and
    // 0.6 mu above one plot (a lead).
    for (plots, claimed, lead) in [(&[0.7, 0.1][..], "1.3", false), (&[5.0][..], "5.6", true)] {
        let p = pool.next();
        for a in plots {
            plot += 1;
            contracts.push(vec![
                Cell::text(&p.name),
                Cell::text(&p.id),
                Cell::text(format!("3201151{plot:09}")),
                Cell::text("东地块"),
                Cell::Num(*a),
            ]);
        }
        subsidy.push(vec![
            Cell::text(villages[0]),
            Cell::text(&p.name),
            Cell::text(&p.id),
            Cell::text(claimed),
            Cell::text("108.5"),
            Cell::text(format!(
                "{:.2}",
                claimed.parse::<f64>().unwrap_or(0.0) * 108.5
            )),
        ]);
        if lead {
            // 0.6 mu above the contract.
            truth.lead_cents("subsidy_area_above_contract", &p.id, 6 * 1085);
        }
    }
    GrainTables {
        book,
        stocktake,
        tickets,
        subsidy,
        contracts,
    }
}
