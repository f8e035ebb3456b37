//! Monitoring flags for the security auditor (e.g. a credit reviewer's repeated misses).

use pcis_domain::policy::ScopeFilter;
use pcis_domain::user::UserId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::SqlBuilder;
use crate::{DbResult, Tx, bind_args, exec, micros, on_tx};

/// Raises a flag of `kind` for the user unless one is open already; returns whether it did.
pub async fn raise(tx: &mut Tx, user: UserId, kind: &str, count: i64, now: OffsetDateTime) -> DbResult<bool> {
    let open: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM monitoring_flag WHERE user_id = $1 AND kind = $2 AND cleared_us IS NULL")
            .bind(user.0)
            .bind(kind)
            .fetch_one(c)
            .await
    })?;
    if open > 0 {
        return Ok(false);
    }
    exec!(
        tx,
        sqlx::query("INSERT INTO monitoring_flag (user_id, kind, detail, raised_us) VALUES ($1, $2, $3, $4)")
            .bind(user.0)
            .bind(kind)
            .bind(count.to_string())
            .bind(micros(now))
    )?;
    Ok(true)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Flag {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub kind: String,
    pub detail: String,
    pub raised_us: i64,
}

/// Open flags of users within the scope.
pub async fn open_flags(tx: &mut Tx, scope: &ScopeFilter) -> DbResult<Vec<Flag>> {
    let mut q = SqlBuilder::new(
        "SELECT f.id, f.user_id, u.username, u.display_name, f.kind, f.detail, f.raised_us
         FROM monitoring_flag f JOIN app_user u ON u.id = f.user_id JOIN institution i ON i.id = u.institution_id
         WHERE f.cleared_us IS NULL",
    );
    q.scope("i.path", scope).push(" ORDER BY f.raised_us DESC LIMIT 100");
    on_tx!(tx, c => bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await)
}
