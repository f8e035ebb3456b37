//! Request inputs shared by the pages and the JSON API, so that the same fields parse the
//! same way whichever presentation they arrive through.

use pcis_domain::DomainError;
use pcis_domain::audit::Outcome;
use pcis_domain::customer::{CustomerInput, SensitiveField};
use pcis_domain::institution::InstStatus;
use pcis_domain::role::Role;
use pcis_domain::user::UserStatus;
use pcis_service::AuditFilter;
use pcis_service::UserFilter;
use pcis_service::customers::CustomerSearch;
use pcis_service::users::AccountOp;
use pcis_service::{Listing, SortKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Page, length and order of any list: `?page=2&size=50&sort=-at`.
#[derive(Deserialize, Serialize, Default, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// From 1.
    #[serde(default, deserialize_with = "number", skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    /// Rows per page: 20, 50 or 100 (another value keeps the list's usual length).
    #[serde(default, deserialize_with = "number", skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// A sortable column's code, `-` before it for descending; an unknown one keeps the usual
    /// order.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sort: String,
}

impl ListParams {
    /// The list as asked, within what `usual` allows.
    pub fn listing<K: SortKey>(&self, usual: Listing<K>) -> Listing<K> {
        usual.requested(self.page, self.size, &self.sort)
    }
}

/// A number in a query string; flattened fields arrive as text, and an empty one is none.
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(Raw::Text(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Filters and page of the user list.
#[derive(Deserialize, Serialize, Default, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
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
    #[serde(flatten)]
    #[param(ignore)]
    pub list: ListParams,
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
}

/// A status change of an institution, with its reason.
#[derive(Deserialize, ToSchema)]
pub struct StatusInput {
    #[serde(default)]
    #[schema(value_type = InstStatus)]
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
#[derive(Deserialize, ToSchema)]
pub struct AccountInput {
    #[serde(default)]
    #[schema(pattern = "^(freeze|deregister|reactivate|unlock|force_logout)$")]
    pub op: String,
    /// Required to freeze, deregister or force a logout.
    #[serde(default)]
    pub reason: String,
}

impl AccountInput {
    pub fn op(&self) -> Result<AccountOp, DomainError> {
        AccountOp::parse(&self.op).ok_or_else(|| DomainError::invalid("op", "err.required"))
    }
}

/// The complete new set of a user's roles.
#[derive(Deserialize, ToSchema)]
pub struct RolesInput {
    #[serde(default)]
    #[schema(value_type = Vec<Role>)]
    pub roles: Vec<String>,
}

#[derive(Deserialize, Default, Clone, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub outcome: String,
    /// A customer number (客户号).
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(flatten)]
    #[param(ignore)]
    pub list: ListParams,
}

impl AuditQuery {
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
            Ok(Some(d.midnight().assume_offset(pcis_domain::CST)))
        };
        Ok(AuditFilter {
            username: self.username.clone(),
            action: self.action.clone(),
            outcome: Outcome::parse(&self.outcome),
            customer_no: self.customer.clone(),
            from: day(&self.from, "from", false)?,
            to: day(&self.to, "to", true)?,
        })
    }
}

/// Just a page number.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(default)]
    pub page: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 100_000)
    }
}

/// The customer search form (R-CUS-6). Ids arrive as text so that an empty select is "any".
#[derive(Deserialize, Serialize, Default, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub institution_id: String,
    #[serde(default)]
    pub manager_id: String,
    #[serde(default)]
    pub tag: String,
    #[serde(flatten)]
    #[param(ignore)]
    pub list: ListParams,
}

impl CustomerSearchQuery {
    pub fn search(&self) -> Result<CustomerSearch, DomainError> {
        let id = |s: &str, field: &'static str| -> Result<Option<i64>, DomainError> {
            match s.trim() {
                "" => Ok(None),
                v => v.parse().map(Some).map_err(|_| DomainError::invalid(field, "err.number")),
            }
        };
        Ok(CustomerSearch {
            q: self.q.clone(),
            tier: self.tier.clone(),
            institution_id: id(&self.institution_id, "institution_id")?,
            manager_id: id(&self.manager_id, "manager_id")?,
            tag: self.tag.clone(),
        })
    }
}

/// Reveal one field of one customer (an account's number names the account), with a reason.
#[derive(Deserialize, ToSchema)]
pub struct RevealInput {
    #[serde(default)]
    #[schema(value_type = SensitiveField)]
    pub field: String,
    /// The account whose number is revealed (`field` = `account_no`).
    #[serde(default)]
    pub account_id: Option<i64>,
    #[serde(default)]
    pub reason: String,
}

impl RevealInput {
    pub fn field(&self) -> Result<SensitiveField, DomainError> {
        SensitiveField::parse(&self.field).ok_or_else(|| DomainError::invalid("field", "err.reveal_field"))
    }
}

/// A proposed change: `modify` with the changed fields, or `delete`.
#[derive(Deserialize, ToSchema)]
pub struct ChangeInput {
    #[serde(default)]
    #[schema(pattern = "^(modify|delete)$")]
    pub kind: String,
    /// The changed fields of a modification; empty fields stay as they are.
    #[serde(default)]
    pub changes: CustomerInput,
}

impl ChangeInput {
    pub fn changes(&self) -> Result<Option<&CustomerInput>, DomainError> {
        match self.kind.as_str() {
            "modify" => Ok(Some(&self.changes)),
            "delete" => Ok(None),
            _ => Err(DomainError::invalid("kind", "err.proposal_kind")),
        }
    }
}

#[derive(Deserialize, Default, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalsQuery {
    #[serde(default)]
    pub status: String,
}

impl ProposalsQuery {
    pub fn status(&self) -> Option<&str> {
        ["pending", "approved", "rejected", "withdrawn"].into_iter().find(|s| *s == self.status)
    }
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionInput {
    #[serde(default)]
    pub approve: bool,
    #[serde(default)]
    pub comment: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CreditLookupInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub purpose: String,
}

impl std::fmt::Debug for CreditLookupInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreditLookupInput(..)")
    }
}

/// The suspicious list's tab and page (R-ETL-4).
#[derive(Deserialize, Serialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuspectsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tab: Option<pcis_service::suspects::SuspectTab>,
    #[serde(flatten)]
    #[param(ignore)]
    pub list: ListParams,
}

/// The staff report's look-back in days.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuspectReportQuery {
    #[serde(default)]
    pub days: Option<i64>,
}

/// An investigator's outcome (genuine, corrected, escalated) and note.
#[derive(Deserialize, ToSchema)]
pub struct ResolutionInput {
    #[serde(default)]
    #[schema(pattern = "^(genuine|corrected|escalated)$")]
    pub outcome: String,
    #[serde(default)]
    pub note: String,
}
