//! Authentication and sessions (R-AUTH-1..3, R-AUTH-5).
//! Invariants: one answer for every failed login whether or not the user exists; tokens
//! carry 256 random bits and only their SHA-256 is stored; a frozen or deregistered user has
//! no live session; a user whose password is one-time or expired can do nothing but change it.

use pcis_domain::audit::{AuditEntry, AuditWho, Outcome};
use pcis_domain::audit_action::AuditAction;
use pcis_domain::policy::Actor;
use pcis_domain::user::{UserId, UserStatus, Username};
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::{from_micros, sessions, users};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::{App, DbExt, RequestMeta, entry, hashing, truncate, who};

/// What a successful login hands to the client. The token goes into the cookie or the
/// `Authorization: Bearer` header and nowhere else.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub must_change_password: bool,
}

/// An authenticated request's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub token_hash: String,
    pub csrf_token: String,
    /// One-time or expired password: only the change-password page and logout are open.
    pub must_change_password: bool,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The sealing context of values held for a session's next page.
const SHOWN_FIELD: &str = "session.shown";

impl App {
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> DomainResult<NewSession> {
        let name = Username::parse(username).map(|u| u.as_str().to_owned()).unwrap_or_default();
        // Read, verify outside any transaction (Argon2 is slow), then write the outcome.
        let mut tx = self.db.begin_read().await.db()?;
        let info =
            if name.is_empty() { None } else { users::login_info_by_name(&mut tx, &name).await.db()? };
        drop(tx);
        let now = self.clock.now();
        let refusal = match &info {
            None => Some("unknown_user"),
            Some(i) if i.locked_until_us.is_some_and(|t| from_micros(t) > now) => Some("locked"),
            Some(i) if UserStatus::parse(&i.status) != Some(UserStatus::Active) => Some("not_active"),
            Some(_) => None,
        };
        let verified = match (&info, refusal) {
            (Some(i), None) => hashing::verify(password, &i.password_hash).await,
            _ => {
                hashing::verify_against_dummy(password).await;
                false
            }
        };
        let mut who = AuditWho {
            username: truncate(&username.trim().to_lowercase(), 32),
            ip: meta.ip.clone(),
            user_agent: truncate(&meta.user_agent, 200),
            ..AuditWho::default()
        };
        if let Some(i) = &info {
            who.user_id = Some(i.id);
            who.institution_id = Some(i.institution_id);
            who.roles = i.roles.clone().unwrap_or_default();
        }
        let target = info.as_ref().map_or(String::new(), |i| i.id.to_string());
        let mut tx = self.db.begin().await.db()?;
        let (Some(info), true) = (info, verified) else {
            let reason = refusal.unwrap_or("bad_password");
            let e = entry(who.clone(), AuditAction::SessionLogin, &target);
            self.record(&mut tx, AuditEntry { outcome: Outcome::Failed, reason: reason.into(), ..e }).await?;
            if let (Some(id), None) = (who.user_id, refusal) {
                let failures = users::increment_login_failures(&mut tx, UserId(id)).await.db()?;
                if failures >= self.config.lockout_failures {
                    let until = now + Duration::minutes(self.config.lockout_minutes);
                    users::set_login_failures(&mut tx, UserId(id), 0, Some(until)).await.db()?;
                    let lock = entry(who, AuditAction::SessionLock, id);
                    self.record(
                        &mut tx,
                        AuditEntry { detail: format!("{{\"failures\":{failures}}}"), ..lock },
                    )
                    .await?;
                }
            }
            tx.commit().await.db()?;
            return Err(DomainError::BadCredentials);
        };
        let id = UserId(info.id);
        users::set_login_failures(&mut tx, id, 0, None).await.db()?;
        let token = random_token();
        let csrf_token = random_token();
        let new = sessions::NewSession {
            token_hash: &hash_token(&token),
            user_id: id,
            csrf_token: &csrf_token,
            ip: &meta.ip,
            user_agent: &truncate(&meta.user_agent, 200),
        };
        sessions::insert(&mut tx, &new, now).await.db()?;
        self.record(&mut tx, entry(who, AuditAction::SessionLogin, info.id)).await?;
        tx.commit().await.db()?;
        let must_change_password =
            info.must_change_password || self.password_expired(info.password_changed_us);
        Ok(NewSession { token, csrf_token, must_change_password })
    }

    fn password_expired(&self, changed_us: i64) -> bool {
        self.clock.now() - from_micros(changed_us) > Duration::days(self.config.password.max_age_days)
    }

    /// Resolves a session token; ends sessions that idled out, outlived their absolute
    /// lifetime or belong to a user who is no longer active.
    pub async fn authenticate(&self, token: &str, meta: &RequestMeta) -> DomainResult<Session> {
        let now = self.clock.now();
        let token_hash = hash_token(token);
        let mut tx = self.db.begin_read().await.db()?;
        let row = sessions::get(&mut tx, &token_hash).await.db()?.ok_or(DomainError::Unauthenticated)?;
        if row.ended_us.is_some() {
            return Err(DomainError::Unauthenticated);
        }
        let user = UserId(row.user_id);
        let loaded = users::load_actor(&mut tx, user).await.db()?;
        let info = users::login_info(&mut tx, user).await.db()?;
        drop(tx);
        let expiry = if now - from_micros(row.last_seen_us) >= self.config.idle() {
            Some("idle")
        } else if now - from_micros(row.created_us) >= self.config.absolute() {
            Some("absolute")
        } else if !matches!(loaded, Some((_, UserStatus::Active))) {
            Some("user_inactive")
        } else {
            None
        };
        // Write only when something changes: most requests just read their session.
        if let Some(reason) = expiry {
            let mut tx = self.db.begin().await.db()?;
            sessions::end(&mut tx, &token_hash, reason, now).await.db()?;
            let who = match &loaded {
                Some((actor, _)) => who(actor, meta),
                None => AuditWho { user_id: Some(row.user_id), ip: meta.ip.clone(), ..AuditWho::default() },
            };
            self.record(
                &mut tx,
                AuditEntry { reason: reason.into(), ..entry(who, AuditAction::SessionExpire, row.user_id) },
            )
            .await?;
            tx.commit().await.db()?;
            return Err(DomainError::Unauthenticated);
        }
        // Touch at most every 30 s: idle expiry needs minutes, not every request's write.
        if now - from_micros(row.last_seen_us) > Duration::seconds(30) {
            let mut tx = self.db.begin().await.db()?;
            sessions::touch(&mut tx, &token_hash, now).await.db()?;
            tx.commit().await.db()?;
        }
        let (actor, _) = loaded.ok_or(DomainError::Unauthenticated)?;
        let info = info.ok_or(DomainError::Unauthenticated)?;
        Ok(Session {
            actor,
            token_hash,
            csrf_token: row.csrf_token,
            must_change_password: info.must_change_password
                || self.password_expired(info.password_changed_us),
        })
    }

    pub async fn logout(&self, session: &Session, meta: &RequestMeta) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        sessions::end(&mut tx, &session.token_hash, "logout", self.clock.now()).await.db()?;
        self.record(
            &mut tx,
            entry(who(&session.actor, meta), AuditAction::SessionLogout, session.actor.user_id.0),
        )
        .await?;
        tx.commit().await.db()
    }

    /// Holds what this session's next page shows once — values a reveal has just returned —
    /// so the page that revealed them can redirect (POST → redirect → GET). Sealed at rest.
    pub async fn hold_shown(&self, session: &Session, shown: &str) -> DomainResult<()> {
        let sealed = self.keys.data.seal(SHOWN_FIELD, shown);
        let mut tx = self.db.begin().await.db()?;
        sessions::hold_shown(&mut tx, &session.token_hash, &sealed).await.db()?;
        tx.commit().await.db()
    }

    /// Takes what was held for this session's next page; a second call finds nothing.
    pub async fn take_shown(&self, session: &Session) -> DomainResult<Option<String>> {
        let mut tx = self.db.begin().await.db()?;
        let Some(sealed) = sessions::take_shown(&mut tx, &session.token_hash).await.db()? else {
            return Ok(None);
        };
        tx.commit().await.db()?;
        // A value sealed under a key since retired is simply not shown again.
        Ok(self.keys.data.open(SHOWN_FIELD, &sealed).ok())
    }

    /// Changes one's own password: the current one, the composition rule, not one of the last N.
    pub async fn change_password(
        &self,
        session: &Session,
        meta: &RequestMeta,
        current: &str,
        new: &str,
        confirm: &str,
    ) -> DomainResult<()> {
        let actor = &session.actor;
        let mut errors = Vec::new();
        if let Err(e) = self.config.password.check(new, "new_password") {
            errors.push(e);
        }
        if new != confirm {
            errors.push(FieldError::new("confirm_password", "err.password_mismatch"));
        }
        let mut tx = self.db.begin_read().await.db()?;
        let info =
            users::login_info(&mut tx, actor.user_id).await.db()?.ok_or(DomainError::Unauthenticated)?;
        let history = self.config.password.history as i64;
        let recent = users::recent_password_hashes(&mut tx, actor.user_id, history).await.db()?;
        drop(tx);
        if !hashing::verify(current, &info.password_hash).await {
            errors.insert(0, FieldError::new("current_password", "err.password_wrong"));
        }
        if errors.is_empty() && hashing::verify_any(new, recent).await {
            errors.push(FieldError::new("new_password", "err.password_reused"));
        }
        let new_hash = if errors.is_empty() { hashing::hash(new).await } else { String::new() };
        let mut tx = self.db.begin().await.db()?;
        if !errors.is_empty() {
            let e = entry(who(actor, meta), AuditAction::UserChangePassword, actor.user_id.0);
            let failed = AuditEntry { outcome: Outcome::Failed, reason: errors[0].rule.into(), ..e };
            self.record(&mut tx, failed).await?;
            tx.commit().await.db()?;
            return Err(DomainError::Invalid(errors));
        }
        users::set_password(&mut tx, actor.user_id, &new_hash, false, self.clock.now()).await.db()?;
        self.record(&mut tx, entry(who(actor, meta), AuditAction::UserChangePassword, actor.user_id.0))
            .await?;
        tx.commit().await.db()
    }
}
