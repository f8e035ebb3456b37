//! The policy module (R-USR-6): the one place that decides whether an actor may perform an
//! action, and the one place that produces the scope predicate list queries apply in SQL.
//! Invariant: deny by default. Anything not granted by a row of the permission matrix
//! (`role_permission`, data seeded by a migration) is refused with a reason; handlers and
//! services never decide access themselves, they ask here.

use std::collections::HashMap;

use crate::customer::{AssignmentKind, CustomerId};
use crate::error::{DomainError, FieldError};
use crate::institution::{InstPath, InstitutionId, Level};
use crate::role::{Action, CONFLICTING_ROLES, Grant, Role, Scope};
use crate::user::UserId;
use crate::workflow::{State, Step, Taker};

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

/// Which customers an action reaches, rendered into SQL by the store. The rules of all the
/// actor's roles are alternatives (a customer matching any one is in scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerScope {
    All,
    Any(Vec<CustomerRule>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRule {
    /// Owned by an institution of the subtree.
    Subtree(InstPath),
    /// Assigned to the user (manager, VIP specialist, or in custody until a date).
    AssignedTo(UserId),
    /// Of the subtree, and a VIP member or meeting the VIP standard.
    VipStandard(InstPath),
    /// Of the subtree, not a member, meeting the VIP standard.
    VipProspect(InstPath),
}

/// What the policy needs to know about one customer to decide on it.
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    pub id: CustomerId,
    pub owner_path: InstPath,
    /// Active assignments (expired custody excluded).
    pub assignees: Vec<(UserId, AssignmentKind)>,
    pub vip_member: bool,
    pub meets_vip_standard: bool,
}

/// Why the actor may see a customer (R-CUS-8); each is an i18n key `basis.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum AccessBasis {
    Deployment,
    AssignedManager,
    AssignedSpecialist,
    Custody,
    Subtree,
    VipStandard,
    VipProspect,
}

impl AccessBasis {
    pub fn key(self) -> &'static str {
        match self {
            Self::Deployment => "basis.deployment",
            Self::AssignedManager => "basis.assigned_manager",
            Self::AssignedSpecialist => "basis.assigned_specialist",
            Self::Custody => "basis.custody",
            Self::Subtree => "basis.subtree",
            Self::VipStandard => "basis.vip_standard",
            Self::VipProspect => "basis.vip_prospect",
        }
    }
}

/// Proof that the policy let an actor take one step of one request (a change proposal, a
/// suspicious item, and every workflow after them). Only the policy makes one; storage moves
/// a request along its workflow only with one, so a step that skips the check does not
/// compile:
///
/// ```compile_fail
/// // Outside the policy, a grant cannot be made up.
/// let grant = pcis_domain::policy::StepGrant { request: 1, step: "approve", by: pcis_domain::user::UserId(1) };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepGrant {
    request: i64,
    step: &'static str,
    by: UserId,
}

impl StepGrant {
    pub fn request(&self) -> i64 {
        self.request
    }

    pub fn step(&self) -> &'static str {
        self.step
    }

    /// Who takes it.
    pub fn by(&self) -> UserId {
        self.by
    }
}

/// Proof that the policy let an actor do an action on one customer (lldap's access-control
/// handlers are the model). Its fields are private, so only [`Policy::grant_customer`] makes
/// one; the store's reads of a customer's detail, holdings, transactions and sealed values
/// take it instead of an id, and a path that skips the policy does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerGrant {
    customer: CustomerId,
    action: Action,
    basis: AccessBasis,
}

impl CustomerGrant {
    pub fn customer(&self) -> CustomerId {
        self.customer
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// Why the actor may (R-CUS-8).
    pub fn basis(&self) -> AccessBasis {
        self.basis
    }
}

impl CustomerRule {
    fn admits(&self, c: &CustomerFacts) -> Option<AccessBasis> {
        match self {
            CustomerRule::AssignedTo(user) => {
                c.assignees.iter().find(|(u, _)| u == user).map(|(_, kind)| match kind {
                    AssignmentKind::Manager => AccessBasis::AssignedManager,
                    AssignmentKind::Specialist => AccessBasis::AssignedSpecialist,
                    AssignmentKind::Custody => AccessBasis::Custody,
                })
            }
            CustomerRule::Subtree(root) => root.contains(&c.owner_path).then_some(AccessBasis::Subtree),
            CustomerRule::VipStandard(root) => (root.contains(&c.owner_path)
                && (c.vip_member || c.meets_vip_standard))
                .then_some(AccessBasis::VipStandard),
            CustomerRule::VipProspect(root) => {
                (root.contains(&c.owner_path) && !c.vip_member && c.meets_vip_standard)
                    .then_some(AccessBasis::VipProspect)
            }
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
            map.insert((g.role, g.action), g.scope);
        }
        Self { grants: map }
    }

    /// The scopes the actor's roles have for the action.
    fn scopes(&self, actor: &Actor, action: Action) -> impl Iterator<Item = Scope> {
        actor.roles.iter().filter_map(move |r| self.grants.get(&(*r, action)).copied())
    }

    /// Whether the actor holds the action at all (navigation shows only these).
    pub fn can(&self, actor: &Actor, action: Action) -> bool {
        self.scopes(actor, action).next().is_some()
    }

    /// The institution predicate a list query for `action` must apply. Customer scopes
    /// (assignment, VIP) do not reach institutions or users.
    pub fn scope(&self, actor: &Actor, action: Action) -> Result<ScopeFilter, DomainError> {
        let mut found = None;
        for scope in self.scopes(actor, action) {
            match scope {
                Scope::All => return Ok(ScopeFilter::All),
                Scope::Subtree => found = Some(ScopeFilter::Subtree(actor.institution_path.clone())),
                Scope::Assigned | Scope::VipStandard | Scope::VipPool => {}
            }
        }
        found.ok_or_else(|| denied("deny.no_permission"))
    }

    /// The customers `action` reaches for the actor: the union of its roles' scopes.
    pub fn customer_scope(&self, actor: &Actor, action: Action) -> Result<CustomerScope, DomainError> {
        let path = || actor.institution_path.clone();
        let mut rules = Vec::new();
        for scope in self.scopes(actor, action) {
            let add: &[CustomerRule] = match scope {
                Scope::All => return Ok(CustomerScope::All),
                Scope::Subtree => &[CustomerRule::Subtree(path())],
                Scope::Assigned => &[CustomerRule::AssignedTo(actor.user_id)],
                Scope::VipStandard => &[CustomerRule::VipStandard(path())],
                Scope::VipPool => {
                    &[CustomerRule::AssignedTo(actor.user_id), CustomerRule::VipProspect(path())]
                }
            };
            for r in add {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
        }
        if rules.is_empty() { Err(denied("deny.no_permission")) } else { Ok(CustomerScope::Any(rules)) }
    }

    /// May the actor perform `action` on this customer, and by which rule (R-CUS-8)?
    pub fn authorize_customer(
        &self,
        actor: &Actor,
        action: Action,
        customer: &CustomerFacts,
    ) -> Result<AccessBasis, DomainError> {
        match self.customer_scope(actor, action)? {
            CustomerScope::All => Ok(AccessBasis::Deployment),
            CustomerScope::Any(rules) => rules
                .iter()
                .find_map(|r| r.admits(customer))
                .ok_or_else(|| denied("deny.customer_out_of_scope")),
        }
    }

    /// The grant to do `action` on this customer, or the refusal.
    pub fn grant_customer(
        &self,
        actor: &Actor,
        action: Action,
        customer: &CustomerFacts,
    ) -> Result<CustomerGrant, DomainError> {
        let basis = self.authorize_customer(actor, action, customer)?;
        Ok(CustomerGrant { customer: customer.id, action, basis })
    }

    /// May the actor perform `action` on a suspicious item (R-ETL-4)? It is routed to every
    /// outlet owning one of its customers, so any member in the actor's reach admits it.
    pub fn authorize_suspect(
        &self,
        actor: &Actor,
        action: Action,
        members: &[CustomerFacts],
    ) -> Result<(), DomainError> {
        match self.customer_scope(actor, action)? {
            CustomerScope::All => Ok(()),
            CustomerScope::Any(rules) => {
                if members.iter().any(|m| rules.iter().any(|r| r.admits(m).is_some())) {
                    Ok(())
                } else {
                    Err(denied("deny.out_of_scope"))
                }
            }
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

    /// A proposal to add a customer owned by the outlet at `outlet` (R-CUS-7): the actor
    /// proposes customer changes and the outlet is its own institution or below it.
    pub fn authorize_customer_add(&self, actor: &Actor, outlet: &InstPath) -> Result<(), DomainError> {
        if !self.can(actor, Action::CustomerPropose) {
            return Err(denied("deny.no_permission"));
        }
        if actor.institution_path.contains(outlet) { Ok(()) } else { Err(denied("deny.out_of_scope")) }
    }

    /// A proposal to modify or delete a customer: the actor proposes for this customer and
    /// sees its detail (a data-entry clerk, who sees no customer, can only add).
    pub fn authorize_customer_change(
        &self,
        actor: &Actor,
        customer: &CustomerFacts,
    ) -> Result<CustomerGrant, DomainError> {
        self.authorize_customer(actor, Action::CustomerPropose, customer)?;
        self.grant_customer(actor, Action::CustomerViewDetail, customer)
    }

    /// Deciding a proposal of the outlet at `outlet`, made by `proposer`: nobody decides
    /// their own (R-USR-4).
    pub fn authorize_decision(
        &self,
        actor: &Actor,
        outlet: &InstPath,
        proposer: UserId,
    ) -> Result<(), DomainError> {
        self.authorize_step(actor, Taker::Checker(Action::CustomerApprove), outlet, Some(proposer))
    }

    /// The grant to take `step` of the request `request` about the institution at `target`,
    /// made by `maker`: what storage needs to move the request.
    pub fn grant_step<S: State>(
        &self,
        actor: &Actor,
        step: &Step<S>,
        target: &InstPath,
        maker: Option<UserId>,
        request: i64,
    ) -> Result<StepGrant, DomainError> {
        self.authorize_step(actor, step.taker, target, maker)?;
        Ok(StepGrant { request, step: step.code, by: actor.user_id })
    }

    /// The grant to take `step` of the suspicious item `request`, whose members are
    /// `members`: the step's action on any member in the actor's reach.
    pub fn grant_suspect_step<S: State>(
        &self,
        actor: &Actor,
        step: &Step<S>,
        members: &[CustomerFacts],
        request: i64,
    ) -> Result<StepGrant, DomainError> {
        let (Taker::Holder(action) | Taker::Checker(action)) = step.taker else {
            return Err(denied("deny.step_not_yours"));
        };
        self.authorize_suspect(actor, action, members)?;
        Ok(StepGrant { request, step: step.code, by: actor.user_id })
    }

    /// May the actor take a workflow step whose taker is `taker`, on a request about the
    /// institution at `target` made by `maker` (`None`: listed by the system)? A checker
    /// holds the action there and is never the maker (R-USR-4); only the maker withdraws;
    /// the system's steps are no person's.
    pub fn authorize_step(
        &self,
        actor: &Actor,
        taker: Taker,
        target: &InstPath,
        maker: Option<UserId>,
    ) -> Result<(), DomainError> {
        let is_maker = maker == Some(actor.user_id);
        match taker {
            Taker::Checker(action) => {
                self.authorize(actor, action, target)?;
                if is_maker { Err(denied("deny.self_approval")) } else { Ok(()) }
            }
            Taker::Holder(action) => self.authorize(actor, action, target),
            Taker::Maker if is_maker => Ok(()),
            Taker::Maker | Taker::System => Err(denied("deny.step_not_yours")),
        }
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

    #[test]
    fn customer_scopes_are_alternatives_and_explain_themselves() {
        let (_, mine, beside) = paths();
        let policy = Policy::new([
            Grant { role: Role::AccountManager, action: Action::CustomerView, scope: Scope::Assigned },
            Grant { role: Role::VipSpecialist, action: Action::CustomerView, scope: Scope::VipPool },
            Grant { role: Role::DeptHead, action: Action::CustomerView, scope: Scope::Subtree },
        ]);
        let facts =
            |path: &InstPath, assignees: Vec<(UserId, AssignmentKind)>, member, standard| CustomerFacts {
                id: CustomerId(1),
                owner_path: path.clone(),
                assignees,
                vip_member: member,
                meets_vip_standard: standard,
            };
        let am = actor(&[Role::AccountManager], &mine);
        let mine_c = facts(&mine, vec![(UserId(7), AssignmentKind::Manager)], false, false);
        let colleague_c = facts(&mine, vec![(UserId(8), AssignmentKind::Manager)], false, false);
        assert_eq!(
            policy.authorize_customer(&am, Action::CustomerView, &mine_c).unwrap(),
            AccessBasis::AssignedManager
        );
        assert!(matches!(
            policy.authorize_customer(&am, Action::CustomerView, &colleague_c),
            Err(DomainError::Denied { reason: "deny.customer_out_of_scope" })
        ));
        assert!(policy.authorize_customer(&am, Action::CustomerViewDetail, &mine_c).is_err());

        let vip = actor(&[Role::VipSpecialist], &mine);
        assert_eq!(
            policy.customer_scope(&vip, Action::CustomerView).unwrap(),
            CustomerScope::Any(vec![
                CustomerRule::AssignedTo(UserId(7)),
                CustomerRule::VipProspect(mine.clone())
            ])
        );
        let prospect = facts(&mine, vec![], false, true);
        let others_member = facts(&mine, vec![(UserId(9), AssignmentKind::Specialist)], true, true);
        assert_eq!(
            policy.authorize_customer(&vip, Action::CustomerView, &prospect).unwrap(),
            AccessBasis::VipProspect
        );
        assert!(policy.authorize_customer(&vip, Action::CustomerView, &others_member).is_err());
        assert!(
            policy
                .authorize_customer(&vip, Action::CustomerView, &facts(&beside, vec![], false, true))
                .is_err()
        );

        // Both roles: either rule admits; a customer scope never widens institution actions.
        let both = actor(&[Role::AccountManager, Role::DeptHead], &mine);
        assert_eq!(
            policy.authorize_customer(&both, Action::CustomerView, &colleague_c).unwrap(),
            AccessBasis::Subtree
        );
        assert!(policy.scope(&am, Action::CustomerView).is_err());
    }

    #[test]
    fn nobody_decides_their_own_proposal() {
        let (_, mine, beside) = paths();
        let policy = Policy::new([Grant {
            role: Role::AmSupervisor,
            action: Action::CustomerApprove,
            scope: Scope::Subtree,
        }]);
        let sup = actor(&[Role::AmSupervisor], &mine);
        assert!(policy.authorize_decision(&sup, &mine, UserId(8)).is_ok());
        assert!(matches!(
            policy.authorize_decision(&sup, &mine, UserId(7)),
            Err(DomainError::Denied { reason: "deny.self_approval" })
        ));
        assert!(policy.authorize_decision(&sup, &beside, UserId(8)).is_err());
        // Only the maker withdraws; the system's steps are nobody's.
        let am = actor(&[Role::AccountManager], &mine);
        assert!(policy.authorize_step(&am, Taker::Maker, &mine, Some(UserId(7))).is_ok());
        assert!(policy.authorize_step(&am, Taker::Maker, &mine, Some(UserId(8))).is_err());
        assert!(policy.authorize_step(&sup, Taker::System, &mine, None).is_err());
        assert!(
            policy
                .authorize_step(&sup, Taker::Holder(Action::CustomerApprove), &mine, Some(UserId(7)))
                .is_ok()
        );
    }
}
