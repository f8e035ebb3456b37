//! The role catalogue and its permission matrix, for those who maintain or review them.

use pcis_domain::DomainResult;
use pcis_domain::audit_action::AuditAction;
use pcis_domain::policy::Actor;
use pcis_domain::role::{Grant, Role};
use pcis_store::matrix;

use crate::{App, DbExt, RequestMeta};

/// One role of the catalogue with what it may do.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoleGrants {
    pub role: Role,
    pub administered_by: Role,
    pub grants: Vec<Grant>,
}

impl App {
    /// The catalogue in display order, each role with its grants, as stored.
    pub async fn role_matrix(&self, actor: &Actor, meta: &RequestMeta) -> DomainResult<Vec<RoleGrants>> {
        let mut uc = self.read_case(actor, meta, AuditAction::RoleView, "").await?;
        let grants = matrix::load(uc.tx()).await.db()?;
        let codes = matrix::role_codes(uc.tx()).await.db()?;
        uc.finish().await?;
        Ok(codes
            .iter()
            .filter_map(|c| Role::parse(c))
            .map(|role| RoleGrants {
                role,
                administered_by: role.administered_by(),
                grants: grants.iter().filter(|g| g.role == role).copied().collect(),
            })
            .collect())
    }
}
