//! Times as the formats write them: RFC 3339 in trusted roots, seconds since the Unix epoch
//! everywhere else. Proleptic Gregorian calendar, UTC; no leap seconds (as every peer).

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days from 1970-01-01 to a civil date (Hinnant's days_from_civil), for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y % 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time (`2021-03-07T03:20:29.000Z`, or with a `+hh:mm`/`-hh:mm` offset) as
/// seconds since the epoch, fractions truncated (as the protobuf Timestamp's seconds). `None`
/// for anything else, or a time before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    match rest.as_bytes() {
        [b'Z' | b'z'] => Some(local),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let offset = (u64::from(h1 - b'0') * 10 + u64::from(h2 - b'0')) * 3600
                + (u64::from(m1 - b'0') * 10 + u64::from(m2 - b'0')) * 60;
            if *sign == b'+' {
                local.checked_sub(offset)
            } else {
                local.checked_add(offset)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_827_561_565), "2027-11-30T07:59:25Z");
        assert_eq!(utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn rfc3339_round_trips_and_refusals() {
        for secs in [0, 951_782_400, 1_615_087_229, 1_827_561_565, 4_107_542_399] {
            assert_eq!(parse_rfc3339(&utc(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2021-03-07T03:20:29.000Z"),
            Some(1_615_087_229)
        );
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59.999Z"),
            Some(1_672_531_199)
        );
        assert_eq!(
            parse_rfc3339("2021-03-07T05:20:29+02:00"),
            Some(1_615_087_229)
        );
        assert_eq!(
            parse_rfc3339("2021-03-07T01:20:29-02:00"),
            Some(1_615_087_229)
        );
        for bad in [
            "",
            "2021-03-07",
            "2021-03-07T03:20:29",
            "2021-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-03-07T24:00:00Z",
            "2021-03-07T03:20:29.Z",
            "1969-12-31T23:59:59Z",
            "2021-03-07T03:20:29+0200",
            "+021-03-07T03:20:29Z",
            "2021-03-07T03:20:29ZZ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
