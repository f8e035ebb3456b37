//! Maker-checker changes of customer information (R-CUS-7): an account manager, VIP
//! specialist or data-entry clerk proposes; the outlet's `am_supervisor` approves or rejects
//! with a comment; only an approval applies the change. Invariants: the proposed values are
//! sealed at rest and shown masked; nobody decides their own proposal; of two concurrent
//! decisions exactly one wins; a change made to the customer after the proposal was written
//! makes the approval fail rather than overwrite it; at most one proposal is pending per
//! customer, and its proposer may withdraw it. The states and steps are `PROPOSAL_FLOW`.

use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::{CustomerField, CustomerId, CustomerInput, CustomerPatch, Tier};
use pcis_domain::institution::InstPath;
use pcis_domain::policy::Actor;
use pcis_domain::proposal::{PROPOSAL_FLOW, ProposalStatus};
use pcis_domain::role::{Action, Role};
use pcis_domain::user::UserId;
use pcis_domain::workflow::Comment;
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::customers::{self as customers_store, Placement};
use pcis_store::proposals::{self as store, NewProposal, Proposal};
use pcis_store::users;
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::customers::columns;
use crate::{App, DbExt, RequestMeta, entry};

const PAYLOAD_FIELD: &str = "proposal";

/// One changed field of a proposal in full: the customer's value now and the proposed one.
/// Not `Debug`: full values never reach a log through `{:?}`.
#[derive(Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FullChange {
    pub field: CustomerField,
    pub before: String,
    pub after: String,
}

fn masked_json(pairs: &[(CustomerField, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| (k.code().to_owned(), json!(v))).collect();
    serde_json::Value::Object(map).to_string()
}

impl App {
    /// Proposes a new customer owned by the actor's outlet.
    pub async fn propose_new_customer(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        input: &CustomerInput,
    ) -> DomainResult<i64> {
        let mut uc = self.write_case(actor, meta, AuditAction::CustomerPropose, "").await?;
        uc.check(self.policy.authorize_customer_add(actor, &actor.institution_path)).await?;
        if actor.institution_path.depth() != 5 {
            return Err(DomainError::invalid("outlet", "err.propose_outlet"));
        }
        let patch = input.parse(None)?;
        let due_on = self.proposal_due_on(uc.tx()).await?;
        let id = store::insert(
            uc.tx(),
            &NewProposal {
                kind: "add",
                customer: None,
                outlet: actor.institution_id,
                outlet_path: &actor.institution_path,
                proposer: actor.user_id,
                base_version: None,
                payload_sealed: self.seal_patch(&patch)?,
                before_masked: "{}".into(),
                after_masked: masked_json(&patch.masked()),
                due_on,
            },
            self.clock.now(),
        )
        .await
        .db()?;
        uc.detail(json!({ "proposal": id, "kind": "add", "after": patch.masked() }));
        uc.finish().await?;
        Ok(id)
    }

    /// Proposes a modification (the changed fields of `input`) or, with `input` `None`, the
    /// deletion of a customer.
    pub async fn propose_customer_change(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: CustomerId,
        input: Option<&CustomerInput>,
    ) -> DomainResult<i64> {
        let mut uc = self.write_case(actor, meta, AuditAction::CustomerPropose, id.0).await?;
        let found = customers_store::get(uc.tx(), id, &self.today()).await.db()?;
        let (record, facts) = uc.found(found, "deny.customer_out_of_scope").await?;
        let grant = uc.check(self.policy.authorize_customer_change(actor, &facts)).await?;
        if let Some(pending) = store::pending_for(uc.tx(), id).await.db()? {
            return Err(DomainError::AlreadyPending { id: pending });
        }
        let (kind, patch) = match input {
            Some(input) => {
                let before =
                    customers_store::key_info(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
                let mut patch = input.parse(Some(&before))?;
                // Exactly the changed fields: what the customer already holds is dropped,
                // sensitive values compared in full.
                let mut held = std::collections::HashMap::new();
                for (field, _) in patch.masked() {
                    if let Some(sensitive) = field.sensitive() {
                        let value = self.full_value(uc.tx(), &grant, sensitive, None).await?;
                        held.insert(field, value.unwrap_or_default());
                    }
                }
                patch.drop_unchanged(|field| {
                    held.get(&field).cloned().unwrap_or_else(|| record.masked_field(field))
                });
                if patch.is_empty() {
                    return Err(DomainError::Invalid(vec![FieldError::new("name", "err.nothing_changed")]));
                }
                ("modify", patch)
            }
            None => ("delete", CustomerPatch::default()),
        };
        let after = patch.masked();
        let before: Vec<(CustomerField, String)> = after
            .iter()
            .map(|(k, _)| (*k, record.masked_field(*k)))
            .chain((kind == "delete").then(|| (CustomerField::Name, record.summary.name.clone())))
            .collect();
        let outlet = facts.owner_path.clone();
        let outlet_id = pcis_domain::institution::InstitutionId(record.summary.owner_institution_id);
        let due_on = self.proposal_due_on(uc.tx()).await?;
        let pid = store::insert(
            uc.tx(),
            &NewProposal {
                kind,
                customer: Some(id),
                outlet: outlet_id,
                outlet_path: &outlet,
                proposer: actor.user_id,
                base_version: Some(record.version),
                payload_sealed: self.seal_patch(&patch)?,
                before_masked: masked_json(&before),
                after_masked: masked_json(&after),
                due_on,
            },
            self.clock.now(),
        )
        .await
        .db()?;
        uc.detail(json!({ "proposal": pid, "kind": kind, "before": before, "after": after }));
        uc.finish().await?;
        Ok(pid)
    }

    fn seal_patch(&self, patch: &CustomerPatch) -> DomainResult<Vec<u8>> {
        let json = serde_json::to_string(patch).map_err(|_| DomainError::Internal("proposal".into()))?;
        Ok(self.keys.data.seal(PAYLOAD_FIELD, &json))
    }

    /// The actor's own proposals and, for a reviewer, those of its outlets.
    pub async fn proposals(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        status: Option<&str>,
    ) -> DomainResult<Vec<Proposal>> {
        let mut uc = self.read_case(actor, meta, AuditAction::CustomerProposals, "").await?;
        let reviewable = self.policy.scope(actor, Action::CustomerApprove).ok();
        let list = store::list(uc.tx(), actor.user_id, reviewable.as_ref(), status, 200).await.db()?;
        uc.detail(json!({ "status": status, "found": list.len() }));
        uc.finish().await?;
        Ok(list)
    }

    /// The last working day of a review starting today.
    async fn proposal_due_on(&self, tx: &mut pcis_store::Tx) -> DomainResult<String> {
        let calendar = self.work_calendar(tx).await?;
        Ok(calendar.add_working_days(self.today_date(), PROPOSAL_FLOW.due_in_working_days).to_string())
    }

    /// The nightly job's escalation: pending proposals past their due date are marked
    /// overdue, on the workbench of everyone who may decide them. Audited as the system.
    pub async fn escalate_overdue_proposals(&self) -> DomainResult<u64> {
        let mut tx = self.db.begin().await.db()?;
        let today = self.today();
        let marked = store::escalate_overdue(&mut tx, &today, self.clock.now()).await.db()?;
        if marked > 0 {
            let detail = json!({ "business_date": today, "total": marked });
            self.record(&mut tx, with_detail(entry(system(), AuditAction::CustomerOverdue, ""), detail))
                .await?;
        }
        tx.commit().await.db()?;
        Ok(marked)
    }

    /// Pending proposals the actor may decide, and how many of them are overdue, for the
    /// home page's to-do list.
    pub async fn count_pending_proposals(&self, actor: &Actor) -> DomainResult<(i64, i64)> {
        let scope = self.policy.scope(actor, Action::CustomerApprove)?;
        let mut tx = self.db.begin_read().await.db()?;
        store::count_pending(&mut tx, &scope).await.db()
    }

    /// Approves (and applies) or rejects a proposal, with a comment.
    pub async fn decide_proposal(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: i64,
        approve: bool,
        comment: &str,
    ) -> DomainResult<()> {
        self.proposal_step(actor, meta, id, if approve { "approve" } else { "reject" }, comment).await
    }

    /// Takes a pending proposal back, by its proposer; the customer stays exactly as it was.
    pub async fn withdraw_proposal(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: i64,
        comment: &str,
    ) -> DomainResult<()> {
        self.proposal_step(actor, meta, id, "withdraw", comment).await
    }

    /// One step of a proposal's workflow (approve, reject, withdraw), applied by the one
    /// guarded update: of two concurrent steps exactly one wins.
    pub async fn proposal_step(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: i64,
        step: &str,
        comment: &str,
    ) -> DomainResult<()> {
        let step = PROPOSAL_FLOW.step(step).ok_or(DomainError::invalid("decision", "err.step_unknown"))?;
        let permit = self.permit(actor, meta, step.audit).await?;
        let comment = comment.trim();
        if comment.chars().count() > 200 || (step.comment == Comment::Required && comment.is_empty()) {
            return Err(DomainError::invalid("comment", "err.comment_required"));
        }
        let mut uc = permit.write(id).await?;
        let p = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        let outlet = InstPath::from_stored(p.outlet_path.clone());
        let maker = Some(UserId(p.proposer_id));
        let grant = uc.check(self.policy.grant_step(actor, step, &outlet, maker, p.id)).await?;
        let to = PROPOSAL_FLOW.take(step.code, p.status, "decision")?.to;
        let tx = uc.tx();
        let customer = if to == ProposalStatus::Approved {
            self.apply(tx, &p).await?
        } else {
            p.customer_id.map(CustomerId)
        };
        if !store::decide(tx, &grant, &p, to, comment, customer, self.clock.now()).await.db()? {
            return Err(DomainError::Conflict(PROPOSAL_FLOW.finished));
        }
        uc.detail(json!({ "kind": p.kind, "customer": customer.map(|c| c.0), "comment": comment,
            "before": p.before_masked, "after": p.after_masked }));
        uc.finish().await
    }

    /// The changed fields of a pending proposal in full, before → after, for a reviewer who
    /// may decide it; recorded as a reveal with the purpose "review" (R-PRV-3).
    pub async fn review_proposal(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: i64,
    ) -> DomainResult<Vec<FullChange>> {
        let permit = self.permit(actor, meta, AuditAction::CustomerReveal).await?;
        let mut uc = permit.write("").await?;
        let found = store::get(uc.tx(), id).await.db()?;
        let p = uc.found(found, "deny.out_of_scope").await?;
        let approve = PROPOSAL_FLOW.step("approve").expect("proposals are approved");
        let outlet = InstPath::from_stored(p.outlet_path.clone());
        uc.check(self.policy.authorize_step(actor, approve.taker, &outlet, Some(UserId(p.proposer_id))))
            .await?;
        PROPOSAL_FLOW.take(approve.code, p.status, "decision")?;
        let patch = self.open_payload(uc.tx(), p.id).await?;
        let after = patch.full();
        let mut fields: Vec<CustomerField> = after.iter().map(|(f, _)| *f).collect();
        if p.kind == "delete" {
            fields.push(CustomerField::Name);
        }
        let mut changes = Vec::new();
        match p.customer_id.map(CustomerId) {
            Some(customer) => {
                uc.target(customer.0);
                let found = customers_store::get(uc.tx(), customer, &self.today()).await.db()?;
                let (record, facts) = uc.found(found, "deny.customer_out_of_scope").await?;
                let grant =
                    uc.check(self.policy.grant_customer(actor, Action::CustomerReveal, &facts)).await?;
                for field in fields {
                    let before = match field.sensitive() {
                        Some(sensitive) => {
                            self.full_value(uc.tx(), &grant, sensitive, None).await?.unwrap_or_default()
                        }
                        None => record.masked_field(field),
                    };
                    let after =
                        after.iter().find(|(f, _)| *f == field).map(|(_, v)| v.clone()).unwrap_or_default();
                    changes.push(FullChange { field, before, after });
                }
            }
            None => {
                uc.check(self.policy.authorize(actor, Action::CustomerReveal, &outlet)).await?;
                changes = after
                    .into_iter()
                    .map(|(field, after)| FullChange { field, before: String::new(), after })
                    .collect();
            }
        }
        let codes: Vec<CustomerField> = changes.iter().map(|c| c.field).collect();
        uc.detail(json!({ "proposal": id, "purpose": "review", "fields": codes }));
        uc.reason("review");
        uc.finish().await?;
        Ok(changes)
    }

    async fn open_payload(&self, tx: &mut pcis_store::Tx, id: i64) -> DomainResult<CustomerPatch> {
        let sealed = store::payload(tx, id).await.db()?;
        let json =
            self.keys.data.open(PAYLOAD_FIELD, &sealed).map_err(|e| crate::key_ring::unopenable(&e))?;
        serde_json::from_str(&json).map_err(|_| DomainError::Internal("proposal".into()))
    }

    /// Applies an approved proposal inside the deciding transaction.
    async fn apply(&self, tx: &mut pcis_store::Tx, p: &Proposal) -> DomainResult<Option<CustomerId>> {
        let patch = self.open_payload(tx, p.id).await?;
        let now = self.clock.now();
        let changed = |ok: bool| if ok { Ok(()) } else { Err(DomainError::Conflict("err.customer_changed")) };
        match (p.kind.as_str(), p.customer_id.map(CustomerId)) {
            ("add", None) => {
                let place = Placement {
                    customer_no: format!("M{:09}", p.id),
                    owner: pcis_domain::institution::InstitutionId(p.outlet_id),
                    owner_path: InstPath::from_stored(p.outlet_path.clone()),
                    aum: 0,
                    tier: Tier::Ordinary,
                    vip_standard_met: false,
                    vip_member: false,
                    complete: true,
                };
                let id = customers_store::insert(tx, &place, &columns(self, &patch), now).await.db()?;
                customers_store::record_tier(tx, id, None, Tier::Ordinary, 0, "tier.reason.new", now)
                    .await
                    .db()?;
                let proposer = UserId(p.proposer_id);
                let holds = users::get(tx, proposer).await.db()?;
                if holds.is_some_and(|u| u.user.roles.contains(&Role::AccountManager)) {
                    let today = self.today();
                    customers_store::assign(
                        tx,
                        id,
                        proposer,
                        pcis_domain::customer::AssignmentKind::Manager,
                        &today,
                        None,
                    )
                    .await
                    .db()?;
                }
                Ok(Some(id))
            }
            ("modify", Some(id)) => {
                let version = p.base_version.unwrap_or_default();
                changed(
                    customers_store::update(tx, id, version, &columns(self, &patch), true, now).await.db()?,
                )?;
                Ok(Some(id))
            }
            ("delete", Some(id)) => {
                let version = p.base_version.unwrap_or_default();
                changed(customers_store::mark_deleted(tx, id, version, now).await.db()?)?;
                Ok(Some(id))
            }
            _ => Err(DomainError::Internal("proposal kind".into())),
        }
    }
}
