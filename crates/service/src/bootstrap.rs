//! Setting up a deployment before any administrator exists: the institution tree from seed
//! data and accounts with one-time passwords. Recorded in the audit trail as `system`.

use pcis_domain::audit::AuditWho;
use pcis_domain::audit_action::AuditAction;
use pcis_domain::institution::{InstCode, InstitutionInput, Level};
use pcis_domain::password;
use pcis_domain::user::{UserId, UserInput};
use pcis_domain::{DomainError, DomainResult};
use pcis_store::{institutions, users};
use serde_json::json;

use crate::audit::with_detail;
use crate::{App, DbExt, entry};

/// One institution of seed data; parents come before children.
pub struct SeedInstitution {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub kind: &'static str,
}

pub(crate) fn system() -> AuditWho {
    AuditWho { username: "system".into(), ..AuditWho::default() }
}

impl App {
    /// Adds one institution under its parent unless its code exists; true if it was added.
    /// Used by the bootstrap, the demo and the extract load alike, so that they agree on one
    /// tree with one head office: a row without a parent makes the root only while the tree
    /// is empty, and a code already stored must name the parent it is stored under. Nothing
    /// moves an institution to another parent yet (its subtree's paths, and its customers'
    /// copies of them, would move with it), so such a row is refused, never counted as the
    /// same.
    pub(crate) async fn add_institution(
        &self,
        tx: &mut pcis_store::Tx,
        s: &SeedInstitution,
    ) -> DomainResult<bool> {
        let parent = match &s.parent_code {
            Some(code) => Some(
                institutions::get_by_code(tx, &code.trim().to_ascii_uppercase())
                    .await
                    .db()?
                    .ok_or(DomainError::invalid("parent_code", "err.inst_parent_unknown"))?,
            ),
            None => None,
        };
        let code = InstCode::parse(&s.code).map_err(|e| DomainError::Invalid(vec![e]))?;
        if let Some(stored) = institutions::get_by_code(tx, code.as_str()).await.db()? {
            if stored.parent_id != parent.as_ref().map(|p| p.id) {
                return Err(DomainError::invalid("parent_code", "err.inst_parent_differs"));
            }
            return Ok(false);
        }
        if parent.is_none() && institutions::head_office(tx).await.db()?.is_some() {
            return Err(DomainError::invalid("parent_code", "err.inst_root_exists"));
        }
        let level =
            parent.as_ref().map_or(Some(Level::HEAD_OFFICE), |p| Level::new(i64::from(p.level.get()) + 1));
        let level = level.ok_or(DomainError::invalid("parent_code", "err.inst_parent_outlet"))?;
        let input = InstitutionInput {
            code: s.code.clone(),
            name: s.name.clone(),
            kind: s.kind.into(),
            effective_from: String::new(),
        };
        let draft = input.parse(level)?;
        institutions::insert(tx, &draft, level, parent.as_ref(), self.clock.now()).await.db()?;
        Ok(true)
    }

    /// Inserts the institutions whose codes do not exist yet; returns how many were added.
    /// A second head office, or a code stored under another parent, refuses the whole seed.
    pub async fn seed_institutions(&self, seed: &[SeedInstitution]) -> DomainResult<u64> {
        let mut tx = self.db.begin().await.db()?;
        let mut added = 0;
        for s in seed {
            added += u64::from(self.add_institution(&mut tx, s).await?);
        }
        let detail = json!({ "added": added });
        self.record(&mut tx, with_detail(entry(system(), AuditAction::InstitutionSeed, ""), detail)).await?;
        tx.commit().await.db()?;
        Ok(added)
    }

    /// Creates the account if it does not exist, and in any case gives it a fresh one-time
    /// password (to be changed at first login), unlocked and active. Returns the password.
    pub async fn provision_user(&self, input: &UserInput) -> DomainResult<String> {
        let draft = input.parse()?;
        let otp = password::generate_one_time();
        let hash = crate::hashing::hash(&otp).await;
        let mut tx = self.db.begin().await.db()?;
        let inst = institutions::get_by_code(&mut tx, &draft.institution_code)
            .await
            .db()?
            .ok_or(DomainError::invalid("institution_code", "err.inst_unknown"))?;
        let now = self.clock.now();
        let existing = users::login_info_by_name(&mut tx, draft.username.as_str()).await.db()?;
        let id = match existing {
            Some(info) => {
                let id = UserId(info.id);
                users::set_password(&mut tx, id, &hash, true, now).await.db()?;
                users::set_status(&mut tx, id, pcis_domain::user::UserStatus::Active, now).await.db()?;
                id
            }
            None => users::insert(&mut tx, &draft, inst.id, &hash, now).await.db()?,
        };
        let e = entry(system(), AuditAction::UserProvision, id.0);
        self.record(
            &mut tx,
            with_detail(e, json!({ "username": draft.username.as_str(), "roles": draft.roles })),
        )
        .await?;
        tx.commit().await.db()?;
        Ok(otp)
    }
}

/// One customer of seed data (demo, tests), entered through the same parsing as the UI.
#[derive(Default)]
pub struct SeedCustomer {
    pub customer_no: String,
    pub input: pcis_domain::customer::CustomerInput,
    pub outlet_code: String,
    pub manager: Option<String>,
    pub specialist: Option<String>,
    pub vip_member: bool,
    pub risk_level: Option<String>,
    pub accounts: Vec<SeedAccount>,
    pub transactions: Vec<SeedTransaction>,
    pub tags: Vec<String>,
    pub marketing_consent: Option<String>,
}

pub struct SeedAccount {
    pub number: String,
    pub product_type: &'static str,
    pub product_code: String,
    pub product_name: String,
    /// Fen; negative for nothing — loans carry their outstanding principal as a positive
    /// balance and are not assets.
    pub balance: i64,
    pub opened_on: String,
    pub matures_on: Option<String>,
}

pub struct SeedTransaction {
    /// Index into the customer's accounts.
    pub account: usize,
    pub at: time::OffsetDateTime,
    pub amount: i64,
    pub channel: &'static str,
    pub summary: String,
}

impl App {
    /// Loads the seed customers whose numbers do not exist yet (so `pcis demo` can be
    /// rerun). One transaction: all or nothing. Returns how many were added.
    pub async fn seed_customers(&self, seed: &[SeedCustomer]) -> DomainResult<usize> {
        use pcis_domain::customer::{AssignmentKind, SensitiveField};
        use pcis_store::customers::{self as cs, NewAccount, Placement};

        let mut tx = self.db.begin().await.db()?;
        let thresholds = cs::thresholds(&mut tx).await.db()?;
        let now = self.clock.now();
        let today = self.today();
        let mut places = std::collections::HashMap::new();
        let mut users_by_name = std::collections::HashMap::new();
        let mut added = 0;
        for s in seed {
            if cs::exists(&mut tx, &s.customer_no).await.db()? {
                continue;
            }
            added += 1;
            let patch = s.input.parse(None)?;
            if !places.contains_key(&s.outlet_code) {
                let inst = institutions::get_by_code(&mut tx, &s.outlet_code)
                    .await
                    .db()?
                    .ok_or(DomainError::invalid("outlet", "err.inst_unknown"))?;
                places.insert(s.outlet_code.clone(), inst);
            }
            let inst = &places[&s.outlet_code];
            let aum: i64 = s.accounts.iter().filter(|a| a.product_type != "loan").map(|a| a.balance).sum();
            let tier = thresholds.tier_for(aum);
            let place = Placement {
                customer_no: s.customer_no.clone(),
                owner: inst.id,
                owner_path: inst.path.clone(),
                aum,
                tier,
                vip_standard_met: thresholds.meets_vip_standard(aum),
                vip_member: s.vip_member,
                complete: true,
            };
            let id = cs::insert(&mut tx, &place, &crate::customers::columns(self, &patch), now).await.db()?;
            cs::set_risk(&mut tx, id, s.risk_level.as_deref(), s.risk_level.as_ref().map(|_| today.as_str()))
                .await
                .db()?;
            cs::record_tier(&mut tx, id, None, tier, aum, "tier.reason.initial_load", now).await.db()?;
            for (name, kind) in
                [(&s.manager, AssignmentKind::Manager), (&s.specialist, AssignmentKind::Specialist)]
            {
                let Some(name) = name else { continue };
                if !users_by_name.contains_key(name) {
                    let info = users::login_info_by_name(&mut tx, name).await.db()?;
                    users_by_name.insert(name.clone(), info.map(|i| UserId(i.id)));
                }
                if let Some(user) = users_by_name[name] {
                    cs::assign(&mut tx, id, user, kind, &today, None).await.db()?;
                }
            }
            let mut account_ids = Vec::new();
            for a in &s.accounts {
                let (number, _luhn_ok) = pcis_domain::customer::parse_account_no(&a.number)
                    .map_err(|e| DomainError::Invalid(vec![e]))?;
                let stored = self.seal(
                    SensitiveField::AccountNo,
                    number.expose(),
                    Some(crate::customers::BIDX_ACCOUNT),
                );
                let new = NewAccount {
                    number: &stored,
                    product_type: a.product_type,
                    product_code: &a.product_code,
                    product_name: &a.product_name,
                    balance: a.balance,
                    opened_on: &a.opened_on,
                    matures_on: a.matures_on.as_deref(),
                    institution: inst.id,
                };
                account_ids.push(cs::insert_account(&mut tx, id, &new).await.db()?);
            }
            for t in &s.transactions {
                cs::insert_transaction(
                    &mut tx,
                    id,
                    account_ids[t.account],
                    t.at,
                    t.amount,
                    t.channel,
                    &t.summary,
                )
                .await
                .db()?;
            }
            for tag in &s.tags {
                cs::add_tag(&mut tx, id, tag).await.db()?;
            }
            if let Some(on) = &s.marketing_consent {
                cs::add_consent(&mut tx, id, "marketing", on, "counter").await.db()?;
            }
        }
        let e = entry(system(), AuditAction::CustomerSeed, "");
        self.record(&mut tx, with_detail(e, json!({ "added": added }))).await?;
        tx.commit().await.db()?;
        Ok(added)
    }
}
