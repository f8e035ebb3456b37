//! The rights of the application role on PostgreSQL (R-AUD-2): what `pcis serve`, the
//! nightly job, the import and the key rotation need, and nothing that changes the schema or
//! rewrites the audit log. Derived from the live schema, so tables of a new migration are
//! covered when the owner runs it again after `pcis migrate`.

use crate::db::Db;
use crate::{DbError, DbResult};

/// The statements that give `role` its rights in the current database and schema, in order.
/// The caller runs them as the schema's owner.
pub async fn app_role_statements(db: &Db, role: &str) -> DbResult<Vec<String>> {
    let pool = postgres(db)?;
    if role.is_empty() || !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbError::Configuration(
            "the application role's name may hold ASCII letters, digits and _ only".into(),
        ));
    }
    let (database, schema): (String, String) =
        sqlx::query_as("SELECT current_database()::text, current_schema()::text").fetch_one(pool).await?;
    let (database, schema) = (quote(&database), quote(&schema));
    Ok(vec![
        // Temporary tables: the tier recomputation gathers its changes in one.
        format!("GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}"),
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"),
        // Statistics after each load, through the owner's function (migration 0021).
        format!("GRANT EXECUTE ON FUNCTION {schema}.pcis_refresh_statistics() TO {role}"),
        // The audit log is append-only for the application; its chain head is one row it
        // only updates; only the migration role records migrations.
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_log FROM {role}"),
        format!("REVOKE INSERT, DELETE, TRUNCATE ON {schema}.audit_chain_head FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}._sqlx_migrations FROM {role}"),
    ])
}

/// Gives `role` its rights: every statement of [`app_role_statements`] in one transaction.
pub async fn grant_app_role(db: &Db, role: &str) -> DbResult<usize> {
    let statements = app_role_statements(db, role).await?;
    let mut tx = postgres(db)?.begin().await?;
    for s in &statements {
        sqlx::query(sqlx::AssertSqlSafe(s.as_str())).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(statements.len())
}

fn postgres(db: &Db) -> DbResult<&sqlx::PgPool> {
    match db {
        Db::Pg(pool) => Ok(pool),
        Db::Sqlite { .. } => {
            Err(DbError::Configuration("the application role's grants are for PostgreSQL only".into()))
        }
    }
}

/// An identifier quoted for PostgreSQL.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
