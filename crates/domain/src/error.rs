//! The one domain error. Messages are i18n keys (`err.*`), never text: the web layer renders
//! them in the user's language, as JSON with a stable code or beside the form field.

use std::fmt;

/// A validation failure on one input field: which field, which rule (an i18n key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub rule: &'static str,
}

impl FieldError {
    pub fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// A bad row of an uploaded file: its 1-based line number (header is line 1), field, rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub row: u64,
    pub field: &'static str,
    pub rule: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Bad rows in an uploaded file; nothing was written.
    #[error("invalid rows: {0:?}")]
    InvalidRows(Vec<RowError>),
    /// Bad input; nothing was written.
    #[error("invalid input: {}", fields(.0))]
    Invalid(Vec<FieldError>),
    /// The policy refused; `reason` is an i18n key.
    #[error("denied: {reason}")]
    Denied { reason: &'static str },
    /// Not logged in, or the session ended.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Login failed; one message whether or not the user exists (R-AUTH-2).
    #[error("bad credentials")]
    BadCredentials,
    /// The password expired or is a one-time password: change it before anything else.
    #[error("password change required")]
    PasswordChangeRequired,
    #[error("not found")]
    NotFound,
    /// A state rule refused the change (e.g. closing an institution that still has users).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A request of this kind is already pending for the object (the workflow kit allows
    /// one at a time); `id` names it, so the person can find it.
    #[error("already pending: {id}")]
    AlreadyPending { id: i64 },
    /// Not possible on this node just now, nothing wrong with the request (a data key being
    /// distributed during a rotation): try again shortly.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// Storage or another internal failure; details go to the log, never to the user.
    #[error("internal: {0}")]
    Internal(String),
}

/// The fields and rules of invalid input, for an operator's command line: `field (rule), …`.
fn fields(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{} ({})", e.field, e.rule)).collect::<Vec<_>>().join(", ")
}

impl DomainError {
    pub fn invalid(field: &'static str, rule: &'static str) -> Self {
        Self::Invalid(vec![FieldError::new(field, rule)])
    }

    /// The stable code of the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::InvalidRows(_) => "invalid_rows",
            Self::Denied { .. } => "forbidden",
            Self::Unauthenticated => "unauthenticated",
            Self::BadCredentials => "bad_credentials",
            Self::PasswordChangeRequired => "password_change_required",
            Self::NotFound => "not_found",
            Self::Conflict(_) => "conflict",
            Self::AlreadyPending { .. } => "already_pending",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
