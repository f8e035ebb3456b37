//! Suspicious customer information (可疑客户信息, R-ETL-4). After each load the values shared
//! by different customers become items, listed T+1 and routed to every outlet owning one of
//! their customers; the outlet closes each within 3 working days as genuine, corrected or
//! escalated, with a note; what is still open after that goes to the department head; a
//! report names the staff whose customers show such items repeatedly.

use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::{CustomerId, parse_date};
use pcis_domain::policy::{Actor, CustomerFacts, CustomerScope};
use pcis_domain::role::Action;
use pcis_domain::suspect::{SUSPECT_FLOW, SuspectStatus, WorkCalendar, check_note};
use pcis_domain::workflow::Taker;
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::Page;
use pcis_store::customers as customers_store;
use pcis_store::suspects::{self as store, ItemFilter, NewItem};
/// What the presentation layers show of the list.
pub use pcis_store::suspects::{Item, Member, StaffLine};
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::use_case::UseCase;
use crate::{App, DbExt, Listing, RequestMeta, SuspectSort, entry};

/// What one build of the list did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SuspectBuild {
    /// Groups of customers sharing a value, listed or not.
    pub groups: u64,
    /// Of those, listed for the first time.
    pub listed: u64,
    /// Open items past their due date, escalated to the department head now.
    pub escalated: u64,
}

/// Which items a list shows, as staff choose them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum SuspectTab {
    /// Open or escalated.
    #[default]
    Pending,
    Escalated,
    Closed,
    All,
}

impl SuspectTab {
    pub const ALL: [SuspectTab; 4] =
        [SuspectTab::Pending, SuspectTab::Escalated, SuspectTab::Closed, SuspectTab::All];

    pub fn code(self) -> &'static str {
        match self {
            SuspectTab::Pending => "pending",
            SuspectTab::Escalated => "escalated",
            SuspectTab::Closed => "closed",
            SuspectTab::All => "all",
        }
    }

    fn filter(self) -> ItemFilter {
        use SuspectStatus::*;
        let statuses: Option<&[SuspectStatus]> = match self {
            SuspectTab::Pending => Some(&[Open, Escalated]),
            SuspectTab::Escalated => Some(&[Escalated]),
            SuspectTab::Closed => Some(&[Genuine, Corrected]),
            SuspectTab::All => None,
        };
        ItemFilter { statuses: statuses.map(|s| s.iter().map(|v| v.code().to_owned()).collect()) }
    }
}

/// The report's default look-back.
pub const REPORT_DAYS: i64 = 90;

impl App {
    /// Builds the list from the current data (T+1, after the day's load): every group of
    /// different customers sharing a value that was not listed before becomes an item due
    /// in 3 working days; open items past their due date are escalated. Audited as the
    /// system.
    pub async fn build_suspect_list(&self) -> DomainResult<SuspectBuild> {
        let mut tx = self.db.begin().await.db()?;
        let listed_on = self.today_date();
        let today = listed_on.to_string();
        let calendar = self.work_calendar(&mut tx).await?;
        let due_on = calendar.add_working_days(listed_on, SUSPECT_FLOW.due_in_working_days).to_string();
        let rows = store::shared_values(&mut tx).await.db()?;
        let mut groups: Vec<NewItem> = Vec::new();
        for r in rows {
            match groups.last_mut() {
                Some(g) if g.kind == r.kind && g.bidx == r.bidx => {
                    g.members.push((r.customer_id, r.manager_id));
                }
                _ => groups.push(NewItem {
                    kind: r.kind,
                    bidx: r.bidx,
                    masked: r.masked,
                    members: vec![(r.customer_id, r.manager_id)],
                }),
            }
        }
        let now = self.clock.now();
        let listed = store::insert_items(&mut tx, &groups, &today, &due_on, now).await.db()?;
        let escalated = store::escalate_overdue(&mut tx, &today, now).await.db()?;
        let build = SuspectBuild { groups: groups.len() as u64, listed, escalated };
        let detail = json!({ "listed_on": today, "due_on": due_on, "build": build });
        self.record(&mut tx, with_detail(entry(system(), AuditAction::SuspectBuild, ""), detail)).await?;
        tx.commit().await.db()?;
        tracing::info!(groups = build.groups, listed, escalated, "suspicious list built");
        Ok(build)
    }

    pub(crate) async fn work_calendar(&self, tx: &mut pcis_store::Tx) -> DomainResult<WorkCalendar> {
        let days = store::calendar(tx).await.db()?;
        Ok(WorkCalendar::new(
            days.into_iter()
                .filter_map(|(d, working)| parse_date("day", &d).ok().flatten().map(|d| (d, working))),
        ))
    }

    /// The items routed to the actor (a customer of theirs is in it); audited.
    pub async fn suspects(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        tab: SuspectTab,
        listing: &Listing<SuspectSort>,
    ) -> DomainResult<Page<Item>> {
        let mut uc = self.read_case(actor, meta, AuditAction::SuspectList, "").await?;
        let within = uc.check(self.policy.customer_scope(actor, Action::SuspectView)).await?;
        let items = store::list(uc.tx(), &within, &tab.filter(), &self.today(), listing).await.db()?;
        uc.detail(json!({ "tab": tab.code(), "page": listing.page, "total": items.total }));
        uc.finish().await?;
        Ok(items)
    }

    /// Pending items of the actor's reach (open, escalated) for the home page; zero without
    /// the grant.
    pub async fn suspect_todo(&self, actor: &Actor) -> DomainResult<(i64, i64)> {
        // A to-do lists what its reader can act on: resolving, not only seeing.
        let Ok(within) = self.policy.customer_scope(actor, Action::SuspectResolve) else { return Ok((0, 0)) };
        let mut tx = self.db.begin_read().await.db()?;
        store::pending_counts(&mut tx, &within, &self.today()).await.db()
    }

    /// One item with its customers, for the investigation; audited.
    pub async fn suspect(&self, actor: &Actor, meta: &RequestMeta, id: i64) -> DomainResult<Item> {
        let mut uc = self.read_case(actor, meta, AuditAction::SuspectView, id).await?;
        let (within, _) = self.on_suspect(&mut uc, actor, Action::SuspectView, id).await?;
        let item =
            store::get(uc.tx(), id, &within, &self.today()).await.db()?.ok_or(DomainError::NotFound)?;
        uc.finish().await?;
        Ok(item)
    }

    /// Whether the item exists and the actor may do `action` on it (a refusal is recorded);
    /// the customers the actor reaches, to read the item with, and the item's members. An
    /// unknown item is "not found" only to someone who could see items at all.
    async fn on_suspect(
        &self,
        uc: &mut UseCase<'_>,
        actor: &Actor,
        action: Action,
        id: i64,
    ) -> DomainResult<(CustomerScope, Vec<CustomerFacts>)> {
        let within = uc.check(self.policy.customer_scope(actor, action)).await?;
        let members = store::member_ids(uc.tx(), id).await.db()?;
        if members.is_empty() {
            return Err(DomainError::NotFound);
        }
        let today = self.today();
        let mut facts: Vec<CustomerFacts> = Vec::with_capacity(members.len());
        for m in members {
            if let Some((_, f)) = customers_store::get(uc.tx(), CustomerId(m), &today).await.db()? {
                facts.push(f);
            }
        }
        uc.check(self.policy.authorize_suspect(actor, action, &facts)).await?;
        Ok((within, facts))
    }

    /// Records the investigator's outcome (genuine, corrected or escalated) with a note.
    pub async fn resolve_suspect(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: i64,
        outcome: &str,
        note: &str,
    ) -> DomainResult<SuspectStatus> {
        let mut uc = self.write_case(actor, meta, AuditAction::SuspectResolve, id).await?;
        let (within, members) = self.on_suspect(&mut uc, actor, Action::SuspectResolve, id).await?;
        // Both fields are checked, so the form shows every problem at once.
        let step = SUSPECT_FLOW
            .step(outcome)
            .filter(|s| s.taker != Taker::System)
            .ok_or_else(|| FieldError::new("outcome", "err.suspect_outcome"));
        let (step, note) = match (step, check_note(note)) {
            (Ok(s), Ok(n)) => (s, n),
            (s, n) => return Err(DomainError::Invalid(s.err().into_iter().chain(n.err()).collect())),
        };
        let item =
            store::get(uc.tx(), id, &within, &self.today()).await.db()?.ok_or(DomainError::NotFound)?;
        let from = item.status;
        let to = SUSPECT_FLOW.take(step.code, from, "outcome")?.to;
        let grant = uc.check(self.policy.grant_suspect_step(actor, step, &members, id)).await?;
        if !store::close(uc.tx(), &grant, &item, to, &note, self.clock.now()).await.db()? {
            return Err(DomainError::Conflict(SUSPECT_FLOW.finished));
        }
        uc.detail(json!({ "from": from.code(), "to": to.code() }));
        uc.finish().await?;
        Ok(to)
    }

    /// Staff whose customers showed two or more items in the last `days` days, within the
    /// actor's reach; audited.
    pub async fn suspect_report(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        days: i64,
    ) -> DomainResult<Vec<StaffLine>> {
        let mut uc = self.read_case(actor, meta, AuditAction::SuspectReport, "").await?;
        let within = uc.check(self.policy.customer_scope(actor, Action::SuspectReport)).await?;
        let days = days.clamp(1, 366);
        let since = (self.today_date() - time::Duration::days(days)).to_string();
        let lines = store::staff_report(uc.tx(), &within, &self.today(), &since, 2).await.db()?;
        uc.detail(json!({ "days": days, "staff": lines.len() }));
        uc.finish().await?;
        Ok(lines)
    }
}
