//! Suspicious customer information (可疑客户信息, R-ETL-4): finding values shared by different
//! customers (blind indexes only, never plaintext), the items and their members, the
//! investigators' outcomes, and the staff report.

use std::collections::HashMap;

use pcis_domain::identity::mask_name;
use pcis_domain::policy::{CustomerScope, StepGrant};
use pcis_domain::suspect::SuspectStatus;
use serde::Serialize;
use time::OffsetDateTime;

use crate::bulk::Rows;
use crate::customers::scope;
use crate::db::{Arg, SqlBuilder};
use crate::listing::Listing;
use crate::workflow::{self, At};
use crate::{DbResult, Page, Tx, bind_args, micros, on_tx};

/// One customer holding a value that another customer holds too.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SharedValue {
    pub kind: String,
    pub bidx: String,
    pub masked: String,
    pub customer_id: i64,
    pub manager_id: Option<i64>,
}

/// Every (value, customer) pair of the values shared by two or more active customers,
/// ordered by value. One pass over the blind-index columns: mobiles and fixed lines share
/// the contact domain, settlement accounts the account domain (and so match another
/// customer's account held at the bank).
pub async fn shared_values(tx: &mut Tx) -> DbResult<Vec<SharedValue>> {
    const SQL: &str = "WITH v AS (
            SELECT 'contact' AS kind, mobile_bidx AS bidx, mobile_masked AS masked, id AS customer_id
              FROM customer WHERE status = 'active' AND mobile_bidx IS NOT NULL
            UNION ALL
            SELECT 'contact', phone_bidx, phone_masked, id
              FROM customer WHERE status = 'active' AND phone_bidx IS NOT NULL
            UNION ALL
            SELECT 'account', settlement_bidx, settlement_masked, id
              FROM customer WHERE status = 'active' AND settlement_bidx IS NOT NULL
            UNION ALL
            SELECT 'account', a.account_bidx, a.account_masked, a.customer_id
              FROM account a JOIN customer s ON s.settlement_bidx = a.account_bidx
              JOIN customer o ON o.id = a.customer_id
             WHERE s.status = 'active' AND o.status = 'active' AND a.status <> 'closed'
        ), shared AS (
            SELECT kind, bidx FROM v GROUP BY kind, bidx HAVING MIN(customer_id) <> MAX(customer_id)
        )
        SELECT v.kind, v.bidx, MIN(v.masked) AS masked, v.customer_id,
               (SELECT a.user_id FROM customer_assignment a
                 WHERE a.customer_id = v.customer_id AND a.kind = 'manager') AS manager_id
          FROM v JOIN shared s ON s.kind = v.kind AND s.bidx = v.bidx
         GROUP BY v.kind, v.bidx, v.customer_id
         ORDER BY v.kind, v.bidx, v.customer_id";
    on_tx!(tx, c => sqlx::query_as(SQL).fetch_all(c).await)
}

/// A group of customers sharing one value, about to be listed.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub kind: String,
    pub bidx: String,
    pub masked: String,
    /// (customer, manager) pairs, by customer id.
    pub members: Vec<(i64, Option<i64>)>,
}

impl NewItem {
    /// The sorted customer ids: the same value under a changed group is a new item.
    pub fn members_key(&self) -> String {
        self.members.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>().join(",")
    }
}

/// Lists the groups not listed before (same value, same customers) in one statement per
/// few hundred items; returns how many are new.
pub async fn insert_items(
    tx: &mut Tx,
    items: &[NewItem],
    listed_on: &str,
    due_on: &str,
    now: OffsetDateTime,
) -> DbResult<u64> {
    let mut rows = Rows::new(
        "suspect_item",
        &["kind", "value_bidx", "value_masked", "members_key", "listed_on", "due_on", "status", "created_us"],
    );
    let mut by_key = HashMap::new();
    for item in items {
        let key = item.members_key();
        rows.push([
            Arg::Text(item.kind.clone()),
            Arg::Text(item.bidx.clone()),
            Arg::Text(item.masked.clone()),
            Arg::Text(key.clone()),
            Arg::Text(listed_on.to_owned()),
            Arg::Text(due_on.to_owned()),
            Arg::Text("open".into()),
            Arg::I64(micros(now)),
        ]);
        by_key.insert((item.kind.as_str(), item.bidx.as_str(), key), item);
    }
    let inserted: Vec<(i64, String, String, String)> = rows
        .fetch(tx, "ON CONFLICT (kind, value_bidx, members_key) DO NOTHING RETURNING id, kind, value_bidx, members_key")
        .await?;
    let mut members = Rows::new("suspect_member", &["item_id", "customer_id", "manager_id"]);
    for (id, kind, bidx, key) in &inserted {
        let item = by_key[&(kind.as_str(), bidx.as_str(), key.clone())];
        for (customer, manager) in &item.members {
            members.push([Arg::I64(*id), Arg::I64(*customer), Arg::OptI64(*manager)]);
        }
    }
    members.execute(tx, "").await?;
    Ok(inserted.len() as u64)
}

/// Open items past their due date go to the department head; returns how many.
pub async fn escalate_overdue(tx: &mut Tx, today: &str, now: OffsetDateTime) -> DbResult<u64> {
    let (open, escalated) = (SuspectStatus::Open.code(), SuspectStatus::Escalated.code());
    workflow::escalate_overdue(tx, "suspect_item", &[open], Some(escalated), today, now).await
}

/// The days that differ from the Monday-to-Friday week: (day, working).
pub async fn calendar(tx: &mut Tx) -> DbResult<Vec<(String, bool)>> {
    on_tx!(tx, c => sqlx::query_as("SELECT day, working FROM calendar_day").fetch_all(c).await)
}

/// One item as lists and the investigation page show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub value_masked: String,
    pub listed_on: String,
    pub due_on: String,
    #[sqlx(try_from = "String")]
    pub status: SuspectStatus,
    #[serde(skip)]
    pub version: i64,
    pub overdue: bool,
    pub note: String,
    pub closed_by_name: Option<String>,
    pub closed_us: Option<i64>,
    pub escalated_us: Option<i64>,
    #[sqlx(skip)]
    pub members: Vec<Member>,
}

/// A customer of an item, masked; one beyond the viewer's reach (`in_reach` false) shows
/// only its institution.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub customer_id: i64,
    pub customer_no: String,
    pub name: String,
    pub owner_name: String,
    pub manager: Option<String>,
    pub in_reach: bool,
}

const ITEM: &str =
    "SELECT s.id, s.kind, s.value_masked, s.listed_on, s.due_on, s.status, s.version, s.overdue, s.note,
        u.display_name AS closed_by_name, s.closed_us, s.escalated_us
    FROM suspect_item s LEFT JOIN app_user u ON u.id = s.closed_by";

/// Which items a list shows.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// `None`: every status.
    pub statuses: Option<Vec<String>>,
}

/// `EXISTS` one member of item `s` within the scope.
fn member_within(q: &mut SqlBuilder, within: &CustomerScope, today: &str) {
    q.push(
        " AND EXISTS (SELECT 1 FROM suspect_member m JOIN customer c ON c.id = m.customer_id WHERE m.item_id = s.id",
    );
    scope(q, within, today);
    q.push(")");
}

crate::sort_keys! {
    /// Pending items by due date first, then the closed ones.
    pub enum SuspectSort {
        Due = ("due", "CASE WHEN s.status IN ('open','escalated') THEN 0 ELSE 1 END, s.due_on, s.id"),
    }
}

impl SuspectSort {
    pub const USUAL: Listing<SuspectSort> =
        Listing { page: 1, per_page: 50, sort: SuspectSort::Due, desc: false };
}

/// The items with a member in the scope.
pub async fn list(
    tx: &mut Tx,
    within: &CustomerScope,
    filter: &ItemFilter,
    today: &str,
    listing: &Listing<SuspectSort>,
) -> DbResult<Page<Item>> {
    let mut wh = SqlBuilder::new(" WHERE 1 = 1");
    if let Some(statuses) = &filter.statuses {
        wh.push(" AND s.status").in_list(statuses.iter().map(|s| Arg::Text(s.clone())));
    }
    member_within(&mut wh, within, today);
    let count_sql = format!("SELECT COUNT(*) FROM suspect_item s{}", wh.sql);
    let total: i64 = on_tx!(tx, c => {
        bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &wh.args).fetch_one(c).await
    })?;
    let sql = format!("{ITEM}{}{}", wh.sql, listing.sql_tail());
    let mut items: Vec<Item> = on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &wh.args).fetch_all(c).await
    })?;
    attach_members(tx, &mut items, within, today).await?;
    Ok(listing.page_of(items, total))
}

/// Pending items with a member in the scope: (open, escalated).
pub async fn pending_counts(tx: &mut Tx, within: &CustomerScope, today: &str) -> DbResult<(i64, i64)> {
    let mut q = SqlBuilder::new(
        "SELECT COALESCE(SUM(CASE WHEN s.status = 'open' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN s.status = 'escalated' THEN 1 ELSE 0 END), 0)
           FROM suspect_item s WHERE s.status IN ('open', 'escalated')",
    );
    member_within(&mut q, within, today);
    on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_one(c).await
    })
}

/// One item with all its members (`in_reach` per the scope), or `None`.
pub async fn get(tx: &mut Tx, id: i64, within: &CustomerScope, today: &str) -> DbResult<Option<Item>> {
    let sql = format!("{ITEM} WHERE s.id = $1");
    let item: Option<Item> =
        on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(c).await)?;
    let Some(item) = item else { return Ok(None) };
    let mut items = vec![item];
    attach_members(tx, &mut items, within, today).await?;
    Ok(items.pop())
}

/// The customer ids of an item.
pub async fn member_ids(tx: &mut Tx, id: i64) -> DbResult<Vec<i64>> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT customer_id FROM suspect_member WHERE item_id = $1 ORDER BY customer_id")
            .bind(id)
            .fetch_all(c)
            .await
    })
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    item_id: i64,
    customer_id: i64,
    customer_no: String,
    name: String,
    owner_name: String,
    manager: Option<String>,
    in_reach: bool,
}

async fn attach_members(
    tx: &mut Tx,
    items: &mut [Item],
    within: &CustomerScope,
    today: &str,
) -> DbResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut reach = SqlBuilder::new("SELECT c.id FROM customer c WHERE 1 = 1");
    scope(&mut reach, within, today);
    let mut q = SqlBuilder::new(&format!(
        "SELECT m.item_id, c.id AS customer_id, c.customer_no, c.name, i.name AS owner_name,
                u.display_name AS manager, c.id IN ({}) AS in_reach
           FROM suspect_member m JOIN customer c ON c.id = m.customer_id
           JOIN institution i ON i.id = c.owner_institution_id
           LEFT JOIN app_user u ON u.id = m.manager_id
          WHERE m.item_id",
        reach.sql
    ));
    q.args = reach.args;
    q.in_list(items.iter().map(|i| Arg::I64(i.id))).push(" ORDER BY m.item_id, c.id");
    let rows: Vec<MemberRow> = on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await
    })?;
    for r in rows {
        if let Some(item) = items.iter_mut().find(|i| i.id == r.item_id) {
            // A customer beyond the viewer's reach shows only where it is served.
            let reach = r.in_reach;
            item.members.push(Member {
                customer_id: if reach { r.customer_id } else { 0 },
                customer_no: if reach { r.customer_no } else { String::new() },
                name: if reach { mask_name(&r.name) } else { String::new() },
                owner_name: r.owner_name,
                manager: if reach { r.manager } else { None },
                in_reach: reach,
            });
        }
    }
    // The viewer's own customers first.
    for item in items.iter_mut() {
        item.members.sort_by_key(|m| !m.in_reach);
    }
    Ok(())
}

/// Records an investigator's outcome if nobody has moved the item since it was read (of
/// two concurrent decisions exactly one wins); returns whether it was.
pub async fn close(
    tx: &mut Tx,
    grant: &StepGrant,
    item: &Item,
    to: SuspectStatus,
    note: &str,
    now: OffsetDateTime,
) -> DbResult<bool> {
    let at = At { status: item.status.code(), version: item.version };
    let mut columns = vec![
        ("note", Arg::Text(note.to_owned())),
        ("closed_by", Arg::I64(grant.by().0)),
        ("closed_us", Arg::I64(micros(now))),
    ];
    if to == SuspectStatus::Escalated {
        columns.push(("escalated_us", Arg::I64(micros(now))));
    }
    workflow::advance(tx, "suspect_item", grant, at, to.code(), &columns).await
}

/// A member of staff whose customers showed suspicious items.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StaffLine {
    pub user_id: i64,
    pub display_name: String,
    pub staff_no: String,
    pub institution_name: String,
    pub items: i64,
    pub pending: i64,
    pub corrected: i64,
    pub overdue: i64,
}

/// Staff (the customers' managers when listed) with at least `min_items` items listed on or
/// after `since` among the customers of the scope, most items first.
pub async fn staff_report(
    tx: &mut Tx,
    within: &CustomerScope,
    today: &str,
    since: &str,
    min_items: i64,
) -> DbResult<Vec<StaffLine>> {
    let mut q = SqlBuilder::new(
        "SELECT u.id AS user_id, u.display_name, u.staff_no, i.name AS institution_name,
                COUNT(DISTINCT s.id) AS items,
                COUNT(DISTINCT CASE WHEN s.status IN ('open', 'escalated') THEN s.id END) AS pending,
                COUNT(DISTINCT CASE WHEN s.status = 'corrected' THEN s.id END) AS corrected,
                COUNT(DISTINCT CASE WHEN s.overdue THEN s.id END) AS overdue
           FROM suspect_member m JOIN suspect_item s ON s.id = m.item_id
           JOIN customer c ON c.id = m.customer_id
           JOIN app_user u ON u.id = m.manager_id
           JOIN institution i ON i.id = u.institution_id
          WHERE s.listed_on >= ",
    );
    q.bind(Arg::Text(since.to_owned()));
    scope(&mut q, within, today);
    q.push(" GROUP BY u.id, u.display_name, u.staff_no, i.name HAVING COUNT(DISTINCT s.id) >= ")
        .bind(Arg::I64(min_items))
        .push(" ORDER BY items DESC, u.staff_no");
    on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await
    })
}
