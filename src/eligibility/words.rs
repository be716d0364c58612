//! How the rules' sentences write times and lists: straight into the sentence being formatted,
//! with the same text as before, but without a `String` per piece or chrono's formatting machinery.
//!
//! A run writes a sentence for every failed rule of two million evaluations (a closed window
//! alone, "closed: local time 23:10:00 is outside 09:00:00–17:30:00 Europe/London; opens at …",
//! for four hundred thousand). Building the pieces as strings first and then the sentence from
//! them was about a tenth of pesync's CPU in the run (issue 12).

use std::fmt::{self, Display};

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};

/// `HH:MM:SS` (sub-seconds dropped), the form windows are written in.
#[derive(Debug, Clone, Copy)]
pub struct Hms(pub NaiveTime);

impl Display for Hms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let mut text = *b"00:00:00";
        two_digits(&mut text[0..2], t.hour());
        two_digits(&mut text[3..5], t.minute());
        two_digits(&mut text[6..8], t.second());
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// An instant as chrono's `Display` writes it (`2026-12-07 08:00:00 UTC`), which is how the
/// stored sentences have always read. Written by hand for whole seconds of years 0–9999 (every
/// opening and cooldown a run computes); anything else goes to chrono.
#[derive(Debug, Clone, Copy)]
pub struct At(pub DateTime<Utc>);

impl Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let year = t.year();
        if t.nanosecond() != 0 || !(0..=9999).contains(&year) {
            return Display::fmt(&t, f);
        }
        let mut text = *b"0000-00-00 00:00:00 UTC";
        two_digits(&mut text[0..2], year as u32 / 100);
        two_digits(&mut text[2..4], year as u32 % 100);
        two_digits(&mut text[5..7], t.month());
        two_digits(&mut text[8..10], t.day());
        two_digits(&mut text[11..13], t.hour());
        two_digits(&mut text[14..16], t.minute());
        two_digits(&mut text[17..19], t.second());
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Items separated by `, ` (what `join(", ")` of their texts gives).
pub struct Listed<I>(pub I);

impl<I> Display for Listed<I>
where
    I: Iterator + Clone,
    I::Item: Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

/// Writes `n` (below 100) as two ASCII digits.
fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn times_read_as_before() {
        let t = NaiveTime::from_hms_opt(7, 5, 9).unwrap();
        assert_eq!(Hms(t).to_string(), "07:05:09");
        let t = NaiveTime::from_hms_milli_opt(23, 59, 59, 1_500).unwrap(); // a leap second
        assert_eq!(Hms(t).to_string(), format!("{:02}:{:02}:{:02}", 23, 59, 59));
    }

    #[test]
    fn lists_read_like_a_join() {
        let tiers = ["high", "moderate"];
        assert_eq!(Listed(tiers.iter()).to_string(), tiers.join(", "));
        assert_eq!(Listed(std::iter::empty::<&str>()).to_string(), "");
    }

    #[test]
    fn unusual_instants_read_as_chrono_writes_them() {
        for t in [
            Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            Utc.timestamp_opt(1_800_000_000, 250_000_000).unwrap(),
        ] {
            assert_eq!(At(t).to_string(), t.to_string());
        }
    }

    proptest! {
        #[test]
        fn instants_read_as_chrono_writes_them(
            secs in -70_000_000_000i64..300_000_000_000i64,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ) {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            prop_assert_eq!(At(t).to_string(), t.to_string());
        }

        #[test]
        fn times_of_day_read_as_two_digits_each(secs in 0u32..86_400) {
            let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap();
            prop_assert_eq!(
                Hms(t).to_string(),
                format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
            );
        }
    }
}
