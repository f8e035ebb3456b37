//! Request inputs shared by the pages and the JSON API, so that the same fields parse the
//! same way whichever presentation they arrive through.

use pcis_domain::DomainError;
use pcis_domain::audit::Outcome;
use pcis_domain::institution::InstStatus;
use pcis_domain::role::Role;
use pcis_domain::user::UserStatus;
use pcis_service::AuditFilter;
use pcis_service::UserFilter;
use pcis_service::users::AccountOp;
use serde::{Deserialize, Serialize};

/// Filters and page of the user list.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct UsersQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub role: String,
    /// `1`: only accounts locked now.
    #[serde(default)]
    pub locked: String,
    #[serde(default)]
    pub page: Option<i64>,
}

impl UsersQuery {
    pub fn filter(&self, now: time::OffsetDateTime) -> UserFilter {
        UserFilter {
            text: self.q.clone(),
            status: UserStatus::parse(&self.status),
            role: Role::parse(&self.role),
            locked_at: (self.locked == "1").then_some(now),
        }
    }

    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 100_000)
    }
}

/// A status change of an institution, with its reason.
#[derive(Deserialize)]
pub struct StatusInput {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

impl StatusInput {
    pub fn status(&self) -> Result<InstStatus, DomainError> {
        InstStatus::parse(&self.status).ok_or_else(|| DomainError::invalid("status", "err.required"))
    }
}

/// An account operation on a user, with its reason.
#[derive(Deserialize)]
pub struct AccountInput {
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub reason: String,
}

impl AccountInput {
    pub fn op(&self) -> Result<AccountOp, DomainError> {
        AccountOp::parse(&self.op).ok_or_else(|| DomainError::invalid("op", "err.required"))
    }
}

/// The complete new set of a user's roles.
#[derive(Deserialize)]
pub struct RolesInput {
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Deserialize, Default, Clone, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub page: Option<i64>,
}

impl AuditQuery {
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 1_000_000)
    }

    /// Dates are whole days in China Standard Time (UTC+8), the bank's business day.
    pub fn filter(&self) -> Result<AuditFilter, DomainError> {
        let day = |s: &str,
                   field: &'static str,
                   add_day: bool|
         -> Result<Option<time::OffsetDateTime>, DomainError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| DomainError::invalid(field, "err.date_format"))?;
            let d = if add_day { d.next_day().unwrap_or(d) } else { d };
            Ok(Some(d.midnight().assume_offset(time::macros::offset!(+8))))
        };
        Ok(AuditFilter {
            username: self.username.clone(),
            action: self.action.clone(),
            outcome: Outcome::parse(&self.outcome),
            from: day(&self.from, "from", false)?,
            to: day(&self.to, "to", true)?,
        })
    }
}
