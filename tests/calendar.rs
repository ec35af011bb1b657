//! The shipped working-day calendar against the State Council's notices, typed here from the
//! notices' own text (not from the shipped file), for every day of four years.

use chrono::{Datelike, NaiveDate, Weekday};
use crosscheck::calendar::{is_workday, working_days};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Notice {
    year: i32,
    /// Breaks, first and last day off ("放假调休").
    off: &'static [(&'static str, &'static str)],
    /// Weekend days worked ("上班").
    worked: &'static [&'static str],
}

const NOTICES: &[Notice] = &[
    // 国办发明电〔2022〕16号
    Notice {
        year: 2023,
        off: &[
            ("2023-01-01", "2023-01-02"),
            ("2023-01-21", "2023-01-27"),
            ("2023-04-05", "2023-04-05"),
            ("2023-04-29", "2023-05-03"),
            ("2023-06-22", "2023-06-24"),
            ("2023-09-29", "2023-10-06"),
        ],
        worked: &[
            "2023-01-28",
            "2023-01-29",
            "2023-04-23",
            "2023-05-06",
            "2023-06-25",
            "2023-10-07",
            "2023-10-08",
        ],
    },
    // 国办发明电〔2023〕7号
    Notice {
        year: 2024,
        off: &[
            ("2024-01-01", "2024-01-01"),
            ("2024-02-10", "2024-02-17"),
            ("2024-04-04", "2024-04-06"),
            ("2024-05-01", "2024-05-05"),
            ("2024-06-10", "2024-06-10"),
            ("2024-09-15", "2024-09-17"),
            ("2024-10-01", "2024-10-07"),
        ],
        worked: &[
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ],
    },
    // 国办发明电〔2024〕12号
    Notice {
        year: 2025,
        off: &[
            ("2025-01-01", "2025-01-01"),
            ("2025-01-28", "2025-02-04"),
            ("2025-04-04", "2025-04-06"),
            ("2025-05-01", "2025-05-05"),
            ("2025-05-31", "2025-06-02"),
            ("2025-10-01", "2025-10-08"),
        ],
        worked: &[
            "2025-01-26",
            "2025-02-08",
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
        ],
    },
    // 国办发明电〔2025〕7号
    Notice {
        year: 2026,
        off: &[
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ],
        worked: &[
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ],
    },
];

#[test]
fn every_day_of_four_years_agrees_with_the_state_council_notices() {
    for n in NOTICES {
        let mut day = d(&format!("{}-01-01", n.year));
        let mut mismatches = Vec::new();
        let mut counted = 0;
        while day.year() == n.year {
            let off = n.off.iter().any(|(a, b)| d(a) <= day && day <= d(b));
            let worked = n.worked.contains(&day.to_string().as_str());
            let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            let expected = worked || (!weekend && !off);
            if is_workday(day).unwrap() != expected {
                mismatches.push(day);
            }
            counted += expected as i32;
            day = day.succ_opt().unwrap();
        }
        assert!(mismatches.is_empty(), "{}: {mismatches:?}", n.year);
        // The year's working days, end to end, equal the count from the notice.
        let before = d(&format!("{}-12-31", n.year - 1));
        let last = d(&format!("{}-12-31", n.year));
        assert_eq!(
            working_days(before, last).unwrap(),
            counted as i64,
            "{}",
            n.year
        );
    }
}

#[test]
fn working_days_count_after_the_first_day_up_to_the_last() {
    // Accepted Friday 2025-09-26, decided Thursday 2025-10-16: Sunday 9-28 and Saturday 10-11
    // are worked, 10-1 to 10-8 are off → 9-28, 9-29, 9-30, 10-9, 10-10, 10-11, 10-13..10-16.
    assert_eq!(working_days(d("2025-09-26"), d("2025-10-16")).unwrap(), 10);
    assert_eq!(working_days(d("2025-09-26"), d("2025-09-26")).unwrap(), 0);
    assert_eq!(working_days(d("2025-10-16"), d("2025-09-26")).unwrap(), -10);
    // A 2015 special holiday (70th anniversary, 3-4 September; Sunday 6 September worked).
    assert!(!is_workday(d("2015-09-04")).unwrap());
    assert!(is_workday(d("2015-09-06")).unwrap());
}

#[test]
fn a_date_outside_the_calendar_is_an_error_saying_what_to_do() {
    let e = working_days(d("2014-12-31"), d("2015-01-05")).unwrap_err();
    assert!(
        e.contains("2014-12-31 is outside the working-day calendar"),
        "{e}"
    );
    assert!(e.contains("2015-01-01 to 2026-12-31"), "{e}");
    assert!(is_workday(d("2027-01-04")).is_err());
}
