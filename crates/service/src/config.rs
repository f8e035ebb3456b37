//! Security parameters (R-AUTH-1..3), all configurable, with the bank's defaults.

use pcis_domain::password::PasswordPolicy;
use serde::{Deserialize, Serialize};
use time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub password: PasswordPolicy,
    /// Consecutive failures before the account locks.
    pub lockout_failures: i32,
    pub lockout_minutes: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            password: PasswordPolicy::default(),
            lockout_failures: 5,
            lockout_minutes: 30,
            session_idle_minutes: 15,
            session_absolute_hours: 8,
        }
    }
}

impl SecurityConfig {
    /// Refuses settings weaker than the bank's floor (the first one found).
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().first() {
            Some(msg) => Err((*msg).to_owned()),
            None => Ok(()),
        }
    }

    /// Every setting weaker than the bank's floor, with its allowed range.
    pub fn problems(&self) -> Vec<&'static str> {
        let p = &self.password;
        let checks = [
            (p.min_length >= 8, "password.min_length must be at least 8"),
            (p.history >= 1, "password.history must be at least 1"),
            ((1..=90).contains(&p.max_age_days), "password.max_age_days must be between 1 and 90"),
            ((1..=10).contains(&self.lockout_failures), "lockout_failures must be between 1 and 10"),
            (self.lockout_minutes >= 1, "lockout_minutes must be at least 1"),
            ((1..=30).contains(&self.session_idle_minutes), "session_idle_minutes must be between 1 and 30"),
            (
                (1..=24).contains(&self.session_absolute_hours),
                "session_absolute_hours must be between 1 and 24",
            ),
        ];
        checks.iter().filter(|(ok, _)| !ok).map(|&(_, msg)| msg).collect()
    }

    pub fn idle(&self) -> Duration {
        Duration::minutes(self.session_idle_minutes)
    }

    pub fn absolute(&self) -> Duration {
        Duration::hours(self.session_absolute_hours)
    }
}
