//! Customer search, the customer 360 and purpose-bound reveal (R-CUS-5, R-CUS-6, R-CUS-8,
//! R-PRV-2). Invariants: every customer read asks the policy (scope in SQL for lists, the
//! same rules in memory for one customer) and is audited; nothing leaves here unmasked
//! except the one field of one customer a reveal asked for.

use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::{CustomerId, SensitiveField, TierThresholds};
use pcis_domain::identity::{IdNumber, Mobile};
use pcis_domain::institution::{InstStatus, Institution, InstitutionId};
use pcis_domain::policy::{
    AccessBasis, Actor, CustomerFacts, CustomerGrant, CustomerRule, CustomerScope, ScopeFilter,
};
use pcis_domain::role::{Action, Role};
use pcis_domain::user::UserId;
use pcis_domain::{DomainError, DomainResult};
use pcis_store::customers::{
    self as store, Assignee, ChannelUse, Consent, CustomerColumns, CustomerQuery, CustomerRecord,
    CustomerSummary, Holding, Stored, TierChange, Transaction,
};
use pcis_store::users::{self, UserFilter};
use pcis_store::{Page, institutions};
use serde::Serialize;
use serde_json::json;

use crate::use_case::UseCase;
use crate::{App, DbExt, RequestMeta};
use crate::{CustomerSort, Listing};

/// Where a search stops counting: a broad scope shows "more than N".
pub use pcis_store::customers::COUNT_CAP as SEARCH_COUNT_CAP;

/// Blind-index domains. Mobile and fixed-line numbers share one, so the same number under
/// two customers is found whichever column it sits in (R-ETL-4).
pub(crate) const BIDX_ID: &str = "bidx:id_number";
pub(crate) const BIDX_CONTACT: &str = "bidx:contact";
pub(crate) const BIDX_ACCOUNT: &str = "bidx:account_no";

/// The search form (R-CUS-6). `q` is a customer number, an exact ID number, an exact
/// mobile number or a name prefix, recognised in that order.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct CustomerSearch {
    pub q: String,
    pub tier: String,
    pub institution_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub tag: String,
}

/// Everything the 360 page shows, already cut to what the viewer may see.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer360 {
    pub summary: CustomerSummary,
    /// Why the viewer may see this customer (R-CUS-8): an i18n key.
    pub basis: AccessBasis,
    /// Identity, contacts, holdings…: only for roles that see detail.
    pub detail: Option<CustomerDetail>,
    pub can_reveal: bool,
    pub can_propose: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerDetail {
    pub record: CustomerRecord,
    pub holdings: Vec<Holding>,
    /// Balance per product type, fen, in the order of `holdings`.
    pub totals: Vec<(String, i64)>,
    pub channels: Vec<ChannelUse>,
    pub tier_history: Vec<TierChange>,
    pub assignees: Vec<Assignee>,
    pub tags: Vec<String>,
    pub consents: Vec<Consent>,
}

/// Filter choices of the search form.
#[derive(Debug, Default)]
pub struct SearchChoices {
    pub institutions: Vec<Institution>,
    /// (user, name, staff number)
    pub managers: Vec<(UserId, String, String)>,
}

/// Enough for an outlet or a city branch; a province-wide head filters by institution first.
const MANAGER_CHOICES: i64 = 300;

impl App {
    /// Today's date in China (UTC+8), as stored dates are written.
    /// The bank's business date now (China time), as `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        self.today_date().to_string()
    }

    pub fn today_date(&self) -> time::Date {
        self.clock.now().to_offset(pcis_domain::CST).date()
    }

    pub(crate) fn seal(&self, field: SensitiveField, value: &str, bidx: Option<&str>) -> Stored {
        Stored {
            sealed: self.keys.data.seal(field.code(), value),
            bidx: bidx.map(|domain| self.keys.data.blind_index(domain, value)),
            masked: field.mask(value),
        }
    }

    pub async fn search_customers(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        input: &CustomerSearch,
        listing: &Listing<CustomerSort>,
    ) -> DomainResult<Page<CustomerSummary>> {
        let permit = self.permit(actor, meta, AuditAction::CustomerSearch).await?;
        let (mut query, by) = self.customer_query(input)?;
        let mut uc = permit.read("").await?;
        let scope = uc.check(self.policy.customer_scope(actor, Action::CustomerSearch)).await?;
        if let Some(id) = input.institution_id {
            let inst =
                institutions::get(uc.tx(), InstitutionId(id)).await.db()?.ok_or(DomainError::NotFound)?;
            query.institution = Some(inst.path);
        }
        let result = store::search(uc.tx(), &scope, &query, &self.today(), listing).await.db()?;
        // The audit record says how the search was made, never the value searched for.
        uc.detail(json!({ "by": by, "tier": input.tier, "institution_id": input.institution_id,
            "manager_id": input.manager_id, "tag": input.tag, "page": listing.page, "found": result.total }));
        uc.finish().await?;
        Ok(result)
    }

    /// Turns the form into a query: exact values become blind indexes; anything that is not
    /// a customer number, ID or mobile is a name prefix (bound as a value, never SQL).
    fn customer_query(&self, input: &CustomerSearch) -> DomainResult<(CustomerQuery, &'static str)> {
        let mut query = CustomerQuery {
            manager: input.manager_id.map(UserId),
            tag: Some(input.tag.trim().to_owned()).filter(|t| !t.is_empty()),
            ..Default::default()
        };
        if !input.tier.is_empty() {
            query.tier = Some(
                pcis_domain::customer::Tier::parse(&input.tier)
                    .ok_or(DomainError::invalid("tier", "err.tier"))?,
            );
        }
        let q = input.q.trim();
        let by = if q.is_empty() {
            "filters"
        } else if let Ok(id) = IdNumber::parse(q) {
            query.id_bidx = Some(self.keys.data.blind_index(BIDX_ID, id.expose()));
            "id_number"
        } else if let Ok(m) = Mobile::parse(q) {
            query.mobile_bidx = Some(self.keys.data.blind_index(BIDX_CONTACT, m.expose()));
            "mobile"
        } else if q.chars().all(|c| c.is_ascii_alphanumeric()) {
            query.customer_no = Some(q.to_uppercase());
            "customer_no"
        } else {
            query.name_prefix = Some(q.chars().take(20).collect());
            "name_prefix"
        };
        Ok((query, by))
    }

    /// Loads a customer and asks the policy whether `action` reaches it. Unknown and
    /// out-of-scope look the same from outside, and both are audited.
    async fn customer_in(
        &self,
        uc: &mut UseCase<'_>,
        actor: &Actor,
        id: CustomerId,
        action: Action,
    ) -> DomainResult<(CustomerRecord, CustomerFacts, CustomerGrant)> {
        let found = store::get(uc.tx(), id, &self.today()).await.db()?;
        let (record, facts) = uc.found(found, "deny.customer_out_of_scope").await?;
        let grant = uc.check(self.policy.grant_customer(actor, action, &facts)).await?;
        Ok((record, facts, grant))
    }

    pub async fn customer_360(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: CustomerId,
    ) -> DomainResult<Customer360> {
        let mut uc = self.read_case(actor, meta, AuditAction::CustomerView, id.0).await?;
        let (record, facts, view) = self.customer_in(&mut uc, actor, id, Action::CustomerView).await?;
        let basis = view.basis();
        let tx = uc.tx();
        let detail_grant = self.policy.grant_customer(actor, Action::CustomerViewDetail, &facts).ok();
        let detail_allowed = detail_grant.is_some();
        let detail = if let Some(grant) = &detail_grant {
            let holdings = store::holdings(tx, grant).await.db()?;
            let mut totals: Vec<(String, i64)> = Vec::new();
            for h in &holdings {
                match totals.iter_mut().find(|(t, _)| *t == h.product_type) {
                    Some((_, sum)) => *sum += h.balance,
                    None => totals.push((h.product_type.clone(), h.balance)),
                }
            }
            Some(CustomerDetail {
                totals,
                holdings,
                channels: store::channels(tx, grant).await.db()?,
                tier_history: store::tier_history(tx, grant).await.db()?,
                assignees: store::assignees(tx, id, &self.today()).await.db()?,
                tags: store::tags(tx, grant).await.db()?,
                consents: store::consents(tx, grant).await.db()?,
                record: record.clone(),
            })
        } else {
            None
        };
        uc.detail(json!({ "basis": basis, "detail": detail_allowed }));
        uc.finish().await?;
        Ok(Customer360 {
            summary: record.summary,
            basis,
            detail,
            can_reveal: self.policy.authorize_customer(actor, Action::CustomerReveal, &facts).is_ok(),
            can_propose: self.policy.authorize_customer(actor, Action::CustomerPropose, &facts).is_ok()
                && detail_allowed,
        })
    }

    /// Transaction detail, paged: only for roles that see detail (never a `dept_head`).
    pub async fn customer_transactions(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: CustomerId,
        page: i64,
    ) -> DomainResult<Page<Transaction>> {
        let mut uc = self.read_case(actor, meta, AuditAction::CustomerTransactions, id.0).await?;
        let (.., grant) = self.customer_in(&mut uc, actor, id, Action::CustomerViewDetail).await?;
        let result = store::transactions(uc.tx(), &grant, page, 20).await.db()?;
        uc.detail(json!({ "page": page }));
        uc.finish().await?;
        Ok(result)
    }

    /// The full value of one field of one customer (R-PRV-2): needs the permission and a
    /// reason, is audited with both, and returns only that value.
    pub async fn reveal(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: CustomerId,
        field: SensitiveField,
        account: Option<i64>,
        reason: &str,
    ) -> DomainResult<String> {
        let permit = self.permit(actor, meta, AuditAction::CustomerReveal).await?;
        let reason = reason.trim();
        if reason.chars().count() < 2 || reason.chars().count() > 200 {
            return Err(DomainError::invalid("reason", "err.reveal_reason"));
        }
        if (field == SensitiveField::AccountNo) != account.is_some() {
            return Err(DomainError::invalid("field", "err.reveal_field"));
        }
        let mut uc = permit.write(id.0).await?;
        let (.., grant) = self.customer_in(&mut uc, actor, id, Action::CustomerReveal).await?;
        let value = self.full_value(uc.tx(), &grant, field, account).await?.ok_or(DomainError::NotFound)?;
        uc.detail(json!({ "field": field.code(), "account": account, "masked": field.mask(&value) }));
        uc.reason(reason);
        uc.finish().await?;
        Ok(value)
    }

    /// The full value of one sensitive field of the granted customer, opened from its seal;
    /// `None` when the customer has no such value.
    pub(crate) async fn full_value(
        &self,
        tx: &mut pcis_store::Tx,
        grant: &CustomerGrant,
        field: SensitiveField,
        account: Option<i64>,
    ) -> DomainResult<Option<String>> {
        let Some(sealed) = store::sealed_value(tx, grant, field, account).await.db()? else {
            return Ok(None);
        };
        let value = if field == SensitiveField::Name {
            String::from_utf8(sealed).map_err(|_| DomainError::Internal("name".into()))?
        } else {
            self.keys.data.open(field.code(), &sealed).map_err(|e| {
                let customer = grant.customer().0;
                tracing::error!(error = %e, customer, field = field.code(), "cannot open a sealed value");
                crate::key_ring::unopenable(&e)
            })?
        };
        Ok(Some(value))
    }

    /// The institutions and account managers the search form may offer as filters: those
    /// within the actor's customer scope (none for a role that sees only its assigned
    /// customers). Names of institutions and staff only, so not audited as a customer read.
    pub async fn customer_search_choices(&self, actor: &Actor) -> DomainResult<SearchChoices> {
        let roots: Vec<ScopeFilter> = match self.policy.customer_scope(actor, Action::CustomerSearch)? {
            CustomerScope::All => vec![ScopeFilter::All],
            CustomerScope::Any(rules) => {
                let mut roots: Vec<ScopeFilter> = Vec::new();
                for rule in rules {
                    if let CustomerRule::Subtree(r)
                    | CustomerRule::VipStandard(r)
                    | CustomerRule::VipProspect(r) = rule
                    {
                        // A root inside another root adds nothing.
                        if !roots.iter().any(|s| s.admits(&r)) {
                            roots.retain(|s| !matches!(s, ScopeFilter::Subtree(p) if r.contains(p)));
                            roots.push(ScopeFilter::Subtree(r));
                        }
                    }
                }
                roots
            }
        };
        let mut choices = SearchChoices::default();
        let mut tx = self.db.begin_read().await.db()?;
        let managers = UserFilter { role: Some(Role::AccountManager), ..Default::default() };
        for root in &roots {
            choices.institutions.extend(institutions::list(&mut tx, root).await.db()?);
            let first = Listing { per_page: MANAGER_CHOICES, ..users::UserSort::USUAL };
            let found = users::list(&mut tx, root, &managers, &first).await.db()?;
            choices.managers.extend(found.items.into_iter().map(|u| (u.id, u.display_name, u.staff_no)));
        }
        choices.institutions.retain(|i| i.status == InstStatus::Active);
        Ok(choices)
    }

    pub async fn tier_thresholds(&self) -> DomainResult<TierThresholds> {
        let mut tx = self.db.begin_read().await.db()?;
        store::thresholds(&mut tx).await.db()
    }
}

/// Seals the columns of a validated patch.
pub(crate) fn columns(app: &App, p: &pcis_domain::customer::CustomerPatch) -> CustomerColumns {
    let seal = |s: &Option<pcis_domain::customer::Secret>, f: SensitiveField, bidx: Option<&str>| {
        s.as_ref().map(|v| app.seal(f, v.expose(), bidx))
    };
    CustomerColumns {
        name: p.name.clone(),
        gender: p.gender.map(|g| g.code().to_owned()),
        birth_date: p.birth_date.map(|d| d.to_string()),
        nationality: p.nationality.clone(),
        occupation: p.occupation.clone(),
        education: p.education.clone(),
        marital_status: p.marital_status.clone(),
        id_type: p.id_type.map(|t| t.code().to_owned()),
        id_number: seal(&p.id_number, SensitiveField::IdNumber, Some(BIDX_ID)),
        id_issuer: p.id_issuer.clone(),
        id_expiry: p.id_expiry.map(|d| d.to_string()),
        mobile: seal(&p.mobile, SensitiveField::Mobile, Some(BIDX_CONTACT)),
        phone: seal(&p.phone, SensitiveField::Phone, Some(BIDX_CONTACT)),
        email: seal(&p.email, SensitiveField::Email, None),
        address: seal(&p.address, SensitiveField::Address, None),
        settlement: None,
    }
}

/// What a credit reviewer gets back for a hit: the customer (masked, like everyone) and its
/// accounts and loans.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreditView {
    pub record: CustomerRecord,
    pub holdings: Vec<Holding>,
}

/// Misses by one reviewer within a day that raise a monitoring flag for the auditor.
const CREDIT_MISSES_FLAGGED: i64 = 3;

impl App {
    /// The credit reviewer's lookup (R-USR-3): exact name plus full ID number, with a
    /// purpose; no partial matches. Every lookup is audited, hit or miss; repeated misses
    /// raise a monitoring flag.
    pub async fn credit_lookup(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        name: &str,
        id_number: &str,
        purpose: &str,
    ) -> DomainResult<Option<CreditView>> {
        let permit = self.permit(actor, meta, AuditAction::CustomerCreditLookup).await?;
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() {
            errors.push(pcis_domain::FieldError::new("name", "err.required"));
        }
        let id = IdNumber::parse(id_number).map_err(|e| errors.push(e)).ok();
        let purpose = purpose.trim();
        if purpose.chars().count() < 2 || purpose.chars().count() > 200 {
            errors.push(pcis_domain::FieldError::new("purpose", "err.purpose_required"));
        }
        let Some(id) = id.filter(|_| errors.is_empty()) else { return Err(DomainError::Invalid(errors)) };
        let mut uc = permit.write("").await?;
        uc.check(self.policy.customer_scope(actor, Action::CustomerCreditLookup)).await?;
        let bidx = self.keys.data.blind_index(BIDX_ID, id.expose());
        let hit = store::by_id_bidx(uc.tx(), &bidx).await.db()?.into_iter().find(|(_, n)| n == name);
        let result = match hit {
            Some((cid, _)) => {
                let (record, facts) =
                    store::get(uc.tx(), cid, &self.today()).await.db()?.ok_or(DomainError::NotFound)?;
                let grant =
                    uc.check(self.policy.grant_customer(actor, Action::CustomerCreditLookup, &facts)).await?;
                let holdings = store::holdings(uc.tx(), &grant).await.db()?;
                Some(CreditView { record, holdings })
            }
            None => None,
        };
        let tx = uc.tx();
        if result.is_none() {
            let since = self.clock.now() - time::Duration::days(1);
            let action = AuditAction::CustomerCreditLookup.code();
            // This miss, whose record is written below, counts too.
            let misses =
                pcis_store::audit::count_failures(tx, &actor.username, action, since).await.db()? + 1;
            if misses >= CREDIT_MISSES_FLAGGED {
                let now = self.clock.now();
                pcis_store::monitoring::raise(tx, actor.user_id, "credit_lookup_misses", misses, now)
                    .await
                    .db()?;
            }
            uc.outcome(pcis_domain::audit::Outcome::Failed);
        }
        uc.target(result.as_ref().map(|v| v.record.summary.id.0.to_string()).unwrap_or_default());
        uc.reason(purpose);
        uc.detail(json!({ "hit": result.is_some(), "id_number": id.masked() }));
        uc.finish().await?;
        Ok(result)
    }
}
