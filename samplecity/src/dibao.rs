//! The dibao roll and the registers it is checked against (property, vehicles, payroll,
//! deaths), with their background people.

use super::*;

/// The dibao roll and the registers it is checked against: property, vehicles, payroll,
/// deaths; background owners, vehicles, civil servants and deaths.
pub(super) fn dibao_and_registers(
    c: &mut City,
    pool: &mut Pool,
    rng: &mut Rng,
    truth: &mut GroundTruth,
    scale: usize,
    round: u32,
) {
    // --- Dibao roll and what it is checked against -----------------------------------------

    for _ in 0..120 * scale {
        let p = pool.next();
        let id_text = decorate(rng, &p.id, 0.1);
        household(&mut c.dibao, &p, Cell::text(id_text), rng);
    }
    // Planted dibao leads.
    for _ in 0..3 {
        let p = pool.next();
        let (benefit, _) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        let died = d(2025, 1 + rng.below(5) as u32, 1 + rng.below(28) as u32);
        death(&mut c.deaths, &p, died, rng);
        // Paid for every month after the month of death.
        let months = months_to_as_of(died).max(0);
        truth.lead_cents("dibao_recipient_deceased", &p.id, months * benefit * 100);
    }
    for i in 0..4 {
        let p = if i == 0 {
            pool.next_born_1900s()
        } else {
            pool.next()
        };
        let id_text = decorate(rng, &p.id, 0.3);
        let (benefit, enrolled) = household(&mut c.dibao, &p, Cell::text(id_text), rng);
        let mut registered = Vec::new();
        for j in 0..(2 + i % 2) {
            // One owner's older record carries the 15-digit ID.
            let id_text = if i == 0 && j == 1 {
                legacy15(&p.id).expect("born in the 1900s")
            } else {
                p.id.clone()
            };
            registered.push(home(
                &mut c.property,
                &p,
                id_text,
                60.0 + rng.below(8000) as f64 / 100.0,
                rng,
            ));
        }
        // Ineligible from the later of enrolment and the second home, that month included.
        registered.sort();
        let since = enrolled.max(registered[1]);
        let months = months_since(since);
        truth.lead_cents("dibao_multiple_properties", &p.id, months * benefit * 100);
    }
    for (i, kind) in ["小型轿车", "小型普通客车", "小型轿车"]
        .into_iter()
        .enumerate()
    {
        let p = pool.next();
        let (benefit, enrolled) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        // Sold in round 2 (the row goes to a scratch table so the rest of the city is the
        // same), bought back in round 3.
        let sold = i == 0 && round == 2;
        let mut scratch = Table::new("sold", &[]);
        let target = if sold { &mut scratch } else { &mut c.vehicles };
        let registered = car(
            &mut c.plate_seq,
            target,
            &p,
            kind,
            80_000.0 + rng.below(200_000) as f64,
            rng,
        );
        if !sold {
            let months = months_since(enrolled.max(registered));
            truth.lead_cents("dibao_owns_car", &p.id, months * benefit * 100);
        }
    }
    for _ in 0..3 {
        let p = pool.next();
        let (benefit, enrolled) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        salary(&mut c.payroll, &p, rng);
        let first_salary = d(2025, city::SALARY_MONTHS[0], 1);
        let months = months_since(enrolled.max(first_salary));
        truth.lead_cents("dibao_on_public_payroll", &p.id, months * benefit * 100);
    }
    // Near-misses: one modest home; an electric tricycle; a motorbike; a cheap old car; a
    // namesake (same name, another ID) in the death register.
    for _ in 0..5 {
        let p = pool.next();
        household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        home(
            &mut c.property,
            &p,
            p.id.clone(),
            45.0 + rng.below(2000) as f64 / 100.0,
            rng,
        );
    }
    for (kind, price) in [
        ("电动三轮车", 6_800.0),
        ("电动三轮车", 9_500.0),
        ("二轮摩托车", 7_200.0),
        ("小型轿车", 28_000.0),
    ] {
        let p = pool.next();
        household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        car(&mut c.plate_seq, &mut c.vehicles, &p, kind, price, rng);
    }
    {
        let p = pool.next();
        household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        let namesake = Person {
            name: p.name.clone(),
            ..pool.next()
        };
        death(&mut c.deaths, &namesake, d(2025, 2, 14), rng);
    }
    // Dibao ID quality: a wrong check character, an impossible birth date, and an ID the
    // spreadsheet stored as a number (digits lost: a data-quality finding).
    let p = pool.next();
    let bad = people::wrong_check(&p.id);
    household(&mut c.dibao, &p, Cell::text(&bad), rng);
    truth.lead("id_check_character_wrong", bad);
    let p = pool.next();
    let bad = people::impossible_birth(&p.id);
    household(&mut c.dibao, &p, Cell::text(&bad), rng);
    truth.lead("id_birth_date_impossible", bad);
    let p = pool.next();
    household(
        &mut c.dibao,
        &p,
        Cell::Num(p.id[..17].parse::<f64>().expect("digits") * 10.0),
        rng,
    );

    // Background owners, vehicles, civil servants and deaths: nobody on the dibao roll.
    for _ in 0..300 * scale {
        let p = pool.next();
        for _ in 0..1 + rng.below(3) {
            let id_text = match legacy15(&p.id) {
                Some(l) if rng.below(10) == 0 => l,
                _ => decorate(rng, &p.id, 0.05),
            };
            home(
                &mut c.property,
                &p,
                id_text,
                50.0 + rng.below(15_000) as f64 / 100.0,
                rng,
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
            &mut c.plate_seq,
            &mut c.vehicles,
            &p,
            kind,
            5_000.0 + rng.below(300_000) as f64,
            rng,
        );
    }
    for _ in 0..180 * scale {
        let p = pool.next();
        salary(&mut c.payroll, &p, rng);
    }
    for _ in 0..30 * scale {
        let p = pool.next();
        death(
            &mut c.deaths,
            &p,
            d(2025, 1 + rng.below(6) as u32, 1 + rng.below(28) as u32),
            rng,
        );
    }
}
