//! User administration (R-USR-1, 3–6): create with a one-time password, change roles, freeze,
//! deregister, reactivate, unlock, reset password, forced logout (用户强退).
//! Invariants: every change is inside the actor's subtree and never on the actor's own
//! account; roles change only as R-USR-4/5 allow; freezing ends all sessions at once.

use pcis_domain::audit_action::AuditAction;
use pcis_domain::password;
use pcis_domain::policy::Actor;
use pcis_domain::role::{Action, Role};
use pcis_domain::user::{User, UserId, UserInput, UserStatus, parse_roles};
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::listing::Listing;
use pcis_store::users::{self as store, PlacedUser, UserFilter, UserSort};
use pcis_store::{Page, Tx, institutions, sessions};
use serde_json::json;

use crate::use_case::UseCase;
use crate::{App, DbExt, RequestMeta, hashing};

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

    fn audit_action(self) -> AuditAction {
        match self {
            Self::Freeze => AuditAction::UserFreeze,
            Self::Deregister => AuditAction::UserDeregister,
            Self::Reactivate => AuditAction::UserReactivate,
            Self::Unlock => AuditAction::UserUnlock,
            Self::ForceLogout => AuditAction::UserForceLogout,
        }
    }
}

impl App {
    pub async fn list_users(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        filter: &UserFilter,
        listing: &Listing<UserSort>,
    ) -> DomainResult<Page<User>> {
        let mut uc = self.read_case(actor, meta, AuditAction::UserList, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::UserView)).await?;
        let result = store::list(uc.tx(), &scope, filter, listing).await.db()?;
        uc.finish().await?;
        Ok(result)
    }

    /// Locked accounts the actor could unlock, for the home page's to-do list.
    pub async fn count_locked_users(&self, actor: &Actor, _meta: &RequestMeta) -> DomainResult<i64> {
        let scope = self.policy.scope(actor, Action::UserUnlock)?;
        let mut tx = self.db.begin_read().await.db()?;
        store::count_locked(&mut tx, &scope, self.clock.now()).await.db()
    }

    pub async fn user(&self, actor: &Actor, meta: &RequestMeta, id: UserId) -> DomainResult<User> {
        let mut uc = self.read_case(actor, meta, AuditAction::UserView, id.0).await?;
        let target = self.on_user(&mut uc, actor, id, Action::UserView).await?;
        uc.finish().await?;
        Ok(target.user)
    }

    /// The user an operation acts on, if the policy lets the actor do `action` to it.
    async fn on_user(
        &self,
        uc: &mut UseCase<'_>,
        actor: &Actor,
        id: UserId,
        action: Action,
    ) -> DomainResult<PlacedUser> {
        let target = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        uc.check(self.policy.authorize_on_user(actor, action, id, &target.path)).await?;
        Ok(target)
    }

    /// Creates an account and returns it with its one-time initial password, shown once.
    pub async fn create_user(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        input: &UserInput,
    ) -> DomainResult<(UserId, String)> {
        let permit = self.permit(actor, meta, AuditAction::UserCreate).await?;
        let draft = input.parse()?;
        // Hash before the transaction: the write lock is not held through Argon2.
        let otp = password::generate_one_time();
        let otp_hash = hashing::hash(&otp).await;
        let mut uc = permit.write(draft.username.as_str()).await?;
        let tx = uc.tx();
        let inst = institutions::get_by_code(tx, &draft.institution_code)
            .await
            .db()?
            .ok_or(DomainError::invalid("institution_code", "err.inst_unknown"))?;
        uc.check(
            self.policy
                .authorize(actor, Action::UserCreate, &inst.path)
                .and_then(|()| self.policy.check_role_change(actor, &[], &draft.roles, inst.level)),
        )
        .await?;
        let tx = uc.tx();
        if inst.status != pcis_domain::institution::InstStatus::Active {
            return Err(DomainError::invalid("institution_code", "err.inst_parent_inactive"));
        }
        self.check_unique_roles(tx, &draft.roles, inst.id, None).await?;
        let (name_taken, staff_taken) =
            store::taken(tx, draft.username.as_str(), &draft.staff_no).await.db()?;
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
        let id = store::insert(tx, &draft, inst.id, &otp_hash, self.clock.now()).await.db()?;
        uc.target(id.0);
        uc.detail(
            json!({ "username": draft.username.as_str(), "institution": inst.code, "roles": draft.roles }),
        );
        uc.finish().await?;
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
        let permit = self.permit(actor, meta, AuditAction::UserEditRoles).await?;
        let roles = parse_roles(codes).map_err(|e| DomainError::Invalid(vec![e]))?;
        let mut uc = permit.write(id.0).await?;
        let target = self.on_user(&mut uc, actor, id, Action::UserEditRoles).await?;
        uc.check(self.policy.check_role_change(actor, &target.user.roles, &roles, target.level)).await?;
        if target.user.status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        self.check_unique_roles(uc.tx(), &roles, target.user.institution_id, Some(id)).await?;
        store::set_roles(uc.tx(), id, &roles).await.db()?;
        uc.detail(json!({ "before": target.user.roles, "after": roles }));
        uc.finish().await
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
        let mut uc = self.write_case(actor, meta, op.audit_action(), id.0).await?;
        let target = self.on_user(&mut uc, actor, id, op.action()).await?;
        if reason.trim().is_empty()
            && matches!(op, AccountOp::Freeze | AccountOp::Deregister | AccountOp::ForceLogout)
        {
            return Err(DomainError::invalid("reason", "err.required"));
        }
        uc.reason(reason);
        let tx = uc.tx();
        let now = self.clock.now();
        let status = target.user.status;
        if status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        let ended = match op {
            AccountOp::Freeze | AccountOp::Deregister => {
                let new = if op == AccountOp::Freeze { UserStatus::Frozen } else { UserStatus::Deregistered };
                store::set_status(tx, id, new, now).await.db()?;
                sessions::end_all_for_user(tx, id, op.audit_action().code(), now).await.db()?
            }
            AccountOp::Reactivate => {
                if status == UserStatus::Active {
                    return Err(DomainError::Conflict("err.user_already_active"));
                }
                self.check_unique_roles(tx, &target.user.roles, target.user.institution_id, Some(id)).await?;
                store::set_status(tx, id, UserStatus::Active, now).await.db()?;
                0
            }
            AccountOp::Unlock => {
                store::set_login_failures(tx, id, 0, None).await.db()?;
                0
            }
            AccountOp::ForceLogout => sessions::end_all_for_user(tx, id, "force_logout", now).await.db()?,
        };
        uc.detail(json!({ "status_before": status, "sessions_ended": ended }));
        uc.finish().await
    }

    /// Sets a new one-time password, unlocks and ends the user's sessions; returns the password.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: UserId,
    ) -> DomainResult<String> {
        let permit = self.permit(actor, meta, AuditAction::UserResetPassword).await?;
        let otp = password::generate_one_time();
        let otp_hash = hashing::hash(&otp).await;
        let mut uc = permit.write(id.0).await?;
        let target = self.on_user(&mut uc, actor, id, Action::UserResetPassword).await?;
        if target.user.status == UserStatus::Deregistered {
            return Err(DomainError::Conflict("err.user_deregistered"));
        }
        let now = self.clock.now();
        store::set_password(uc.tx(), id, &otp_hash, true, now).await.db()?;
        let ended = sessions::end_all_for_user(uc.tx(), id, "password_reset", now).await.db()?;
        uc.detail(json!({ "sessions_ended": ended }));
        uc.finish().await?;
        Ok(otp)
    }
}
