//! Values a POST has just revealed, shown once by the page it redirects to (POST → redirect
//! → GET): the browser's history never holds a page that re-reveals on reload, and the
//! values wait sealed on the session row, not in a cookie or in memory of one node.

use pcis_domain::DomainError;
use pcis_domain::customer::SensitiveField;
use pcis_service::FullChange;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::security::Auth;

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShownOnce {
    /// Fields of one customer revealed on its 360 (an account number names its account).
    Customer { id: i64, values: Vec<(SensitiveField, Option<i64>, String)> },
    /// A proposal's changed fields in full, for the reviewer who asked.
    Review { proposal: i64, changes: Vec<FullChange> },
}

impl ShownOnce {
    pub async fn hold(&self, st: &AppState, auth: &Auth) -> Result<(), DomainError> {
        let json = serde_json::to_string(self).map_err(|_| DomainError::Internal("shown".into()))?;
        st.app.hold_shown(&auth.session, &json).await
    }

    /// What the previous request held for this page, if anything; taking it clears it.
    pub async fn take(st: &AppState, auth: &Auth) -> Result<Option<ShownOnce>, DomainError> {
        let held = st.app.take_shown(&auth.session).await?;
        Ok(held.and_then(|json| serde_json::from_str(&json).ok()))
    }
}
