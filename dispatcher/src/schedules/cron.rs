//! Five-field cron expressions (minute hour day-of-month month day-of-week) and the next local
//! time that matches one. Timezones are not handled here: the caller turns local times into
//! instants (PostgreSQL does, with its timezone database).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A parsed expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day-of-month and day-of-week both restricted: a day matches either (cron's rule).
    either_day: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    /// Parses `m h dom mon dow` (lists, ranges, steps, names, `7` = Sunday) or a macro
    /// (`@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`).
    pub fn parse(text: &str) -> Result<Cron, String> {
        let expanded = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "needs 5 fields (minute hour day month weekday), got {}",
                fields.len()
            ));
        };
        let weekdays = field(weekday, 0, 7, &WEEKDAYS, "weekday")?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(Cron {
            minutes: field(minute, 0, 59, &[], "minute")?,
            hours: u32::try_from(field(hour, 0, 23, &[], "hour")?).unwrap_or(0),
            days: u32::try_from(field(day, 1, 31, &[], "day")?).unwrap_or(0),
            months: u16::try_from(field(month, 1, 12, &MONTHS, "month")?).unwrap_or(0),
            weekdays: u8::try_from(weekdays).unwrap_or(0),
            either_day: !day.starts_with('*') && !weekday.starts_with('*'),
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let by_day = self.days & (1 << date.day()) != 0;
        let by_weekday = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.either_day {
            by_day || by_weekday
        } else {
            by_day && by_weekday
        }
    }

    /// The first local minute strictly after `after` that matches, within five years (`None`
    /// for expressions that never match, such as `0 0 30 2 *`).
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date();
        for _ in 0..(366 * 5) {
            if self.day_matches(date) {
                let from = if date == start.date() {
                    start.time()
                } else {
                    NaiveTime::MIN
                };
                if let Some(time) = self.first_time_from(from) {
                    return Some(date.and_time(time));
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    fn first_time_from(&self, from: NaiveTime) -> Option<NaiveTime> {
        for hour in from.hour()..24 {
            if self.hours & (1 << hour) == 0 {
                continue;
            }
            let first_minute = if hour == from.hour() {
                from.minute()
            } else {
                0
            };
            for minute in first_minute..60 {
                if self.minutes & (1 << minute) != 0 {
                    return NaiveTime::from_hms_opt(hour, minute, 0);
                }
            }
        }
        None
    }
}

/// One field as a bit set over `min..=max`.
fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|step| *step >= 1).ok_or_else(|| {
                        format!("{what}: step {step:?} must be a positive number")
                    })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (
                value(low, min, max, names, what)?,
                value(high, min, max, names, what)?,
            )
        } else {
            let low = value(range, min, max, names, what)?;
            // `5/15` means from 5 to the end in steps of 15.
            (low, if part.contains('/') { max } else { low })
        };
        if low > high {
            return Err(format!("{what}: range {range:?} runs backwards"));
        }
        for v in (low..=high).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn value(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = names
        .iter()
        .position(|name| *name == lower)
        .and_then(|index| u32::try_from(index).ok())
        .map(|index| index + min);
    named
        .or_else(|| text.parse().ok())
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("{what}: {text:?} is not between {min} and {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a time")
    }

    fn next(cron: &str, after: &str) -> String {
        Cron::parse(cron)
            .expect("valid")
            .next_after(at(after))
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }

    #[test]
    fn next_ticks_follow_each_field() {
        assert_eq!(next("*/15 * * * *", "2026-03-01 10:07"), "2026-03-01 10:15");
        assert_eq!(
            next("0 9 * * mon-fri", "2026-12-04 09:00"),
            "2026-12-07 09:00",
            "Friday → Monday"
        );
        assert_eq!(
            next("30 2 29 feb *", "2026-01-01 00:00"),
            "2028-02-29 02:30"
        );
        assert_eq!(next("@daily", "2026-12-31 23:59"), "2027-01-01 00:00");
        assert_eq!(
            next("0 0 1 * 0", "2026-12-02 00:00"),
            "2026-12-06 00:00",
            "day OR weekday"
        );
        assert_eq!(next("5/20 * * * *", "2026-01-01 00:06"), "2026-01-01 00:25");
        assert_eq!(
            next("0 12 * * 7", "2026-12-03 00:00"),
            "2026-12-06 12:00",
            "7 is Sunday"
        );
        assert_eq!(next("0 0 30 2 *", "2026-01-01 00:00"), "", "never");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "* * * foo *",
            "@often",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
    }
}
