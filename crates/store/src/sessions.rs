//! Server-side sessions (R-AUTH-3). Only a SHA-256 of the token is stored, so a copy of the
//! table cannot be replayed as cookies.

use pcis_domain::user::UserId;
use time::OffsetDateTime;

use crate::{DbResult, Tx, exec, micros, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_us: i64,
    pub last_seen_us: i64,
    pub ended_us: Option<i64>,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: UserId,
    pub csrf_token: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert(tx: &mut Tx, s: &NewSession<'_>, now: OffsetDateTime) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query(
            "INSERT INTO session (token_hash, user_id, csrf_token, created_us, last_seen_us, ip, user_agent)
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(s.token_hash)
        .bind(s.user_id.0)
        .bind(s.csrf_token)
        .bind(micros(now))
        .bind(s.ip)
        .bind(s.user_agent)
    )?;
    Ok(())
}

pub async fn get(tx: &mut Tx, token_hash: &str) -> DbResult<Option<SessionRow>> {
    on_tx!(tx, c => {
        sqlx::query_as("SELECT user_id, csrf_token, created_us, last_seen_us, ended_us FROM session WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(c)
            .await
    })
}

pub async fn touch(tx: &mut Tx, token_hash: &str, now: OffsetDateTime) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE session SET last_seen_us = $1 WHERE token_hash = $2 AND ended_us IS NULL")
            .bind(micros(now))
            .bind(token_hash)
    )?;
    Ok(())
}

pub async fn end(tx: &mut Tx, token_hash: &str, reason: &str, now: OffsetDateTime) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query(
            "UPDATE session SET ended_us = $1, end_reason = $2, shown_sealed = NULL
             WHERE token_hash = $3 AND ended_us IS NULL"
        )
        .bind(micros(now))
        .bind(reason)
        .bind(token_hash)
    )?;
    Ok(())
}

/// Ends every open session of a user; returns how many were open.
pub async fn end_all_for_user(tx: &mut Tx, user: UserId, reason: &str, now: OffsetDateTime) -> DbResult<u64> {
    let affected = exec!(
        tx,
        sqlx::query(
            "UPDATE session SET ended_us = $1, end_reason = $2, shown_sealed = NULL
             WHERE user_id = $3 AND ended_us IS NULL"
        )
        .bind(micros(now))
        .bind(reason)
        .bind(user.0)
    )?;
    Ok(affected)
}

/// Keeps what the next page of this session shows once (sealed by the caller).
pub async fn hold_shown(tx: &mut Tx, token_hash: &str, sealed: &[u8]) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE session SET shown_sealed = $1 WHERE token_hash = $2 AND ended_us IS NULL")
            .bind(sealed)
            .bind(token_hash)
    )?;
    Ok(())
}

/// Takes what was held for this session's next page: it is cleared as it is read.
pub async fn take_shown(tx: &mut Tx, token_hash: &str) -> DbResult<Option<Vec<u8>>> {
    let held: Option<Option<Vec<u8>>> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT shown_sealed FROM session WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(c)
            .await
    })?;
    let held = held.flatten();
    if held.is_some() {
        exec!(
            tx,
            sqlx::query("UPDATE session SET shown_sealed = NULL WHERE token_hash = $1").bind(token_hash)
        )?;
    }
    Ok(held)
}
