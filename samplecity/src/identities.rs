//! Identities the standard allows and a careless normaliser loses (valid IDs ending in 000,
//! 15-digit IDs with sequences 996-999), and values exactly on the thresholds.

use super::*;

/// Identities the standard allows and a careless normaliser loses, and values exactly on the
/// thresholds.
pub(super) fn identities(
    c: &mut City,
    g: &mut grain::GrainTables,
    pool: &mut Pool,
    rng: &mut Rng,
    truth: &mut GroundTruth,
) {
    // Identities the standard allows and a careless normaliser loses: valid IDs ending in 000
    // (sequence x00, check character 0), and 15-digit IDs with sequences 996-999 whose owners
    // are 19xx in every other register. Each must match its other records.
    {
        let p = pool.next_ending_000(|p| p.age_in_2025() >= 62);
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(2345.6),
            rng,
        );
        let account = new_account(&mut c.account_seq, rng);
        pay(&mut c.payments, &p, &[1, 2, 3, 4, 5], &account, 2345.6, rng);
        death(&mut c.deaths, &p, d(2025, 3, 9), rng);
        // Paid for April and May after a death in March.
        truth.lead_amount("pension_paid_after_death", &p.id, 2, 2345.6);

        let p = pool.next_ending_000(|_| true);
        let (benefit, _) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        death(&mut c.deaths, &p, d(2025, 4, 2), rng);
        // Paid for May and June after a death in April.
        truth.lead_cents("dibao_recipient_deceased", &p.id, 2 * benefit * 100);

        let p = pool.next_ending_000(|_| true);
        let (benefit, enrolled) =
            household(&mut c.dibao, &p, Cell::text(people::fullwidth(&p.id)), rng);
        salary(&mut c.payroll, &p, rng);
        let since = enrolled.max(d(2025, city::SALARY_MONTHS[0], 1));
        truth.lead_cents(
            "dibao_on_public_payroll",
            &p.id,
            months_since(since) * benefit * 100,
        );

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
            &mut c.pension,
            &p,
            damaged.clone(),
            PENSION_SCHEMES[0],
            "正常领取",
            Some(1999.0),
            rng,
        );
        for m in [1u32, 2, 3, 4] {
            c.payments.push(vec![
                Cell::text(&damaged),
                Cell::text(&p.name),
                Cell::text(format!("2025{m:02}")),
                Cell::Num(1999.0),
                Cell::text("6217320199000000001"),
            ]);
        }
        c.deaths.push(vec![
            Cell::text(&p.name),
            Cell::text(&damaged),
            Cell::text("2025-02-11"),
            Cell::text(format!("{}公安分局", p.district_name())),
        ]);

        // Sequences 996-999: the land-lost farmer's requisition record and one dibao owner's
        // older deed carry the 15-digit ID.
        let p = pool.next_sequence_996_to_999();
        enrol(
            &mut c.pension,
            &p,
            p.id.clone(),
            LAND_LOST,
            "参保缴费",
            None,
            rng,
        );
        requisitioned(&mut c.requisition, &p, people::fifteen_digits(&p.id), rng);
        let p = pool.next_sequence_996_to_999();
        let (benefit, enrolled) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
        let first = home(&mut c.property, &p, p.id.clone(), 88.4, rng);
        let second = home(
            &mut c.property,
            &p,
            people::fifteen_digits(&p.id),
            63.2,
            rng,
        );
        // Ineligible from the later home (the second one owned), or enrolment if later.
        let since = enrolled.max(first.max(second));
        truth.lead_cents(
            "dibao_multiple_properties",
            &p.id,
            months_since(since) * benefit * 100,
        );

        // On the car price threshold (at or above 50,000): exactly 50,000.00 (a lead), and
        // 49,999.99 (not).
        for (price, plate, lead) in [
            ("50,000.00", "苏AZ9001", true),
            ("49999.99", "苏AZ9002", false),
        ] {
            let p = pool.next();
            let (benefit, enrolled) = household(&mut c.dibao, &p, Cell::text(&p.id), rng);
            c.vehicles.push(vec![
                Cell::text(&p.name),
                Cell::text(&p.id),
                Cell::text(plate),
                Cell::text("小型轿车"),
                Cell::text(price),
                Cell::text("2021/5/6"),
            ]);
            if lead {
                let since = enrolled.max(d(2021, 5, 6));
                truth.lead_cents("dibao_owns_car", &p.id, months_since(since) * benefit * 100);
            }
        }
    }
}
