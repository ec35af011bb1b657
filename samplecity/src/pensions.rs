//! Pension enrolments and payments, deaths of pensioners, shared accounts, land-lost farmers,
//! ID quality, the same person under two IDs, and the rows the loader must reject.

use super::*;

/// Pension enrolments and payments, deaths, shared accounts, land-lost farmers, ID quality,
/// the same person under two IDs, and the rows the loader must reject.
pub(super) fn pensions(
    c: &mut City,
    pool: &mut Pool,
    rng: &mut Rng,
    truth: &mut GroundTruth,
    scale: usize,
    round: u32,
    history: u32,
) {
    // --- Pension enrolment and payments -------------------------------------------------

    // Background: enrolled people; retirees receive a pension every month.
    for _ in 0..1400 * scale {
        let p = pool.next();
        let scheme = PENSION_SCHEMES[rng.below(2) as usize];
        if p.age_in_2025() >= 60 {
            let amount = 1200.0 + rng.below(300_000) as f64 / 100.0;
            let id_text = decorate(rng, &p.id, 0.08);
            enrol(
                &mut c.pension,
                &p,
                id_text,
                scheme,
                "正常领取",
                Some(amount),
                rng,
            );
            let account = new_account(&mut c.account_seq, rng);
            pay(&mut c.payments, &p, &MONTHS, &account, amount, rng);
            if history > 0 {
                c.history_payees
                    .push((p.id.clone(), p.name.clone(), account.clone(), amount));
            }
        } else {
            let status = if rng.below(10) == 0 {
                "暂停"
            } else {
                "参保缴费"
            };
            let id_text = decorate(rng, &p.id, 0.08);
            enrol(&mut c.pension, &p, id_text, scheme, status, None, rng);
        }
    }

    // Planted: a second active enrolment, the ID spelled differently in the second record.
    for variant in 0..6 {
        let p = pool.next_retiree();
        let amount = 1800.0 + rng.below(100_000) as f64 / 100.0;
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(amount),
            rng,
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
            &mut c.pension,
            &other,
            spelled,
            PENSION_SCHEMES[1],
            status,
            Some(amount / 2.0),
            rng,
        );
        let account = new_account(&mut c.account_seq, rng);
        pay(&mut c.payments, &p, &MONTHS, &account, amount, rng);
        truth.lead("pension_duplicate_active", p.id.clone());
    }
    // Near-miss: the second enrolment was terminated.
    for _ in 0..4 {
        let p = pool.next_retiree();
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[1],
            "终止",
            None,
            rng,
        );
        let id_text = decorate(rng, &p.id, 0.5);
        enrol(
            &mut c.pension,
            &p,
            id_text,
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2100.0),
            rng,
        );
        let account = new_account(&mut c.account_seq, rng);
        pay(&mut c.payments, &p, &MONTHS, &account, 2100.0, rng);
    }

    // Deaths of pensioners: stopped properly (before the death month), planted (paid months
    // after the death month), near-miss (paid for the death month itself).
    for kind in 0..(12 + 2 * scale) {
        let p = pool.next_retiree();
        let amount = 2000.0 + rng.below(50_000) as f64 / 100.0;
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(amount),
            rng,
        );
        let death_month = 2 + rng.below(4) as u32; // March .. May 2025 (months 2..5)
        let paid_until = match kind {
            // Put right from round 2 on: the payments after the death month are c.reversed.
            0..=1 if round >= 2 => {
                let until = (death_month + 1 + rng.below(2) as u32).min(6);
                c.reversed.push((p.id.clone(), death_month));
                until
            }
            0..=4 => {
                let until = (death_month + 1 + rng.below(2) as u32).min(6);
                truth.lead_amount(
                    "pension_paid_after_death",
                    &p.id,
                    until - death_month,
                    amount,
                );
                until
            }
            5..=7 => death_month,
            _ => death_month - 1,
        };
        let months: Vec<u32> = MONTHS
            .iter()
            .copied()
            .filter(|m| *m <= paid_until)
            .collect();
        let account = new_account(&mut c.account_seq, rng);
        pay(&mut c.payments, &p, &months, &account, amount, rng);
        death(
            &mut c.deaths,
            &p,
            d(2025, death_month, 1 + rng.below(28) as u32),
            rng,
        );
    }

    // Planted: one bank account receiving three people's pensions; near-miss: a couple.
    let shared = new_account(&mut c.account_seq, rng);
    let couple = new_account(&mut c.account_seq, rng);
    for (account, n) in [(&shared, 3), (&couple, 2)] {
        for _ in 0..n {
            let p = pool.next_retiree();
            enrol(
                &mut c.pension,
                &p,
                p.id.clone(),
                PENSION_SCHEMES[1],
                "正常领取",
                Some(1500.0),
                rng,
            );
            pay(&mut c.payments, &p, &MONTHS, account, 1500.0, rng);
        }
    }
    truth.lead("pension_shared_bank_account", shared.clone());

    // Land-lost farmers: enrolled under the land-lost scheme, each on a requisition list —
    // except the planted ones. Some lists carry the 15-digit ID (same person: near-miss).
    for i in 0..(60 * scale + 3) {
        let p = pool.next_born_1900s();
        let id_text = decorate(rng, &p.id, 0.1);
        enrol(
            &mut c.pension,
            &p,
            id_text,
            LAND_LOST,
            "参保缴费",
            None,
            rng,
        );
        if i < 3 {
            truth.lead("land_lost_farmer_without_requisition", p.id.clone());
        } else if i < 8 {
            requisitioned(
                &mut c.requisition,
                &p,
                legacy15(&p.id).expect("born in the 1900s"),
                rng,
            );
        } else {
            requisitioned(&mut c.requisition, &p, decorate(rng, &p.id, 0.1), rng);
        }
    }
    // People on requisition lists who have not enrolled (not a lead for this rule).
    for _ in 0..20 * scale {
        let p = pool.next();
        requisitioned(&mut c.requisition, &p, p.id.clone(), rng);
    }

    // ID quality: wrong check characters and impossible birth dates, written as is.
    for _ in 0..3 {
        let p = pool.next();
        let bad = people::wrong_check(&p.id);
        enrol(
            &mut c.pension,
            &p,
            bad.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            rng,
        );
        truth.lead("id_check_character_wrong", bad);
    }
    for _ in 0..2 {
        let p = pool.next();
        let bad = people::impossible_birth(&p.id);
        enrol(
            &mut c.pension,
            &p,
            bad.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            rng,
        );
        truth.lead("id_birth_date_impossible", bad);
    }
    // Other damage: reported as data quality, not by these two rules.
    let p = pool.next();
    enrol(
        &mut c.pension,
        &p,
        format!("{:.5E}", p.id.parse::<f64>().expect("digits")).replace('E', "E+"),
        PENSION_SCHEMES[1],
        "参保缴费",
        None,
        rng,
    );
    let p = pool.next();
    enrol(
        &mut c.pension,
        &p,
        p.id[..17].to_string(),
        PENSION_SCHEMES[1],
        "参保缴费",
        None,
        rng,
    );

    // The same person under two ID numbers: a typo in the sequence (check character left
    // wrong), and a changed digit with a recomputed check character (both IDs valid).
    // Near-miss: two different people with the same name and birth date.
    for variant in 0..3 {
        let p = pool.next_retiree();
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2300.0),
            rng,
        );
        let other = match variant {
            0 | 1 => people::typo_in_sequence(&p.id, variant),
            _ => people::typo_recomputed(&p.id),
        };
        enrol(
            &mut c.pension,
            &p,
            other.clone(),
            PENSION_SCHEMES[1],
            "参保缴费",
            None,
            rng,
        );
        let account = new_account(&mut c.account_seq, rng);
        pay(&mut c.payments, &p, &MONTHS, &account, 2300.0, rng);
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
                &mut c.pension,
                q,
                q.id.clone(),
                PENSION_SCHEMES[1],
                "参保缴费",
                None,
                rng,
            );
        }
    }

    // Rows the loader must reject: a ragged row and an amount that is not a number.
    let p = pool.next_retiree();
    c.pension.push(vec![
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
        .push(("pension_enrolment.csv".into(), c.pension.len() as u64 + 1));
    let p = pool.next_retiree();
    enrol(
        &mut c.pension,
        &p,
        p.id.clone(),
        PENSION_SCHEMES[0],
        "正常领取",
        None,
        rng,
    );
    c.pension.last_mut()[5] = Cell::text("待核定");
    truth
        .rejected
        .entry("pension_enrolment".into())
        .or_default()
        .push(("pension_enrolment.csv".into(), c.pension.len() as u64 + 1));
}
