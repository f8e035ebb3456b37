//! Institutions (机构) in storage. Subtree reads are path ranges; see `InstPath`.

use pcis_domain::institution::{
    InstKind, InstPath, InstStatus, Institution, InstitutionDraft, InstitutionId, Level,
};
use pcis_domain::policy::ScopeFilter;
use time::{Date, OffsetDateTime};

use crate::db::SqlBuilder;
use crate::{DbResult, Tx, bind_args, exec, micros, on_tx};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    code: String,
    name: String,
    level: i32,
    kind: String,
    status: String,
    parent_id: Option<i64>,
    path: String,
    effective_from: Date,
}

impl Row {
    fn into_domain(self) -> DbResult<Institution> {
        let bad = || sqlx::Error::Protocol(format!("institution {} has an invalid stored value", self.id));
        Ok(Institution {
            id: InstitutionId(self.id),
            level: Level::new(self.level.into()).ok_or_else(bad)?,
            kind: InstKind::parse(&self.kind).ok_or_else(bad)?,
            status: InstStatus::parse(&self.status).ok_or_else(bad)?,
            parent_id: self.parent_id.map(InstitutionId),
            path: InstPath::from_stored(self.path),
            code: self.code,
            name: self.name,
            effective_from: self.effective_from,
        })
    }
}

const COLUMNS: &str = "id, code, name, level, kind, status, parent_id, path, effective_from";

/// Inserts under `parent` (None for the head office) and sets the path from the new id.
pub async fn insert(
    tx: &mut Tx,
    draft: &InstitutionDraft,
    level: Level,
    parent: Option<&Institution>,
    now: OffsetDateTime,
) -> DbResult<Institution> {
    let now = micros(now);
    // A unique placeholder path until the id is known.
    let pending = format!("pending:{}", draft.code.as_str());
    let id: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO institution (code, name, level, kind, status, parent_id, path, effective_from, created_us, updated_us)
             VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(draft.code.as_str())
        .bind(&draft.name)
        .bind(i32::from(level.get()))
        .bind(draft.kind.code())
        .bind(parent.map(|p| p.id.0))
        .bind(&pending)
        .bind(draft.effective_from)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    let id = InstitutionId(id);
    let path = match parent {
        Some(p) => p.path.child(id),
        None => InstPath::root(id),
    };
    exec!(tx, sqlx::query("UPDATE institution SET path = $1 WHERE id = $2").bind(path.as_str()).bind(id.0))?;
    get(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn get(tx: &mut Tx, id: InstitutionId) -> DbResult<Option<Institution>> {
    let sql = format!("SELECT {COLUMNS} FROM institution WHERE id = $1");
    let row: Option<Row> =
        on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(c).await)?;
    row.map(Row::into_domain).transpose()
}

pub async fn get_by_code(tx: &mut Tx, code: &str) -> DbResult<Option<Institution>> {
    let sql = format!("SELECT {COLUMNS} FROM institution WHERE code = $1");
    let row: Option<Row> =
        on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(c).await)?;
    row.map(Row::into_domain).transpose()
}

/// The head office: the institution without a parent (the first made, should the tree hold
/// two from before a second root was refused); None while the tree is empty.
pub async fn head_office(tx: &mut Tx) -> DbResult<Option<Institution>> {
    let sql = format!("SELECT {COLUMNS} FROM institution WHERE parent_id IS NULL ORDER BY id LIMIT 1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_optional(c).await)?;
    row.map(Row::into_domain).transpose()
}

/// Every institution within the scope, in tree order (parents before children).
pub async fn list(tx: &mut Tx, scope: &ScopeFilter) -> DbResult<Vec<Institution>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM institution WHERE 1 = 1"));
    q.scope("path", scope).push(" ORDER BY path");
    let rows: Vec<Row> = on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await
    })?;
    rows.into_iter().map(Row::into_domain).collect()
}

pub async fn update(
    tx: &mut Tx,
    id: InstitutionId,
    draft: &InstitutionDraft,
    now: OffsetDateTime,
) -> DbResult<()> {
    exec!(tx, sqlx::query("UPDATE institution SET code = $1, name = $2, kind = $3, effective_from = $4, updated_us = $5 WHERE id = $6")
            .bind(draft.code.as_str())
            .bind(&draft.name)
            .bind(draft.kind.code())
            .bind(draft.effective_from)
            .bind(micros(now))
            .bind(id.0))?;
    Ok(())
}

pub async fn set_status(
    tx: &mut Tx,
    id: InstitutionId,
    status: InstStatus,
    now: OffsetDateTime,
) -> DbResult<()> {
    let effective_to = (status == InstStatus::Closed).then(|| now.date());
    exec!(
        tx,
        sqlx::query("UPDATE institution SET status = $1, effective_to = $2, updated_us = $3 WHERE id = $4")
            .bind(status.code())
            .bind(effective_to)
            .bind(micros(now))
            .bind(id.0)
    )?;
    Ok(())
}

/// Children that are not closed: an institution cannot close above open ones.
pub async fn count_open_children(tx: &mut Tx, id: InstitutionId) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM institution WHERE parent_id = $1 AND status <> 'closed'")
            .bind(id.0)
            .fetch_one(c)
            .await
    })
}

/// Users still attached (any status but deregistered): they must move before closing (R-ORG-3).
pub async fn count_users(tx: &mut Tx, id: InstitutionId) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM app_user WHERE institution_id = $1 AND status <> 'deregistered'")
            .bind(id.0)
            .fetch_one(c)
            .await
    })
}
