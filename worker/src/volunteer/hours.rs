//! Active hours: when the volunteer lets tasks run, as days and local-time ranges, e.g.
//! `Mon-Fri 09:00-17:00,Sat 10:00-12:00`. A range whose end is before its start runs past
//! midnight (`Fri 22:00-06:00` holds from Friday 22:00 to Saturday 06:00).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDateTime, Timelike};

/// One `DAYS HH:MM-HH:MM` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Bit `n` set: the range starts on weekday `n` (Monday = 0).
    days: u8,
    /// Minutes after midnight.
    from: u16,
    to: u16,
}

/// The volunteer's time windows; the machine may work when any of them holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveHours {
    rules: Vec<Rule>,
    text: String,
}

/// Why a window list cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("active hours `{input}`: {problem} (expected e.g. `Mon-Fri 09:00-17:00,Sat 10:00-12:00`)")]
pub struct HoursError {
    input: String,
    problem: String,
}

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Monday = 0; `Mon` or `Monday`, any case.
fn day(text: &str) -> Option<u8> {
    let lower = text.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|name| lower == *name || (lower.len() == 3 && name.starts_with(&lower)))
        .map(|index| index as u8)
}

fn days(text: &str) -> Result<u8, String> {
    let mut mask = 0u8;
    for part in text.split('+') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let first = day(first).ok_or_else(|| format!("`{first}` is not a day"))?;
        let last = day(last).ok_or_else(|| format!("`{last}` is not a day"))?;
        let mut d = first;
        loop {
            mask |= 1 << d;
            if d == last {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(mask)
}

fn minutes(text: &str) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a time HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) || text.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn rule(text: &str) -> Result<Rule, String> {
    let text = text.trim();
    let (day_part, time_part) = match text.split_once(char::is_whitespace) {
        Some((d, t)) => (d, t.trim()),
        // A bare range means every day.
        None if text.contains(':') => ("Mon-Sun", text),
        None => (text, "00:00-24:00"),
    };
    let (from, to) = time_part
        .split_once('-')
        .ok_or_else(|| format!("`{time_part}` is not a range HH:MM-HH:MM"))?;
    let (from, to) = (minutes(from.trim())?, minutes(to.trim())?);
    if from == to {
        return Err(format!("`{time_part}` is empty"));
    }
    Ok(Rule {
        days: days(day_part)?,
        from,
        to,
    })
}

impl FromStr for ActiveHours {
    type Err = HoursError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |problem: String| HoursError {
            input: input.to_owned(),
            problem,
        };
        if input.trim().is_empty() {
            return Err(error("no window".into()));
        }
        let rules = input
            .split(',')
            .map(rule)
            .collect::<Result<Vec<_>, _>>()
            .map_err(error)?;
        Ok(ActiveHours {
            rules,
            text: input.trim().to_owned(),
        })
    }
}

impl fmt::Display for ActiveHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ActiveHours {
    /// Whether `local` (the volunteer's wall clock) falls in a window.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let today = local.weekday().num_days_from_monday() as u8;
        let yesterday = (today + 6) % 7;
        let now = (local.hour() * 60 + local.minute()) as u16;
        self.rules.iter().any(|rule| {
            if rule.from < rule.to {
                rule.days & (1 << today) != 0 && (rule.from..rule.to).contains(&now)
            } else {
                // Past midnight: the evening part belongs to the start day, the morning part
                // to the day after it.
                (rule.days & (1 << today) != 0 && now >= rule.from)
                    || (rule.days & (1 << yesterday) != 0 && now < rule.to)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// 2026-11-30 is a Monday.
    fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 30 + day - 1)
            .or_else(|| NaiveDate::from_ymd_opt(2026, 12, day - 1))
            .and_then(|date| date.and_hms_opt(hour, minute, 0))
            .expect("valid date")
    }

    #[test]
    fn weekday_ranges_and_single_days_hold_in_their_hours_only() {
        let hours: ActiveHours = "Mon-Fri 09:00-17:00,Sat 10:00-12:00"
            .parse()
            .expect("valid");
        assert!(hours.contains(at(1, 9, 0)), "Monday 09:00 is in");
        assert!(hours.contains(at(5, 16, 59)), "Friday 16:59 is in");
        assert!(!hours.contains(at(5, 17, 0)), "the end is exclusive");
        assert!(!hours.contains(at(1, 8, 59)));
        assert!(hours.contains(at(6, 11, 30)), "Saturday 11:30");
        assert!(!hours.contains(at(6, 9, 30)), "Saturday 09:30");
        assert!(!hours.contains(at(7, 11, 0)), "Sunday is never");
        assert_eq!(hours.to_string(), "Mon-Fri 09:00-17:00,Sat 10:00-12:00");
    }

    #[test]
    fn a_range_past_midnight_belongs_to_its_start_day() {
        let hours: ActiveHours = "Fri 22:00-06:00".parse().expect("valid");
        assert!(hours.contains(at(5, 23, 0)), "Friday night");
        assert!(hours.contains(at(6, 5, 59)), "Saturday early morning");
        assert!(!hours.contains(at(6, 6, 0)));
        assert!(!hours.contains(at(4, 23, 0)), "Thursday night is not");
        assert!(!hours.contains(at(5, 5, 0)), "Friday early morning is not");
    }

    #[test]
    fn wrapping_day_ranges_full_days_and_bare_ranges_parse() {
        let weekend: ActiveHours = "Sat-Sun".parse().expect("valid");
        assert!(weekend.contains(at(7, 3, 0)) && !weekend.contains(at(1, 3, 0)));
        let wrap: ActiveHours = "Sun-Mon 00:00-24:00".parse().expect("valid");
        assert!(wrap.contains(at(7, 12, 0)) && wrap.contains(at(1, 12, 0)));
        assert!(!wrap.contains(at(2, 12, 0)));
        let nightly: ActiveHours = "01:00-05:00".parse().expect("valid");
        assert!(nightly.contains(at(3, 2, 0)) && !nightly.contains(at(3, 6, 0)));
        let listed: ActiveHours = "Mon+Wed 12:00-13:00".parse().expect("valid");
        assert!(listed.contains(at(3, 12, 30)) && !listed.contains(at(2, 12, 30)));
        let long: ActiveHours = "monday 08:00-09:00".parse().expect("valid");
        assert!(long.contains(at(1, 8, 30)));
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        for (input, problem) in [
            ("", "no window"),
            ("Mon 9:00-17:00", "`9:00` is not a time HH:MM"),
            ("Mon 09:00-25:00", "`25:00` is not a time"),
            ("Mon 09:60-10:00", "`09:60` is not a time"),
            ("Funday 09:00-10:00", "`Funday` is not a day"),
            ("Mon 09:00", "`09:00` is not a range"),
            ("Mon 09:00-09:00", "is empty"),
            ("Mon-Fri 09:00-17:00,", "is not a day"),
        ] {
            let error = input.parse::<ActiveHours>().expect_err(input).to_string();
            assert!(error.contains(problem), "{input}: {error}");
        }
    }
}
