//! Users, their roles and password history in storage.

use pcis_domain::institution::{InstPath, InstitutionId, Level};
use pcis_domain::policy::{Actor, ScopeFilter};
use pcis_domain::role::Role;
use pcis_domain::user::{User, UserDraft, UserId, UserStatus};
use time::OffsetDateTime;

use crate::db::{Arg, SqlBuilder};
use crate::listing::Listing;
use crate::{DbResult, Page, Tx, bind_args, exec, from_micros, micros, on_tx};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    username: String,
    display_name: String,
    staff_no: String,
    institution_id: i64,
    institution_name: String,
    institution_path: String,
    institution_level: i32,
    status: String,
    roles: Option<String>,
    locked_until_us: Option<i64>,
    must_change_password: bool,
}

/// A user with where they sit in the tree, for policy checks.
#[derive(Debug, Clone)]
pub struct PlacedUser {
    pub user: User,
    pub path: InstPath,
    pub level: Level,
}

impl Row {
    fn into_domain(self) -> DbResult<PlacedUser> {
        let bad = || sqlx::Error::Protocol(format!("user {} has an invalid stored value", self.id));
        let roles = self
            .roles
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(Role::parse)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        let mut roles = roles;
        roles.sort();
        Ok(PlacedUser {
            level: Level::new(self.institution_level.into()).ok_or_else(bad)?,
            path: InstPath::from_stored(self.institution_path),
            user: User {
                id: UserId(self.id),
                status: UserStatus::parse(&self.status).ok_or_else(bad)?,
                username: self.username,
                display_name: self.display_name,
                staff_no: self.staff_no,
                institution_id: InstitutionId(self.institution_id),
                institution_name: self.institution_name,
                roles,
                locked_until: self.locked_until_us.map(from_micros),
                must_change_password: self.must_change_password,
            },
        })
    }
}

/// Roles aggregate the same way on both backends (STRING_AGG: PostgreSQL, SQLite ≥ 3.44).
const SELECT: &str = "SELECT u.id, u.username, u.display_name, u.staff_no, u.institution_id,
        i.name AS institution_name, i.path AS institution_path, i.level AS institution_level,
        u.status, u.locked_until_us, u.must_change_password,
        (SELECT STRING_AGG(r.role, ',' ORDER BY r.role) FROM user_role r WHERE r.user_id = u.id) AS roles
    FROM app_user u JOIN institution i ON i.id = u.institution_id";

pub async fn insert(
    tx: &mut Tx,
    draft: &UserDraft,
    institution: InstitutionId,
    password_hash: &str,
    now: OffsetDateTime,
) -> DbResult<UserId> {
    let now = micros(now);
    let id: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO app_user (username, display_name, staff_no, institution_id, status, password_hash,
                                   password_changed_us, must_change_password, created_us, updated_us)
             VALUES ($1, $2, $3, $4, 'active', $5, $6, TRUE, $6, $6) RETURNING id",
        )
        .bind(draft.username.as_str())
        .bind(&draft.display_name)
        .bind(&draft.staff_no)
        .bind(institution.0)
        .bind(password_hash)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    let id = UserId(id);
    set_roles(tx, id, &draft.roles).await?;
    push_history(tx, id, password_hash, now).await?;
    Ok(id)
}

pub async fn get(tx: &mut Tx, id: UserId) -> DbResult<Option<PlacedUser>> {
    let row: Option<Row> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE u.id = $1"))).bind(id.0).fetch_optional(c).await
    })?;
    row.map(Row::into_domain).transpose()
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Prefix of user name, display name or staff number.
    pub text: String,
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    /// Only accounts locked at this instant (the home page's "locked users" to-do).
    pub locked_at: Option<OffsetDateTime>,
}

crate::sort_keys! {
    /// The user list's sortable columns; by institution (the tree's order) unless asked.
    pub enum UserSort {
        Institution = ("institution", "i.path, u.username"),
        Username = ("username", "u.username"),
        Name = ("name", "u.display_name, u.username"),
        StaffNo = ("staff_no", "u.staff_no, u.username"),
        Status = ("status", "u.status, u.username"),
    }
}

impl UserSort {
    pub const USUAL: Listing<UserSort> =
        Listing { page: 1, per_page: 50, sort: UserSort::Institution, desc: false };
}

pub async fn list(
    tx: &mut Tx,
    scope: &ScopeFilter,
    filter: &UserFilter,
    listing: &Listing<UserSort>,
) -> DbResult<Page<User>> {
    let mut wh = SqlBuilder::new(" WHERE 1 = 1");
    wh.scope("i.path", scope);
    let text = filter.text.trim();
    if !text.is_empty() {
        let like = format!("{}%", escape_like(text));
        wh.push(" AND (u.username LIKE ").bind(Arg::Text(like.to_lowercase()));
        wh.push(" ESCAPE '\\' OR u.display_name LIKE ").bind(Arg::Text(like.clone()));
        wh.push(" ESCAPE '\\' OR u.staff_no LIKE ")
            .bind(Arg::Text(like.to_uppercase()))
            .push(" ESCAPE '\\')");
    }
    if let Some(s) = filter.status {
        wh.push(" AND u.status = ").bind(Arg::Text(s.code().into()));
    }
    if let Some(t) = filter.locked_at {
        wh.push(" AND u.locked_until_us > ").bind(Arg::I64(micros(t)));
    }
    if let Some(r) = filter.role {
        wh.push(" AND EXISTS (SELECT 1 FROM user_role x WHERE x.user_id = u.id AND x.role = ")
            .bind(Arg::Text(r.code().into()))
            .push(")");
    }
    let count_sql =
        format!("SELECT COUNT(*) FROM app_user u JOIN institution i ON i.id = u.institution_id{}", wh.sql);
    let total: i64 = on_tx!(tx, c => {
        bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &wh.args).fetch_one(c).await
    })?;
    let rows: Vec<Row> = on_tx!(tx, c => {
        let sql = format!("{SELECT}{}{}", wh.sql, listing.sql_tail());
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &wh.args).fetch_all(c).await
    })?;
    let items = rows.into_iter().map(|r| r.into_domain().map(|p| p.user)).collect::<DbResult<_>>()?;
    Ok(listing.page_of(items, total))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn set_roles(tx: &mut Tx, id: UserId, roles: &[Role]) -> DbResult<()> {
    exec!(tx, sqlx::query("DELETE FROM user_role WHERE user_id = $1").bind(id.0))?;
    for r in roles {
        exec!(
            tx,
            sqlx::query("INSERT INTO user_role (user_id, role) VALUES ($1, $2)").bind(id.0).bind(r.code())
        )?;
    }
    Ok(())
}

pub async fn set_status(tx: &mut Tx, id: UserId, status: UserStatus, now: OffsetDateTime) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE app_user SET status = $1, updated_us = $2 WHERE id = $3")
            .bind(status.code())
            .bind(micros(now))
            .bind(id.0)
    )?;
    Ok(())
}

/// How many other live users hold `role` at the institution (R-USR-5).
pub async fn count_role_holders(
    tx: &mut Tx,
    role: Role,
    institution: InstitutionId,
    except: Option<UserId>,
) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM app_user u JOIN user_role r ON r.user_id = u.id
             WHERE r.role = $1 AND u.institution_id = $2 AND u.status <> 'deregistered' AND u.id <> $3",
        )
        .bind(role.code())
        .bind(institution.0)
        .bind(except.map_or(0, |u| u.0))
        .fetch_one(c)
        .await
    })
}

/// What login needs to know about an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginInfo {
    pub id: i64,
    pub status: String,
    pub password_hash: String,
    pub password_changed_us: i64,
    pub must_change_password: bool,
    pub failed_logins: i32,
    pub locked_until_us: Option<i64>,
    /// For the audit record of the attempt: where the account sits and its roles.
    pub institution_id: i64,
    pub roles: Option<String>,
}

const LOGIN_INFO: &str = "SELECT id, status, password_hash, password_changed_us, must_change_password, failed_logins,
        locked_until_us, institution_id,
        (SELECT STRING_AGG(r.role, ',' ORDER BY r.role) FROM user_role r WHERE r.user_id = app_user.id) AS roles
    FROM app_user";

pub async fn login_info_by_name(tx: &mut Tx, username: &str) -> DbResult<Option<LoginInfo>> {
    on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{LOGIN_INFO} WHERE username = $1")))
        .bind(username)
        .fetch_optional(c)
        .await
    })
}

pub async fn login_info(tx: &mut Tx, id: UserId) -> DbResult<Option<LoginInfo>> {
    on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{LOGIN_INFO} WHERE id = $1")))
        .bind(id.0)
        .fetch_optional(c)
        .await
    })
}

/// Records the outcome of a login attempt: the failure count and any lock.
pub async fn set_login_failures(
    tx: &mut Tx,
    id: UserId,
    failed: i32,
    locked_until: Option<OffsetDateTime>,
) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE app_user SET failed_logins = $1, locked_until_us = $2 WHERE id = $3")
            .bind(failed)
            .bind(locked_until.map(micros))
            .bind(id.0)
    )?;
    Ok(())
}

/// Sets a new password hash and keeps it in the history for the reuse rule.
pub async fn set_password(
    tx: &mut Tx,
    id: UserId,
    hash: &str,
    must_change: bool,
    now: OffsetDateTime,
) -> DbResult<()> {
    let now = micros(now);
    exec!(
        tx,
        sqlx::query(
            "UPDATE app_user SET password_hash = $1, password_changed_us = $2, must_change_password = $3,
                                 failed_logins = 0, locked_until_us = NULL, updated_us = $2 WHERE id = $4",
        )
        .bind(hash)
        .bind(now)
        .bind(must_change)
        .bind(id.0)
    )?;
    push_history(tx, id, hash, now).await
}

async fn push_history(tx: &mut Tx, id: UserId, hash: &str, now_us: i64) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("INSERT INTO password_history (user_id, password_hash, set_us) VALUES ($1, $2, $3)")
            .bind(id.0)
            .bind(hash)
            .bind(now_us)
    )?;
    Ok(())
}

/// The hashes of the last `n` passwords, newest first.
pub async fn recent_password_hashes(tx: &mut Tx, id: UserId, n: i64) -> DbResult<Vec<String>> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY set_us DESC LIMIT $2")
            .bind(id.0)
            .bind(n)
            .fetch_all(c)
            .await
    })
}

/// The actor for an authenticated request.
pub async fn load_actor(tx: &mut Tx, id: UserId) -> DbResult<Option<(Actor, UserStatus)>> {
    let Some(PlacedUser { user: u, path, .. }) = get(tx, id).await? else { return Ok(None) };
    let actor = Actor {
        institution_trail: institution_trail(tx, &path).await?,
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        staff_no: u.staff_no,
        institution_id: u.institution_id,
        institution_path: path,
        institution_name: u.institution_name,
        roles: u.roles,
    };
    Ok(Some((actor, u.status)))
}

/// The institutions' names along a path, root first, by primary key.
async fn institution_trail(tx: &mut Tx, path: &InstPath) -> DbResult<String> {
    let mut q = SqlBuilder::new("SELECT name FROM institution WHERE id IN (");
    for (i, id) in path.ids().into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(Arg::I64(id.0));
    }
    q.push(") ORDER BY level");
    let names: Vec<String> = on_tx!(tx, c => {
        bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await
    })?;
    Ok(names.join(" / "))
}

/// Whether the user name and the staff number are already in use, for a field-level error.
pub async fn taken(tx: &mut Tx, username: &str, staff_no: &str) -> DbResult<(bool, bool)> {
    let (u, s): (i64, i64) = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM app_user WHERE username = $1), (SELECT COUNT(*) FROM app_user WHERE staff_no = $2)",
        )
        .bind(username)
        .bind(staff_no)
        .fetch_one(c)
        .await
    })?;
    Ok((u > 0, s > 0))
}

/// Users within the scope whose account is locked now.
pub async fn count_locked(tx: &mut Tx, scope: &ScopeFilter, now: OffsetDateTime) -> DbResult<i64> {
    let mut q = SqlBuilder::new(
        "SELECT COUNT(*) FROM app_user u JOIN institution i ON i.id = u.institution_id WHERE u.locked_until_us > ",
    );
    q.bind(Arg::I64(micros(now))).scope("i.path", scope);
    on_tx!(tx, c => bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_one(c).await)
}

/// Counts one more failed login atomically and returns the new count, so concurrent
/// failures are all counted.
pub async fn increment_login_failures(tx: &mut Tx, id: UserId) -> DbResult<i32> {
    on_tx!(tx, c => {
        sqlx::query_scalar("UPDATE app_user SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
            .bind(id.0)
            .fetch_one(c)
            .await
    })
}

/// Staff numbers of active users, for the account managers named in an extract.
pub async fn staff_numbers(tx: &mut Tx) -> DbResult<Vec<(String, UserId)>> {
    let rows: Vec<(String, i64)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT staff_no, id FROM app_user WHERE status = 'active'").fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(|(s, id)| (s, UserId(id))).collect())
}
