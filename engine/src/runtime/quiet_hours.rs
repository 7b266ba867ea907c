//! Quiet hours: when a message may go out, in the recipient's local time.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::model::QuietWindow;

/// Whether local time `t` falls in the quiet period `[start, end)` (which may wrap midnight).
fn is_quiet(t: Time, window: &QuietWindow) -> bool {
    let (start, end) = (window.start.0, window.end.0);
    if start == end {
        false
    } else if start > end {
        t >= start || t < end
    } else {
        t >= start && t < end
    }
}

/// The first moment at or after `now` that is allowed in `zone` and not on one of `closed`
/// days (local dates): the end of quiet hours on the first open day after them.
pub fn next_open(
    now: Timestamp,
    zone: &TimeZone,
    window: &QuietWindow,
    closed: &[jiff::civil::Date],
) -> Timestamp {
    let mut at = next_allowed(now, zone, window);
    // Each closed day moves the send to the next morning; a run of closed days is crossed
    // one by one (bounded by the number of closed days).
    for _ in 0..=closed.len() {
        let local = at.to_zoned(zone.clone());
        if !closed.contains(&local.date()) {
            return at;
        }
        let next_day = local.date().tomorrow().unwrap_or(local.date());
        at = next_day
            .to_datetime(window.end.0)
            .to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(at);
    }
    at
}

/// The first moment at or after `now` when sending is allowed in `zone`. A window end that
/// falls in a daylight-saving gap resolves to the first valid time after it.
pub fn next_allowed(now: Timestamp, zone: &TimeZone, window: &QuietWindow) -> Timestamp {
    let local = now.to_zoned(zone.clone());
    if !is_quiet(local.time(), window) {
        return now;
    }
    let end = window.end.0;
    let date = if local.time() < end {
        local.date()
    } else {
        local.date().tomorrow().unwrap_or(local.date())
    };
    date.to_datetime(end)
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClockTime;

    fn chicago() -> TimeZone {
        TimeZone::get("America/Chicago").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn matches_the_field_guide_table_across_dst() {
        let w = QuietWindow::default();
        let cases = [
            ("2026-03-08T04:00:00Z", "2026-03-08T13:00:00Z"), // Sat 22:00 CST → 08:00 CDT
            ("2026-03-08T11:00:00Z", "2026-03-08T13:00:00Z"), // 06:00 CDT
            ("2026-11-01T03:00:00Z", "2026-11-01T14:00:00Z"), // Sat 22:00 CDT → 08:00 CST
            ("2026-11-01T06:30:00Z", "2026-11-01T14:00:00Z"), // 01:30 in the fold
            ("2026-11-02T03:30:00Z", "2026-11-02T14:00:00Z"), // Sun 21:30 CST
        ];
        for (now, expected) in cases {
            assert_eq!(
                next_allowed(at(now), &chicago(), &w),
                at(expected),
                "from {now}"
            );
        }
    }

    #[test]
    fn closed_days_move_the_send_to_the_next_open_morning() {
        let w = QuietWindow::default();
        let christmas: jiff::civil::Date = "2026-12-25".parse().unwrap();
        let boxing: jiff::civil::Date = "2026-12-26".parse().unwrap();
        // Christmas Eve 22:00 CST: held to 08:00, which is Christmas, then the 26th, so 27th.
        let eve = at("2026-12-25T04:00:00Z");
        assert_eq!(
            next_open(eve, &chicago(), &w, &[christmas, boxing]),
            at("2026-12-27T14:00:00Z")
        );
        // An open day sends as quiet hours allow.
        let noon = at("2026-12-23T18:00:00Z");
        assert_eq!(next_open(noon, &chicago(), &w, &[christmas]), noon);
    }

    #[test]
    fn inside_the_window_sends_now() {
        let now = at("2026-06-01T15:00:00Z"); // 10:00 CDT
        assert_eq!(next_allowed(now, &chicago(), &QuietWindow::default()), now);
    }

    #[test]
    fn a_daytime_quiet_period_does_not_wrap() {
        let lunch = QuietWindow {
            start: ClockTime::hm(12, 0),
            end: ClockTime::hm(13, 0),
        };
        let now = at("2026-06-01T17:30:00Z"); // 12:30 CDT
        assert_eq!(
            next_allowed(now, &chicago(), &lunch),
            at("2026-06-01T18:00:00Z")
        );
    }
}
