//! The maker-checker queue (信息变更审核, R-CUS-7): a reviewer decides pending proposals of its
//! outlets with a comment; a proposer follows its own. Values are masked; a reviewer may ask
//! for the changed fields in full (an audited reveal, purpose "review"), shown once.

use pcis_domain::institution::InstPath;
use pcis_domain::proposal::{PROPOSAL_FLOW, ProposalStatus};
use pcis_domain::user::UserId;
use pcis_service::Proposal;

use super::*;
use crate::i18n::translate;
use crate::inputs::ProposalsQuery;
use crate::shown_once::ShownOnce;
use crate::views::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/proposals", get(list))
        .route("/proposals/{id}/review", post(review))
        .route("/proposals/{id}/decision", post(decide))
}

struct Change {
    field: String,
    before: String,
    after: String,
}

struct ProposalRow {
    id: i64,
    kind: String,
    kind_code: String,
    customer: Option<(i64, String)>,
    outlet: String,
    proposer: String,
    created: String,
    changes: Vec<Change>,
    status: String,
    status_class: &'static str,
    decided: String,
    comment: String,
    bar: StepBar,
    /// The viewer may decide it, so may see it in full.
    reviewable: bool,
    /// The changes are shown in full (after a review reveal).
    full: bool,
    /// The last day of its review, while it waits.
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "proposals.html")]
struct ProposalsPage {
    ctx: Ctx,
    /// The reviewer's queue, or the proposer's own list (我的变更申请).
    title: &'static str,
    rows: Vec<ProposalRow>,
    tabs: Vec<Choice>,
    notice: String,
    problem: String,
}

#[derive(Deserialize, Default, Clone)]
struct ListQuery {
    #[serde(flatten)]
    filter: ProposalsQuery,
    #[serde(default)]
    notice: String,
    /// 1 after a review reveal: the changes it returned are shown once.
    #[serde(default)]
    shown: u8,
}

/// The changed fields as stored (masked), in the order of the customer form.
fn changes(lang: Lang, p: &Proposal) -> Vec<Change> {
    let parse =
        |s: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).unwrap_or_default();
    let before = parse(&p.before_masked);
    let after = parse(&p.after_masked);
    let mut fields: Vec<&String> = after.keys().collect();
    fields.extend(before.keys().filter(|k| !after.contains_key(*k)));
    let text = |m: &serde_json::Map<String, serde_json::Value>, f: &str| {
        m.get(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
    };
    in_form_order(lang, fields.into_iter().map(|f| (f.as_str(), text(&before, f), text(&after, f))))
}

/// Rows of (field, before, after) labelled and sorted as the customer form lists them.
fn in_form_order<'a>(lang: Lang, rows: impl Iterator<Item = (&'a str, String, String)>) -> Vec<Change> {
    let mut rows: Vec<_> = rows.collect();
    // Unknown fields (none today) last.
    rows.sort_by_key(|(f, ..)| CustomerField::parse(f).map_or((1, None), |f| (0, Some(f))));
    rows.into_iter()
        .map(|(f, before, after)| Change {
            field: t(lang, &format!("customer.{f}")),
            before: customer_value(lang, f, &before),
            after: customer_value(lang, f, &after),
        })
        .collect()
}

fn status_class(status: ProposalStatus) -> &'static str {
    match status {
        ProposalStatus::Approved => "success",
        ProposalStatus::Rejected => "danger",
        ProposalStatus::Withdrawn => "muted",
        ProposalStatus::Pending => "warning",
    }
}

async fn page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    q: &ProposalsQuery,
) -> Result<ProposalsPage, DomainError> {
    let actor = &auth.session.actor;
    let list = st.app.proposals(actor, meta, q.status()).await?;
    let approve = PROPOSAL_FLOW.step("approve").expect("proposals are approved");
    let may_approve = |p: &Proposal| {
        PROPOSAL_FLOW.is_pending(p.status)
            && st
                .app
                .policy
                .authorize_step(
                    actor,
                    approve.taker,
                    &InstPath::from_stored(p.outlet_path.clone()),
                    Some(UserId(p.proposer_id)),
                )
                .is_ok()
    };
    let rows = list
        .iter()
        .map(|p| ProposalRow {
            id: p.id,
            kind: t(lang, &format!("proposal.{}", p.kind)),
            kind_code: p.kind.clone(),
            customer: p.customer_id.map(|c| (c, p.customer_no.clone().unwrap_or_default())),
            outlet: p.outlet_name.clone(),
            proposer: p.proposer_name.clone(),
            created: minute(p.created_us),
            changes: changes(lang, p),
            status: t(lang, &format!("proposal.{}", p.status.code())),
            status_class: status_class(p.status),
            decided: match (&p.decided_by_name, p.decided_us) {
                (Some(by), Some(at)) => format!("{by} · {}", minute(at)),
                _ => String::new(),
            },
            comment: p.comment.clone(),
            reviewable: may_approve(p),
            full: false,
            due: p.due_on.clone().filter(|_| PROPOSAL_FLOW.is_pending(p.status)).unwrap_or_default(),
            overdue: p.overdue && PROPOSAL_FLOW.is_pending(p.status),
            // Only the steps this viewer may take now; the service decides again.
            bar: StepBar::new(
                lang,
                &PROPOSAL_FLOW,
                p.status,
                format!("/proposals/{}/decision", p.id),
                |step| {
                    let outlet = InstPath::from_stored(p.outlet_path.clone());
                    st.app
                        .policy
                        .authorize_step(actor, step.taker, &outlet, Some(UserId(p.proposer_id)))
                        .is_ok()
                },
            ),
        })
        .collect();
    let current = q.status().unwrap_or("");
    let title = if st.app.policy.can(actor, Action::CustomerApprove) {
        "proposal.title"
    } else {
        "proposal.title_mine"
    };
    Ok(ProposalsPage {
        ctx: ctx(st, lang, auth, "/proposals").crumb(title, "").watermarked(st.app.clock.now()),
        title,
        rows,
        tabs: ["pending", "approved", "rejected", "withdrawn", ""]
            .into_iter()
            .map(|s| Choice {
                code: s,
                label: t(lang, &format!("proposal.{}", if s.is_empty() { "all" } else { s })),
                on: s == current,
            })
            .collect(),
        notice: String::new(),
        problem: String::new(),
    })
}

async fn list(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<ListQuery>) -> PageResult {
    let mut filter = q.filter.clone();
    if filter.status.is_empty() && q.notice.is_empty() {
        filter.status = "pending".into();
    }
    let mut p = page(&st, lang, &auth, &meta, &filter).await?;
    p.notice = match q.notice.as_str() {
        "proposed" => t(lang, "customer.proposed"),
        "decided" => t(lang, "proposal.decided"),
        _ => String::new(),
    };
    if q.shown == 1
        && let Some(ShownOnce::Review { proposal, changes }) = ShownOnce::take(&st, &auth).await?
        && let Some(row) = p.rows.iter_mut().find(|r| r.id == proposal)
    {
        let full = changes.iter().map(|c| (c.field.code(), c.before.clone(), c.after.clone()));
        row.changes = in_form_order(lang, full);
        row.full = true;
        p.notice = translate(lang, "proposal.reviewed", &[("id", &proposal.to_string())]);
    }
    Ok(render(&p))
}

/// Reveals a proposal's changed fields in full to a reviewer who may decide it, and returns
/// to the queue, which shows them once.
async fn review(Req { st, meta, auth, .. }: Req, PagePath(id): PagePath<i64>) -> PageResult {
    let changes = st.app.review_proposal(&auth.session.actor, &meta, id).await?;
    ShownOnce::Review { proposal: id, changes }.hold(&st, &auth).await?;
    Ok(Redirect::to(&format!("/proposals?status=pending&shown=1#p{id}")).into_response())
}

#[derive(Deserialize)]
struct DecisionForm {
    /// A step of `PROPOSAL_FLOW`: approve, reject, withdraw.
    #[serde(default)]
    step: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    let problem = match st.app.proposal_step(&auth.session.actor, &meta, id, &f.step, &f.comment).await {
        Ok(()) => return Ok(Redirect::to("/proposals?notice=decided").into_response()),
        Err(DomainError::Invalid(fields)) => t(lang, fields[0].rule),
        Err(DomainError::Conflict(key)) => t(lang, key),
        Err(e) => return Err(PageError::from(e)),
    };
    let filter = ProposalsQuery { status: "pending".into() };
    let mut p = page(&st, lang, &auth, &meta, &filter).await?;
    p.problem = format!("#{id}: {problem}");
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
}
