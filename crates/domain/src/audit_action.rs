//! Every operation the audit trail names (审计操作), declared once: its stored code, the kind
//! of thing it acts on, and the permission a caller must hold before anything else about
//! the request is looked at. The auditor's action filter, the labels and the tests are
//! generated from this list; nothing else keeps one.

use strum::{EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

use crate::role::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
pub enum AuditAction {
    #[strum(serialize = "session.login")]
    SessionLogin,
    #[strum(serialize = "session.logout")]
    SessionLogout,
    #[strum(serialize = "session.lock")]
    SessionLock,
    #[strum(serialize = "session.expire")]
    SessionExpire,
    /// A state-changing request refused for a missing or wrong anti-forgery token.
    #[strum(serialize = "session.csrf")]
    SessionCsrf,
    #[strum(serialize = "user.change_password")]
    UserChangePassword,
    #[strum(serialize = "user.list")]
    UserList,
    #[strum(serialize = "user.view")]
    UserView,
    #[strum(serialize = "user.create")]
    UserCreate,
    #[strum(serialize = "user.edit_roles")]
    UserEditRoles,
    #[strum(serialize = "user.freeze")]
    UserFreeze,
    #[strum(serialize = "user.deregister")]
    UserDeregister,
    #[strum(serialize = "user.reactivate")]
    UserReactivate,
    #[strum(serialize = "user.unlock")]
    UserUnlock,
    #[strum(serialize = "user.force_logout")]
    UserForceLogout,
    #[strum(serialize = "user.reset_password")]
    UserResetPassword,
    /// A user made by the command line (bootstrap, demo), not by a person in the UI.
    #[strum(serialize = "user.provision")]
    UserProvision,
    #[strum(serialize = "institution.list")]
    InstitutionList,
    #[strum(serialize = "institution.view")]
    InstitutionView,
    #[strum(serialize = "institution.create")]
    InstitutionCreate,
    #[strum(serialize = "institution.update")]
    InstitutionUpdate,
    #[strum(serialize = "institution.suspend")]
    InstitutionSuspend,
    #[strum(serialize = "institution.reactivate")]
    InstitutionReactivate,
    #[strum(serialize = "institution.close")]
    InstitutionClose,
    #[strum(serialize = "institution.import")]
    InstitutionImport,
    #[strum(serialize = "institution.seed")]
    InstitutionSeed,
    #[strum(serialize = "audit.search")]
    AuditSearch,
    #[strum(serialize = "audit.flags")]
    AuditFlags,
    #[strum(serialize = "role.view")]
    RoleView,
    #[strum(serialize = "customer.search")]
    CustomerSearch,
    #[strum(serialize = "customer.view")]
    CustomerView,
    #[strum(serialize = "customer.transactions")]
    CustomerTransactions,
    #[strum(serialize = "customer.reveal")]
    CustomerReveal,
    #[strum(serialize = "customer.propose")]
    CustomerPropose,
    #[strum(serialize = "customer.approve")]
    CustomerApprove,
    #[strum(serialize = "customer.reject")]
    CustomerReject,
    /// The proposer takes back a pending proposal.
    #[strum(serialize = "customer.withdraw")]
    CustomerWithdraw,
    #[strum(serialize = "customer.proposals")]
    CustomerProposals,
    /// The nightly job marks proposals waiting past their due date overdue.
    #[strum(serialize = "customer.overdue")]
    CustomerOverdue,
    #[strum(serialize = "customer.credit_lookup")]
    CustomerCreditLookup,
    #[strum(serialize = "customer.seed")]
    CustomerSeed,
    #[strum(serialize = "customer.recompute_tiers")]
    CustomerRecomputeTiers,
    #[strum(serialize = "parameter.view")]
    ParameterView,
    #[strum(serialize = "parameter.update")]
    ParameterUpdate,
    #[strum(serialize = "keys.rotate")]
    KeysRotate,
    /// An operator's backup of the database (the record is inside the backup).
    #[strum(serialize = "database.backup")]
    DatabaseBackup,
    /// The application role given its rights (`pcis grants --apply`).
    #[strum(serialize = "database.grants")]
    DatabaseGrants,
    #[strum(serialize = "import.run")]
    ImportRun,
    #[strum(serialize = "import.runs")]
    ImportRuns,
    #[strum(serialize = "job.run")]
    JobRun,
    #[strum(serialize = "job.runs")]
    JobRuns,
    #[strum(serialize = "suspect.build")]
    SuspectBuild,
    #[strum(serialize = "suspect.list")]
    SuspectList,
    #[strum(serialize = "suspect.view")]
    SuspectView,
    #[strum(serialize = "suspect.resolve")]
    SuspectResolve,
    #[strum(serialize = "suspect.report")]
    SuspectReport,
}

impl AuditAction {
    /// The code stored in `audit_log.action`.
    pub fn code(self) -> &'static str {
        self.into()
    }

    pub fn parse(code: &str) -> Option<AuditAction> {
        code.parse().ok()
    }

    pub fn all() -> impl Iterator<Item = AuditAction> {
        AuditAction::iter()
    }

    /// The i18n key of its name (`audit_action.session.login`).
    pub fn label_key(self) -> String {
        format!("audit_action.{}", self.code())
    }

    /// What the record's target id names.
    pub fn target_kind(self) -> &'static str {
        use AuditAction::*;
        match self {
            SessionLogin | SessionLogout | SessionLock | SessionExpire => "user",
            SessionCsrf => "request",
            UserChangePassword | UserList | UserView | UserCreate | UserEditRoles | UserFreeze
            | UserDeregister | UserReactivate | UserUnlock | UserForceLogout | UserResetPassword
            | UserProvision => "user",
            InstitutionList
            | InstitutionView
            | InstitutionCreate
            | InstitutionUpdate
            | InstitutionSuspend
            | InstitutionReactivate
            | InstitutionClose
            | InstitutionImport
            | InstitutionSeed => "institution",
            AuditSearch => "audit",
            AuditFlags => "monitoring_flag",
            RoleView => "role",
            CustomerSearch
            | CustomerView
            | CustomerTransactions
            | CustomerReveal
            | CustomerPropose
            | CustomerCreditLookup
            | CustomerSeed
            | CustomerRecomputeTiers => "customer",
            CustomerApprove | CustomerReject | CustomerWithdraw | CustomerProposals | CustomerOverdue => {
                "proposal"
            }
            ParameterView | ParameterUpdate => "business_parameter",
            KeysRotate => "key",
            DatabaseBackup | DatabaseGrants => "database",
            ImportRun | ImportRuns => "import_run",
            JobRun | JobRuns => "job_run",
            SuspectBuild | SuspectList | SuspectView | SuspectResolve | SuspectReport => "suspect_item",
        }
    }

    /// The permissions of which a person must hold one for this operation, asked before the
    /// request is validated or anything it names is looked up; none for what needs no grant
    /// (self-service, the system's own jobs).
    pub fn permissions(self) -> &'static [Action] {
        use AuditAction::*;
        match self {
            SessionLogin
            | SessionLogout
            | SessionLock
            | SessionExpire
            | SessionCsrf
            | UserChangePassword
            | UserProvision
            | InstitutionSeed
            | CustomerSeed
            | CustomerRecomputeTiers
            | KeysRotate
            | DatabaseBackup
            | DatabaseGrants
            | ImportRun
            | JobRun
            | CustomerOverdue
            | SuspectBuild => &[],
            UserList | UserView => &[Action::UserView],
            UserCreate => &[Action::UserCreate],
            UserEditRoles => &[Action::UserEditRoles],
            UserFreeze | UserDeregister | UserReactivate => &[Action::UserFreeze],
            UserUnlock => &[Action::UserUnlock],
            UserForceLogout => &[Action::UserForceLogout],
            UserResetPassword => &[Action::UserResetPassword],
            InstitutionList | InstitutionView => &[Action::InstitutionView],
            InstitutionCreate
            | InstitutionUpdate
            | InstitutionSuspend
            | InstitutionReactivate
            | InstitutionClose
            | InstitutionImport => &[Action::InstitutionManage],
            AuditSearch | AuditFlags => &[Action::AuditSearch],
            RoleView => &[Action::RoleView],
            CustomerSearch => &[Action::CustomerSearch],
            CustomerView => &[Action::CustomerView],
            CustomerTransactions => &[Action::CustomerViewDetail],
            CustomerReveal => &[Action::CustomerReveal],
            CustomerPropose | CustomerWithdraw => &[Action::CustomerPropose],
            CustomerApprove | CustomerReject => &[Action::CustomerApprove],
            // One's own proposals, or those one reviews.
            CustomerProposals => &[Action::CustomerPropose, Action::CustomerApprove],
            CustomerCreditLookup => &[Action::CustomerCreditLookup],
            ParameterView | ParameterUpdate => &[Action::ParameterManage],
            ImportRuns | JobRuns => &[Action::ImportView],
            SuspectList | SuspectView => &[Action::SuspectView],
            SuspectResolve => &[Action::SuspectResolve],
            SuspectReport => &[Action::SuspectReport],
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::all() {
            assert_eq!(AuditAction::parse(a.code()), Some(a));
            assert!(seen.insert(a.code()), "{a} twice");
            let (area, verb) = a.code().split_once('.').expect("area.verb");
            assert!(!area.is_empty() && !verb.contains('.'), "{a}");
        }
        assert_eq!(AuditAction::parse("customer.nonsense"), None);
    }
}
