//! RFC 3339 timestamps (`2026-12-01T10:00:00Z`, `2026-12-01T11:00:00.5+01:00`) as Unix milliseconds.
//! Small on purpose: the schedule needs a point in time, not a calendar library in the module.

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width decimal field, e.g. the month in `2026-12-01`.
fn number(text: &[u8], at: usize, width: usize) -> Option<i64> {
    let field = text.get(at..at + width)?;
    field.iter().try_fold(0i64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// Unix milliseconds of an RFC 3339 date-time; fractions below a millisecond are dropped.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let invalid =
        || format!("\"{text}\" is not an RFC 3339 time; write e.g. \"2026-12-01T10:00:00Z\"");
    let b = text.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20
        || !separators.iter().all(|(at, c)| b[*at] == *c)
        || !matches!(b[10], b'T' | b't')
    {
        return Err(invalid());
    }
    let field = |at, width| number(b, at, width).ok_or_else(invalid);
    let (year, month, day) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    let (hour, minute, second) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!("\"{text}\" names a day that does not exist"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "\"{text}\": hours 00-23, minutes and seconds 00-59 (no leap second)"
        ));
    }
    let mut at = 19;
    let mut millis = 0;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(invalid());
        }
        let kept = digits.min(3);
        millis = field(at + 1, kept)? * 10i64.pow(3 - kept as u32);
        at += 1 + digits;
    }
    let offset_minutes = match b.get(at..) {
        Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let (hours, minutes) = (field(at + 1, 2)?, field(at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return Err(invalid());
            }
            let minutes = hours * 60 + minutes;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return Err(invalid()),
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        // date -u -d 2026-12-01T10:00:00Z +%s
        assert_eq!(parse_rfc3339("2026-12-01T10:00:00Z"), Ok(1_796_119_200_000));
        assert_eq!(
            parse_rfc3339("2026-12-01T11:00:00+01:00"),
            Ok(1_796_119_200_000)
        );
        assert_eq!(
            parse_rfc3339("2026-12-01t04:30:00.25-05:30"),
            Ok(1_796_119_200_250)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00.123456Z"),
            Ok(1_709_164_800_123)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(-1_000));
    }

    #[test]
    fn refuses_bad_times_with_a_reason() {
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01 10:00:00Z",
            "2026-12-01T10:00:00",
            "2026-12-01T10:00:00+0100",
            "2026-12-01T10:00:00.Z",
            "2026-12-01T10:00Z",
            "2026-12-01T10:00:00ZZ",
            "2026-1a-01T10:00:00Z",
        ] {
            let reason = parse_rfc3339(bad).unwrap_err();
            assert!(reason.contains("not an RFC 3339 time"), "{bad}: {reason}");
        }
        assert!(parse_rfc3339("2025-02-29T00:00:00Z")
            .unwrap_err()
            .contains("does not exist"));
        assert!(parse_rfc3339("2026-12-01T24:00:00Z")
            .unwrap_err()
            .contains("hours 00-23"));
        assert!(parse_rfc3339("2026-12-31T23:59:60Z")
            .unwrap_err()
            .contains("no leap second"));
    }
}
