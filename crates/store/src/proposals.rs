//! Maker-checker proposals of customer changes (R-CUS-7) in storage.

use pcis_domain::customer::CustomerId;
use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::policy::{ScopeFilter, StepGrant};
use pcis_domain::proposal::ProposalStatus;
use pcis_domain::user::UserId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::{Arg, SqlBuilder};
use crate::workflow::{self, At};
use crate::{DbResult, Tx, bind_args, micros, on_tx};

pub struct NewProposal<'a> {
    pub kind: &'a str,
    pub customer: Option<CustomerId>,
    pub outlet: InstitutionId,
    pub outlet_path: &'a InstPath,
    pub proposer: UserId,
    pub base_version: Option<i64>,
    pub payload_sealed: Vec<u8>,
    pub before_masked: String,
    pub after_masked: String,
    /// The last working day of its review.
    pub due_on: String,
}

pub async fn insert(tx: &mut Tx, p: &NewProposal<'_>, now: OffsetDateTime) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO customer_proposal (kind, customer_id, outlet_id, outlet_path, proposer_id, base_version,
                 payload_sealed, before_masked, after_masked, status, created_us, due_on)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11) RETURNING id",
        )
        .bind(p.kind)
        .bind(p.customer.map(|c| c.0))
        .bind(p.outlet.0)
        .bind(p.outlet_path.as_str())
        .bind(p.proposer.0)
        .bind(p.base_version)
        .bind(&p.payload_sealed)
        .bind(&p.before_masked)
        .bind(&p.after_masked)
        .bind(micros(now))
        .bind(&p.due_on)
        .fetch_one(c)
        .await
    })
}

/// A proposal as reviewers see it: masked before/after only.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Proposal {
    pub id: i64,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub customer_no: Option<String>,
    pub outlet_id: i64,
    pub outlet_name: String,
    #[serde(skip)]
    pub outlet_path: String,
    pub proposer_id: i64,
    pub proposer_name: String,
    #[serde(skip)]
    pub base_version: Option<i64>,
    pub before_masked: String,
    pub after_masked: String,
    #[sqlx(try_from = "String")]
    pub status: ProposalStatus,
    #[serde(skip)]
    pub version: i64,
    pub decided_by_name: Option<String>,
    pub decided_us: Option<i64>,
    pub comment: String,
    pub created_us: i64,
    /// None for proposals made before due dates were kept.
    pub due_on: Option<String>,
    /// Still pending after its due date (marked by the nightly job).
    pub overdue: bool,
}

const SELECT: &str = "SELECT p.id, p.kind, p.customer_id, c.customer_no, p.outlet_id, i.name AS outlet_name,
        p.outlet_path, p.proposer_id, u.display_name AS proposer_name, p.base_version, p.before_masked,
        p.after_masked, p.status, p.version, d.display_name AS decided_by_name, p.decided_us, p.comment, p.created_us,
        p.due_on, p.overdue
    FROM customer_proposal p
    JOIN institution i ON i.id = p.outlet_id
    JOIN app_user u ON u.id = p.proposer_id
    LEFT JOIN customer c ON c.id = p.customer_id
    LEFT JOIN app_user d ON d.id = p.decided_by";

pub async fn get(tx: &mut Tx, id: i64) -> DbResult<Option<Proposal>> {
    on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE p.id = $1"))).bind(id).fetch_optional(c).await
    })
}

pub async fn payload(tx: &mut Tx, id: i64) -> DbResult<Vec<u8>> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT payload_sealed FROM customer_proposal WHERE id = $1").bind(id).fetch_one(c).await
    })
}

/// The actor's own proposals, and those it may decide (`reviewable`), newest first.
pub async fn list(
    tx: &mut Tx,
    mine: UserId,
    reviewable: Option<&ScopeFilter>,
    status: Option<&str>,
    limit: i64,
) -> DbResult<Vec<Proposal>> {
    let mut q = SqlBuilder::new(" WHERE (p.proposer_id = ");
    q.bind(Arg::I64(mine.0));
    if let Some(scope) = reviewable {
        q.push(" OR (1 = 1").scope("p.outlet_path", scope).push(")");
    }
    q.push(")");
    if let Some(s) = status {
        q.push(" AND p.status = ").bind(Arg::Text(s.to_owned()));
    }
    // Overdue requests first: they are the ones waiting longest past their due date.
    let order = "CASE WHEN p.status = 'pending' AND p.overdue THEN 0 ELSE 1 END, p.id DESC";
    let sql = format!("{SELECT}{} ORDER BY {order} LIMIT {limit}", q.sql);
    on_tx!(tx, c => bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &q.args).fetch_all(c).await)
}

/// Pending proposals within the scope, for the reviewer's to-do list.
/// Pending proposals in the scope, and how many of them are overdue.
pub async fn count_pending(tx: &mut Tx, scope: &ScopeFilter) -> DbResult<(i64, i64)> {
    let mut q = SqlBuilder::new(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN p.overdue THEN 1 ELSE 0 END), 0)
         FROM customer_proposal p WHERE p.status = 'pending'",
    );
    q.scope("p.outlet_path", scope);
    on_tx!(tx, c => bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_one(c).await)
}

/// Pending proposals past their due date are marked overdue; returns how many.
pub async fn escalate_overdue(tx: &mut Tx, today: &str, now: OffsetDateTime) -> DbResult<u64> {
    let pending = [ProposalStatus::Pending.code()];
    workflow::escalate_overdue(tx, "customer_proposal", &pending, None, today, now).await
}

/// Whether any proposal was ever made (the demo adds its own only to an empty database).
pub async fn any(tx: &mut Tx) -> DbResult<bool> {
    on_tx!(tx, c => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customer_proposal)").fetch_one(c).await)
}

/// The pending proposal of a customer, if any (at most one: R-CUS-7).
pub async fn pending_for(tx: &mut Tx, customer: CustomerId) -> DbResult<Option<i64>> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT id FROM customer_proposal WHERE customer_id = $1 AND status = 'pending'")
            .bind(customer.0)
            .fetch_optional(c)
            .await
    })
}

/// Moves a proposal along its workflow with who decided, when, the comment and (an approved
/// addition) the customer made. Returns false if someone moved it first: of two concurrent
/// reviewers exactly one wins.
pub async fn decide(
    tx: &mut Tx,
    grant: &StepGrant,
    p: &Proposal,
    to: ProposalStatus,
    comment: &str,
    customer: Option<CustomerId>,
    now: OffsetDateTime,
) -> DbResult<bool> {
    let at = At { status: p.status.code(), version: p.version };
    let columns = [
        ("decided_by", Arg::I64(grant.by().0)),
        ("decided_us", Arg::I64(micros(now))),
        ("comment", Arg::Text(comment.to_owned())),
        ("customer_id", Arg::OptI64(customer.map(|c| c.0).or(p.customer_id))),
    ];
    workflow::advance(tx, "customer_proposal", grant, at, to.code(), &columns).await
}
