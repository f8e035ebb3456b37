//! Roles (角色) and actions. The permission matrix itself is data, seeded by a migration
//! (`role_permission`) and loaded at start; these enums only name what exists, so that a
//! matrix row naming an unknown role or action is refused and an action without any row is
//! caught by the matrix test.

use serde::Serialize;

/// A code enum whose codes are spelled out (`Action` codes hold a dot): strum reads and
/// writes them, [`crate::coded!`] adds `code`, `parse` and `ALL`.
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray, strum::Display)]
        #[serde(into = "&'static str")]
        pub enum $name { $($(#[$vm])* #[strum(serialize = $code)] $variant),+ }

        crate::coded!(@methods $name);

        /// In the API document: a string, one of the codes.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

code_enum! {
    /// The role catalogue of R-USR-3.
    Role {
        SysAdmin = "sys_admin",
        SecurityAuditor = "security_auditor",
        BizAdmin = "biz_admin",
        BankLeader = "bank_leader",
        DeptHead = "dept_head",
        DeptStaff = "dept_staff",
        AmSupervisor = "am_supervisor",
        AccountManager = "account_manager",
        VipHead = "vip_head",
        VipSpecialist = "vip_specialist",
        CreditReviewer = "credit_reviewer",
        DataEntry = "data_entry",
        ReportViewer = "report_viewer",
    }
}

code_enum! {
    /// Every operation the policy decides. Self-service (log in, log out, change one's own
    /// password, see one's own home page) needs no grant and is not listed.
    Action {
        InstitutionView = "institution.view",
        InstitutionManage = "institution.manage",
        UserView = "user.view",
        UserCreate = "user.create",
        UserEditRoles = "user.edit_roles",
        UserFreeze = "user.freeze",
        UserUnlock = "user.unlock",
        UserResetPassword = "user.reset_password",
        UserForceLogout = "user.force_logout",
        AuditSearch = "audit.search",
        RoleView = "role.view",
        /// Business parameters: the tier thresholds and the VIP standard (R-CUS-4).
        ParameterManage = "parameter.manage",
        /// The import runs of the core-banking extracts, with their counts (R-ETL-2).
        ImportView = "import.view",
        /// Find customers and see their summaries (概要, R-CUS-5).
        CustomerSearch = "customer.search",
        /// Open one customer's 360 page at summary level.
        CustomerView = "customer.view",
        /// Contacts, holdings, transactions and service history of a customer.
        CustomerViewDetail = "customer.view_detail",
        /// See one full value of one customer, with a stated reason (R-PRV-2).
        CustomerReveal = "customer.reveal",
        /// Propose an addition, modification or deletion of customer information (R-CUS-7).
        CustomerPropose = "customer.propose",
        /// Approve or reject another user's proposal.
        CustomerApprove = "customer.approve",
        /// One customer anywhere, by exact name and full ID number, for a stated purpose.
        CustomerCreditLookup = "customer.credit_lookup",
        /// The suspicious customer information list and its items (R-ETL-4).
        SuspectView = "suspect.view",
        /// Close an item as genuine, corrected or escalated, with a note.
        SuspectResolve = "suspect.resolve",
        /// Staff whose customers repeatedly show suspicious items.
        SuspectReport = "suspect.report",
    }
}

code_enum! {
    /// How far a grant reaches.
    Scope {
        /// The actor's own institution and everything below it (R-ORG-2).
        Subtree = "subtree",
        /// The whole deployment (e.g. the credit reviewer's one-customer lookup).
        All = "all",
        /// Customers assigned to the actor, as manager, VIP specialist or in custody.
        Assigned = "assigned",
        /// Customers of the subtree that are VIP members or meet the VIP standard.
        VipStandard = "vip_standard",
        /// The specialist's pool: its own members, plus non-members of the subtree that meet
        /// the VIP standard (to be approached; read-only).
        VipPool = "vip_pool",
    }
}

impl Role {
    /// The role whose holder may grant or revoke this one (R-USR-4: an administrator cannot
    /// grant a role they do not administer). Security roles belong to the system
    /// administrator, business roles to the business administrator.
    pub fn administered_by(self) -> Role {
        match self {
            Role::SysAdmin | Role::SecurityAuditor | Role::BizAdmin => Role::SysAdmin,
            _ => Role::BizAdmin,
        }
    }

    /// Roles that may be held at most once per institution of the given level (R-USR-5),
    /// and the level they must be held at.
    pub fn one_per_institution_level(self) -> Option<u8> {
        match self {
            Role::AmSupervisor => Some(5),
            Role::VipHead => Some(3),
            _ => None,
        }
    }
}

/// Pairs of roles one person may never hold together (R-USR-4).
pub const CONFLICTING_ROLES: &[(Role, Role)] = &[(Role::SysAdmin, Role::SecurityAuditor)];

/// One row of the permission matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Grant {
    pub role: Role,
    pub action: Action,
    pub scope: Scope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(*r));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.code()), Some(*a));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
