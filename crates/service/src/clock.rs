//! The clock is passed in, so expiry, lockout and escalation are testable without sleeping.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync {
    /// Now, in UTC, to the microsecond (what storage keeps).
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let t = OffsetDateTime::now_utc();
        t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
    }
}

/// A clock that moves only when told to; starts at the system time.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Mutex::new(SystemClock.now()))
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}
