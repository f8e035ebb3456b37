//! Business parameters (业务参数, R-CUS-4): the tier thresholds and the VIP (通达) standard,
//! maintained by the business administrator and applied by the next recomputation of every
//! customer's AUM and tier (after each load, or when an operator runs it).

use pcis_domain::DomainResult;
use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::{ThresholdsInput, TierThresholds};
use pcis_domain::policy::Actor;
use pcis_store::Tx;
use pcis_store::customers as store;
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::{App, DbExt, RequestMeta, entry};

impl App {
    /// The current thresholds, for the business administrator; audited.
    pub async fn business_parameters(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> DomainResult<TierThresholds> {
        let mut uc = self.read_case(actor, meta, AuditAction::ParameterView, "").await?;
        let t = store::thresholds(uc.tx()).await.db()?;
        uc.finish().await?;
        Ok(t)
    }

    /// Replaces the thresholds; audited with the values before and after. Customers move
    /// at the next recomputation, not now.
    pub async fn set_tier_thresholds(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        input: &ThresholdsInput,
    ) -> DomainResult<TierThresholds> {
        let permit = self.permit(actor, meta, AuditAction::ParameterUpdate).await?;
        let new = input.parse()?;
        let mut uc = permit.write("tier_thresholds").await?;
        let before = store::thresholds(uc.tx()).await.db()?;
        store::set_thresholds(uc.tx(), &new, self.clock.now()).await.db()?;
        uc.detail(json!({ "before": before, "after": new }));
        uc.finish().await?;
        Ok(new)
    }

    /// Recomputes every customer's AUM and tier with the current thresholds, writing the
    /// tier history; audited as the system. Returns (AUM changes, tier changes).
    pub async fn recompute_tiers(&self) -> DomainResult<(u64, u64)> {
        let mut tx = self.db.begin().await.db()?;
        let changed = self.recompute_tiers_in(&mut tx).await?;
        let detail = json!({ "aum_changed": changed.0, "tier_changed": changed.1 });
        self.record(&mut tx, with_detail(entry(system(), AuditAction::CustomerRecomputeTiers, ""), detail))
            .await?;
        tx.commit().await.db()?;
        Ok(changed)
    }

    /// The recomputation inside the caller's transaction (the import's last one).
    pub(crate) async fn recompute_tiers_in(&self, tx: &mut Tx) -> DomainResult<(u64, u64)> {
        let thresholds = store::thresholds(tx).await.db()?;
        pcis_store::extract::recompute_tiers(tx, &thresholds, "tier.reason.recompute", self.clock.now())
            .await
            .db()
    }
}
