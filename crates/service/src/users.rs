//! User administration (R-USR-1, 3–6): create with a one-time password, change roles, freeze,
//! deregister, reactivate, unlock, reset password, forced logout (用户强退).
//! Invariants: every change is inside the actor's subtree and never on the actor's own
//! account; roles change only as R-USR-4/5 allow; freezing ends all sessions at once.

use pcis_domain::password;
use pcis_domain::policy::Actor;
use pcis_domain::role::{Action, Role};
use pcis_domain::user::{User, UserId, UserInput, UserStatus, parse_roles};
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::users::{self as store, PlacedUser, UserFilter};
use pcis_store::{Page, Tx, institutions, sessions};
use serde_json::json;

use crate::audit::with_detail;
use crate::{App, DbExt, RequestMeta, entry, hashing, who};

/// The administrative operations on one account, each a separate permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountOp {
    Freeze,
    Deregister,
    Reactivate,
    Unlock,
    ForceLogout,
}

impl AccountOp {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "freeze" => Self::Freeze,
            "deregister" => Self::Deregister,
            "reactivate" => Self::Reactivate,
            "unlock" => Self::Unlock,
            "force_logout" => Self::ForceLogout,
            _ => return None,
        })
    }

    fn action(self) -> Action {
        match self {
            Self::Freeze | Self::Deregister | Self::Reactivate => Action::UserFreeze,
            Self::Unlock => Action::UserUnlock,
            Self::ForceLogout => Action::UserForceLogout,
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Self::Freeze => "user.freeze",
            Self::Deregister => "user.deregister",
            Self::Reactivate => "user.reactivate",
            Self::Unlock => "user.unlock",
            Self::ForceLogout => "user.force_logout",
        }
    }
}

impl App {
    pub async fn list_users(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        filter: &UserFilter,
        page: i64,
    ) -> DomainResult<Page<User>> {
        let mut tx = self.db.begin().await.db()?;
        let e = entry(who(actor, meta), "user.list", "user", "");
        let scope = match self.policy.scope(actor, Action::UserView) {
            Ok(s) => s,
            Err(err) => return Err(self.deny(tx, e, err).await),
        };
        let result = store::list(&mut tx, &scope, filter, page, 50).await.db()?;
        self.record(&mut tx, e).await?;
        tx.commit().await.db()?;
        Ok(result)
    }

    /// Locked accounts the actor could unlock, for the home page's to-do list.
    pub async fn count_locked_users(&self, actor: &Actor, _meta: &RequestMeta) -> DomainResult<i64> {
        let scope = self.policy.scope(actor, Action::UserUnlock)?;
        let mut tx = self.db.begin_read().await.db()?;
        store::count_locked(&mut tx, &scope, self.clock.now()).await.db()
    }

    pub async fn user(&self, actor: &Actor, meta: &RequestMeta, id: UserId) -> DomainResult<User> {
        let mut tx = self.db.begin().await.db()?;
        let (target, e) = self.target(&mut tx, actor, meta, id, "user.view").await?;
        if let Err(err) = self.policy.authorize_on_user(actor, Action::UserView, id, &target.path) {
            return Err(self.deny(tx, e, err).await);
        }
        self.record(&mut tx, e).await?;
        tx.commit().await.db()?;
        Ok(target.user)
    }

    async fn target(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        meta: &RequestMeta,
        id: UserId,
        action: &str,
    ) -> DomainResult<(PlacedUser, pcis_domain::audit::AuditEntry)> {
        let target = store::get(tx, id).await.db()?.ok_or(DomainError::NotFound)?;
        Ok((target, entry(who(actor, meta), action, "user", id.0)))
    }

    /// Creates an account and returns it with its one-time initial password, shown once.
    pub async fn create_user(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        input: &UserInput,
    ) -> DomainResult<(UserId, String)> {
        let draft = input.parse()?;
        // Hash before the transaction: the write lock is not held through Argon2.
        let otp = password::generate_one_time();
        let otp_hash = hashing::hash(&otp).await;
        let mut tx = self.db.begin().await.db()?;
        let e = entry(who(actor, meta), "user.create", "user", draft.username.as_str());
        let inst = institutions::get_by_code(&mut tx, &draft.institution_code)
            .await
            .db()?
            .ok_or(DomainError::invalid("institution_code", "err.inst_unknown"))?;
        let allowed = self
            .policy
            .authorize(actor, Action::UserCreate, &inst.path)
            .and_then(|()| self.policy.check_role_change(actor, &[], &draft.roles, inst.level));
        if let Err(err) = allowed {
            return Err(self.deny(tx, e, err).await);
        }
        if inst.status != pcis_domain::institution::InstStatus::Active {
            return Err(DomainError::invalid("institution_code", "err.inst_parent_inactive"));
        }
        self.check_unique_roles(&mut tx, &draft.roles, inst.id, None).await?;
        let (name_taken, staff_taken) =
            store::taken(&mut tx, draft.username.as_str(), &draft.staff_no).await.db()?;
        let mut errors = Vec::new();
        if name_taken {
            errors.push(FieldError::new("username", "err.username_taken"));
        }
        if staff_taken {
            errors.push(FieldError::new("staff_no", "err.staff_no_taken"));
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let id = store::insert(&mut tx, &draft, inst.id, &otp_hash, self.clock.now()).await.db()?;
        let detail =
            json!({ "username": draft.username.as_str(), "institution": inst.code, "roles": draft.roles });
        let mut e = with_detail(e, detail);
        e.target_id = id.0.to_string();
        self.record(&mut tx, e).await?;
        tx.commit().await.db()?;
        Ok((id, otp))
    }

    /// R-USR-5: at most one holder per institution for the "one per unit" roles.
    async fn check_unique_roles(
        &self,
        tx: &mut Tx,
        roles: &[Role],
        inst: pcis_domain::institution::InstitutionId,
        except: Option<UserId>,
    ) -> DomainResult<()> {
        for role in roles.iter().filter(|r| r.one_per_institution_level().is_some()) {
            if store::count_role_holders(tx, *role, inst, except).await.db()? > 0 {
                return Err(DomainError::Invalid(vec![FieldError::new("roles", "err.role_unique_per_unit")]));
            }
        }
        Ok(())
    }

    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: UserId,
        codes: &[String],
    ) -> DomainResult<()> {
        let roles = parse_roles(codes).map_err(|e| DomainError::Invalid(vec![e]))?;
        let mut tx = self.db.begin().await.db()?;
        let (target, e) = self.target(&mut tx, actor, meta, id, "user.edit_roles").await?;
        let allowed = self
            .policy
            .authorize_on_user(actor, Action::UserEditRoles, id, &target.path)
            .and_then(|()| self.policy.check_role_change(actor, &target.user.roles, &roles, target.level));
        if let Err(err) = allowed {
            return Err(self.deny(tx, e, err).await);
        }
        if target.user.status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        self.check_unique_roles(&mut tx, &roles, target.user.institution_id, Some(id)).await?;
        store::set_roles(&mut tx, id, &roles).await.db()?;
        let detail = json!({ "before": target.user.roles, "after": roles });
        self.record(&mut tx, with_detail(e, detail)).await?;
        tx.commit().await.db()
    }

    /// Freeze (冻结), deregister (注销), reactivate, unlock or force logout (用户强退).
    pub async fn account_op(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: UserId,
        op: AccountOp,
        reason: &str,
    ) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        let (target, mut e) = self.target(&mut tx, actor, meta, id, op.audit_action()).await?;
        e.reason = crate::truncate(reason.trim(), 200);
        if let Err(err) = self.policy.authorize_on_user(actor, op.action(), id, &target.path) {
            return Err(self.deny(tx, e, err).await);
        }
        if e.reason.is_empty()
            && matches!(op, AccountOp::Freeze | AccountOp::Deregister | AccountOp::ForceLogout)
        {
            return Err(DomainError::invalid("reason", "err.required"));
        }
        let now = self.clock.now();
        let status = target.user.status;
        if status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        let ended = match op {
            AccountOp::Freeze | AccountOp::Deregister => {
                let new = if op == AccountOp::Freeze { UserStatus::Frozen } else { UserStatus::Deregistered };
                store::set_status(&mut tx, id, new, now).await.db()?;
                sessions::end_all_for_user(&mut tx, id, op.audit_action(), now).await.db()?
            }
            AccountOp::Reactivate => {
                if status == UserStatus::Active {
                    return Err(DomainError::Conflict("err.user_already_active"));
                }
                self.check_unique_roles(&mut tx, &target.user.roles, target.user.institution_id, Some(id))
                    .await?;
                store::set_status(&mut tx, id, UserStatus::Active, now).await.db()?;
                0
            }
            AccountOp::Unlock => {
                store::set_login_failures(&mut tx, id, 0, None).await.db()?;
                0
            }
            AccountOp::ForceLogout => {
                sessions::end_all_for_user(&mut tx, id, "force_logout", now).await.db()?
            }
        };
        self.record(&mut tx, with_detail(e, json!({ "status_before": status, "sessions_ended": ended })))
            .await?;
        tx.commit().await.db()
    }

    /// Sets a new one-time password, unlocks and ends the user's sessions; returns the password.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: UserId,
    ) -> DomainResult<String> {
        let otp = password::generate_one_time();
        let otp_hash = hashing::hash(&otp).await;
        let mut tx = self.db.begin().await.db()?;
        let (target, e) = self.target(&mut tx, actor, meta, id, "user.reset_password").await?;
        if let Err(err) = self.policy.authorize_on_user(actor, Action::UserResetPassword, id, &target.path) {
            return Err(self.deny(tx, e, err).await);
        }
        if target.user.status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        let now = self.clock.now();
        store::set_password(&mut tx, id, &otp_hash, true, now).await.db()?;
        let ended = sessions::end_all_for_user(&mut tx, id, "password_reset", now).await.db()?;
        self.record(&mut tx, with_detail(e, json!({ "sessions_ended": ended }))).await?;
        tx.commit().await.db()?;
        Ok(otp)
    }
}
