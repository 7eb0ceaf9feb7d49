//! Poll schedules: how long to wait before asking again whether a remote operation finished.
//!
//! Quick at first (short operations are seen finishing within a fraction of a second), then
//! growing geometrically to a cap (long ones cost few calls). The defaults live here, in one
//! place.

use std::time::Duration;

/// A geometric schedule: `initial`, then each delay `factor` times the previous, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub factor: f64,
    pub max: Duration,
}

impl Backoff {
    /// GetJob and command status: 50 ms, x1.6, at most 10 s. The first look comes soon, as a
    /// quick job (a small plan) ends within a few hundred milliseconds and every poll skipped
    /// is latency added to it; a 2-minute job still costs fewer status calls this way (22)
    /// than the 24 of fixed 5-second polling.
    pub const STATUS: Backoff = Backoff {
        initial: Duration::from_millis(50),
        factor: 1.6,
        max: Duration::from_secs(10),
    };

    /// The delays in order (endless).
    pub fn delays(self) -> impl Iterator<Item = Duration> {
        let mut schedule = Schedule::new(self);
        std::iter::from_fn(move || Some(schedule.next_delay()))
    }
}

/// A [`Backoff`] in progress.
#[derive(Clone, Debug)]
pub struct Schedule {
    backoff: Backoff,
    next: Duration,
}

impl Schedule {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            next: backoff.initial,
        }
    }

    /// The next delay; the one after it grows.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.backoff.max);
        self.next = delay.mul_f64(self.backoff.factor).min(self.backoff.max);
        delay
    }

    /// Starts again from the initial delay (the operation is expected to end soon).
    pub fn reset(&mut self) {
        self.next = self.backoff.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_schedule_is_quick_first_and_capped() {
        let delays: Vec<u128> = Backoff::STATUS
            .delays()
            .take(13)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(
            delays,
            [
                50, 80, 128, 204, 327, 524, 838, 1342, 2147, 3435, 5497, 8796, 10000
            ]
        );
    }

    #[test]
    fn two_minutes_cost_fewer_status_calls_than_fixed_five_second_polling() {
        let mut elapsed = Duration::ZERO;
        let mut calls = 0;
        for delay in Backoff::STATUS.delays() {
            elapsed += delay;
            calls += 1;
            if elapsed >= Duration::from_secs(120) {
                break;
            }
        }
        // Fixed 5 s polling needs 24 calls to reach 2 minutes.
        assert!(calls < 24, "{calls} calls");
    }

    #[test]
    fn reset_starts_over() {
        let mut s = Schedule::new(Backoff::STATUS);
        for _ in 0..5 {
            s.next_delay();
        }
        s.reset();
        assert_eq!(s.next_delay(), Duration::from_millis(50));
    }
}
