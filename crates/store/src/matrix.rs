//! The role catalogue and the permission matrix, read from their tables.

use pcis_domain::role::{Action, Grant, Role, Scope};

use crate::{DbResult, Tx, on_tx};

/// Loads the matrix. A row naming a role, action or scope this build does not know is an
/// error, not a silent grant or a silent drop: data and code must agree.
pub async fn load(tx: &mut Tx) -> DbResult<Vec<Grant>> {
    let rows: Vec<(String, String, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT role, action, scope FROM role_permission ORDER BY role, action")
            .fetch_all(c)
            .await
    })?;
    rows.into_iter()
        .map(|(r, a, s)| match (Role::parse(&r), Action::parse(&a), Scope::parse(&s)) {
            (Some(role), Some(action), Some(scope)) => Ok(Grant { role, action, scope }),
            _ => Err(sqlx::Error::Protocol(format!("unknown permission matrix row: {r} {a} {s}"))),
        })
        .collect()
}

/// The role codes of the catalogue table, in display order.
pub async fn role_codes(tx: &mut Tx) -> DbResult<Vec<String>> {
    on_tx!(tx, c => sqlx::query_scalar("SELECT code FROM role ORDER BY sort").fetch_all(c).await)
}
