//! Business parameters (业务参数, R-CUS-4): the tier thresholds and the VIP (通达) standard,
//! maintained by the business administrator and applied by the next recomputation of every
//! customer's AUM and tier (after each load, or when an operator runs it).

use pcis_domain::DomainResult;
use pcis_domain::customer::{ThresholdsInput, TierThresholds};
use pcis_domain::policy::Actor;
use pcis_domain::role::Action;
use pcis_store::Tx;
use pcis_store::customers as store;
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::{App, DbExt, RequestMeta, entry, who};

impl App {
    /// The current thresholds, for the business administrator; audited.
    pub async fn business_parameters(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> DomainResult<TierThresholds> {
        let mut tx = self.db.begin().await.db()?;
        let e = entry(who(actor, meta), "parameter.view", "business_parameter", "");
        if let Err(err) = self.policy.scope(actor, Action::ParameterManage) {
            return Err(self.deny(tx, e, err).await);
        }
        let t = store::thresholds(&mut tx).await.db()?;
        self.record(&mut tx, e).await?;
        tx.commit().await.db()?;
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
        let mut tx = self.db.begin().await.db()?;
        let e = entry(who(actor, meta), "parameter.update", "business_parameter", "tier_thresholds");
        if let Err(err) = self.policy.scope(actor, Action::ParameterManage) {
            return Err(self.deny(tx, e, err).await);
        }
        let new = input.parse()?;
        let before = store::thresholds(&mut tx).await.db()?;
        store::set_thresholds(&mut tx, &new, self.clock.now()).await.db()?;
        self.record(&mut tx, with_detail(e, json!({ "before": before, "after": new }))).await?;
        tx.commit().await.db()?;
        Ok(new)
    }

    /// Recomputes every customer's AUM and tier with the current thresholds, writing the
    /// tier history; audited as the system. Returns (AUM changes, tier changes).
    pub async fn recompute_tiers(&self) -> DomainResult<(u64, u64)> {
        let mut tx = self.db.begin().await.db()?;
        let changed = self.recompute_tiers_in(&mut tx).await?;
        let detail = json!({ "aum_changed": changed.0, "tier_changed": changed.1 });
        self.record(
            &mut tx,
            with_detail(entry(system(), "customer.recompute_tiers", "customer", ""), detail),
        )
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
