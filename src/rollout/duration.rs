//! Durations as Kubernetes and Istio write them (Go's `time.ParseDuration`, whole numbers):
//! `"90s"`, `"10m"`, `"1h30m"`, `"250ms"`. The result is in milliseconds.

const UNITS: [(&str, u64); 4] = [("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];

/// Milliseconds of a duration such as `"1h30m"`; the reason a user can act on otherwise.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("\"{text}\" is not a duration; write e.g. \"90s\", \"10m\" or \"1h30m\"");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let (number, after) = rest.split_at(digits);
        if after.starts_with('.') {
            return Err(format!(
                "\"{text}\": write whole numbers of a smaller unit (\"90m\", not \"1.5h\")"
            ));
        }
        let (unit, scale) = UNITS
            .iter()
            .find(|(unit, _)| after.starts_with(unit))
            .ok_or_else(invalid)?;
        let amount = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(*scale))
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("\"{text}\" is too long a duration"))?;
        total = amount;
        rest = &after[unit.len()..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_kubernetes_durations() {
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("1h0m15s"), Ok(3_615_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1m500ms"), Ok(60_500));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["", "10", "m", "10 m", "-5s", "10x", "1h30", "s10", "1d"] {
            let reason = parse_duration(bad).unwrap_err();
            assert!(reason.contains("is not a duration"), "{bad}: {reason}");
        }
        assert!(parse_duration("1.5h")
            .unwrap_err()
            .contains("whole numbers"));
        assert!(parse_duration("99999999999999999999h")
            .unwrap_err()
            .contains("too long"));
    }
}
