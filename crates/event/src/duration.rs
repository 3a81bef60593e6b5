//! Durations as users write them: `30s`, `15m`, `24h`, `7d`, `2w`.

/// Parses a duration into nanoseconds. One parser for every flag and query parameter that
/// takes one (`--since`, `--retain`, `?since=`): an amount too large for 64-bit nanoseconds
/// (about 292 years) is an error, never a wrapped value.
///
/// ```
/// use tripline_event::parse_duration_ns;
/// assert_eq!(parse_duration_ns("15m"), Ok(900_000_000_000));
/// assert_eq!(parse_duration_ns("7d"), Ok(7 * 86_400 * 1_000_000_000));
/// assert!(parse_duration_ns("99999999999d").unwrap_err().contains("too large"));
/// assert!(parse_duration_ns("12").is_err());
/// ```
pub fn parse_duration_ns(text: &str) -> Result<i64, String> {
    let s = text.trim();
    let expected = || format!("'{text}': expected a duration like 30s, 15m, 24h, 7d or 2w");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(expected)?;
    let (num, unit) = s.split_at(split);
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(expected()),
    };
    let n: i64 = num.parse().map_err(|_| {
        if num.is_empty() {
            expected()
        } else {
            format!("'{text}': too large")
        }
    })?;
    n.checked_mul(seconds)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .ok_or_else(|| format!("'{text}': too large (at most about 292 years)"))
}
