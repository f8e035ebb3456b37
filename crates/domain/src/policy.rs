//! The policy module (R-USR-6): the one place that decides whether an actor may perform an
//! action, and the one place that produces the scope predicate list queries apply in SQL.
//! Invariant: deny by default. Anything not granted by a row of the permission matrix
//! (`role_permission`, data seeded by a migration) is refused with a reason; handlers and
//! services never decide access themselves, they ask here.

use std::collections::HashMap;

use crate::error::{DomainError, FieldError};
use crate::institution::{InstPath, InstitutionId, Level};
use crate::role::{Action, CONFLICTING_ROLES, Grant, Role, Scope};
use crate::user::UserId;

/// The authenticated person making a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub staff_no: String,
    pub institution_id: InstitutionId,
    pub institution_path: InstPath,
    pub institution_name: String,
    /// The names from the head office down to the actor's institution (总行 / … / 网点).
    pub institution_trail: String,
    pub roles: Vec<Role>,
}

/// What a list query may return, rendered into SQL by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    All,
    Subtree(InstPath),
}

impl ScopeFilter {
    pub fn admits(&self, path: &InstPath) -> bool {
        match self {
            ScopeFilter::All => true,
            ScopeFilter::Subtree(root) => root.contains(path),
        }
    }
}

/// The permission matrix, as loaded from storage.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    grants: HashMap<(Role, Action), Scope>,
}

impl Policy {
    pub fn new(grants: impl IntoIterator<Item = Grant>) -> Self {
        let mut map = HashMap::new();
        for g in grants {
            map.entry((g.role, g.action))
                .and_modify(|s: &mut Scope| *s = widest(*s, g.scope))
                .or_insert(g.scope);
        }
        Self { grants: map }
    }

    /// The widest scope any of the actor's roles has for the action.
    fn scope_for(&self, actor: &Actor, action: Action) -> Option<Scope> {
        actor.roles.iter().filter_map(|r| self.grants.get(&(*r, action)).copied()).reduce(widest)
    }

    /// Whether the actor holds the action at all (navigation shows only these).
    pub fn can(&self, actor: &Actor, action: Action) -> bool {
        self.scope_for(actor, action).is_some()
    }

    /// The predicate a list query for `action` must apply.
    pub fn scope(&self, actor: &Actor, action: Action) -> Result<ScopeFilter, DomainError> {
        match self.scope_for(actor, action) {
            None => Err(denied("deny.no_permission")),
            Some(Scope::All) => Ok(ScopeFilter::All),
            Some(Scope::Subtree) => Ok(ScopeFilter::Subtree(actor.institution_path.clone())),
        }
    }

    /// May the actor perform `action` on something that belongs to the institution at `target`?
    pub fn authorize(&self, actor: &Actor, action: Action, target: &InstPath) -> Result<(), DomainError> {
        if self.scope(actor, action)?.admits(target) { Ok(()) } else { Err(denied("deny.out_of_scope")) }
    }

    /// Actions on another user's account: in scope, and never on oneself (nobody unfreezes,
    /// re-roles or resets their own account).
    pub fn authorize_on_user(
        &self,
        actor: &Actor,
        action: Action,
        target: UserId,
        target_path: &InstPath,
    ) -> Result<(), DomainError> {
        self.authorize(actor, action, target_path)?;
        if target == actor.user_id && action != Action::UserView {
            return Err(denied("deny.self_action"));
        }
        Ok(())
    }

    /// R-USR-4 and the level half of R-USR-5 for a change from `before` to `after` roles of a
    /// user at an institution of `level`. Uniqueness per institution needs storage and is
    /// checked there.
    pub fn check_role_change(
        &self,
        actor: &Actor,
        before: &[Role],
        after: &[Role],
        level: Level,
    ) -> Result<(), DomainError> {
        let changed =
            after.iter().filter(|r| !before.contains(r)).chain(before.iter().filter(|r| !after.contains(r)));
        for role in changed {
            if !actor.roles.contains(&role.administered_by()) {
                return Err(denied("deny.role_not_administered"));
            }
        }
        for (a, b) in CONFLICTING_ROLES {
            if after.contains(a) && after.contains(b) {
                return Err(DomainError::Invalid(vec![FieldError::new("roles", "err.roles_conflict")]));
            }
        }
        for role in after {
            if let Some(required) = role.one_per_institution_level()
                && level.get() != required
            {
                return Err(DomainError::Invalid(vec![FieldError::new("roles", "err.role_level")]));
            }
        }
        Ok(())
    }
}

fn widest(a: Scope, b: Scope) -> Scope {
    if a == Scope::All || b == Scope::All { Scope::All } else { Scope::Subtree }
}

fn denied(reason: &'static str) -> DomainError {
    DomainError::Denied { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[Role], path: &InstPath) -> Actor {
        Actor {
            user_id: UserId(7),
            username: "u".into(),
            display_name: "U".into(),
            staff_no: "S1".into(),
            institution_id: InstitutionId(2),
            institution_path: path.clone(),
            institution_name: "x".into(),
            institution_trail: "x".into(),
            roles: roles.to_vec(),
        }
    }

    fn paths() -> (InstPath, InstPath, InstPath) {
        let root = InstPath::root(InstitutionId(1));
        let mine = root.child(InstitutionId(2));
        let beside = root.child(InstitutionId(3));
        (root, mine, beside)
    }

    #[test]
    fn deny_by_default_and_scope_by_subtree() {
        let (root, mine, beside) = paths();
        let policy =
            Policy::new([Grant { role: Role::BizAdmin, action: Action::UserView, scope: Scope::Subtree }]);
        let admin = actor(&[Role::BizAdmin], &mine);
        assert!(policy.authorize(&admin, Action::UserView, &mine.child(InstitutionId(9))).is_ok());
        assert!(matches!(
            policy.authorize(&admin, Action::UserView, &beside),
            Err(DomainError::Denied { reason: "deny.out_of_scope" })
        ));
        assert!(policy.authorize(&admin, Action::UserView, &root).is_err());
        assert!(matches!(
            policy.authorize(&admin, Action::UserCreate, &mine),
            Err(DomainError::Denied { reason: "deny.no_permission" })
        ));
        let other = actor(&[Role::AccountManager], &mine);
        assert!(policy.scope(&other, Action::UserView).is_err());
    }

    #[test]
    fn widest_grant_wins() {
        let (_, mine, beside) = paths();
        let policy = Policy::new([
            Grant { role: Role::DeptHead, action: Action::AuditSearch, scope: Scope::Subtree },
            Grant { role: Role::SecurityAuditor, action: Action::AuditSearch, scope: Scope::All },
        ]);
        let a = actor(&[Role::DeptHead, Role::SecurityAuditor], &mine);
        assert_eq!(policy.scope(&a, Action::AuditSearch).unwrap(), ScopeFilter::All);
        assert!(policy.authorize(&a, Action::AuditSearch, &beside).is_ok());
    }

    #[test]
    fn never_on_oneself() {
        let (_, mine, _) = paths();
        let policy =
            Policy::new([Grant { role: Role::BizAdmin, action: Action::UserFreeze, scope: Scope::Subtree }]);
        let a = actor(&[Role::BizAdmin], &mine);
        assert!(policy.authorize_on_user(&a, Action::UserFreeze, UserId(7), &mine).is_err());
        assert!(policy.authorize_on_user(&a, Action::UserFreeze, UserId(8), &mine).is_ok());
    }

    #[test]
    fn role_changes_follow_separation_of_duties() {
        let (_, mine, _) = paths();
        let policy = Policy::default();
        let biz = actor(&[Role::BizAdmin], &mine);
        let sys = actor(&[Role::SysAdmin], &mine);
        let outlet = Level::OUTLET;
        let city = Level::new(3).unwrap();
        assert!(policy.check_role_change(&biz, &[], &[Role::AccountManager], outlet).is_ok());
        assert!(matches!(
            policy.check_role_change(&biz, &[], &[Role::SecurityAuditor], outlet),
            Err(DomainError::Denied { reason: "deny.role_not_administered" })
        ));
        assert!(matches!(
            policy.check_role_change(&sys, &[], &[Role::SysAdmin, Role::SecurityAuditor], outlet),
            Err(DomainError::Invalid(_))
        ));
        assert!(policy.check_role_change(&biz, &[], &[Role::AmSupervisor], city).is_err());
        assert!(policy.check_role_change(&biz, &[], &[Role::VipHead], city).is_ok());
        // Revoking a role also needs its administrator.
        assert!(policy.check_role_change(&biz, &[Role::BizAdmin], &[Role::DeptHead], city).is_err());
    }
}
