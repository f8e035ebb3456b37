//! Finding customers (R-CUS-6): the filters, the summary a list shows, and the customer scope
//! rendered as SQL alternatives, each an indexed predicate.

use super::*;
use crate::listing::Listing;

/// The filters of a customer search (R-CUS-6). Exact values arrive as blind indexes.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    pub customer_no: Option<String>,
    pub id_bidx: Option<String>,
    pub mobile_bidx: Option<String>,
    pub name_prefix: Option<String>,
    pub tier: Option<Tier>,
    /// Customers owned within this institution's subtree.
    pub institution: Option<InstPath>,
    pub manager: Option<UserId>,
    pub tag: Option<String>,
}

/// A customer summary (概要, R-CUS-5): all that a summary-level role sees.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub customer_no: String,
    /// Masked (张**).
    pub name: String,
    pub tier: Tier,
    /// An i18n key (`band.*`), never the amount.
    pub aum_band: &'static str,
    pub owner_institution_id: i64,
    pub owner_name: String,
    pub manager: Option<String>,
    pub vip_member: bool,
    pub complete: bool,
}

const SUMMARY: &str = concat!(
    "SELECT c.id, c.customer_no, c.name, c.tier, ",
    aum_of_c!(),
    " AS aum, c.owner_institution_id,
        i.name AS owner_name, c.vip_member, c.complete,
        (SELECT u.display_name FROM customer_assignment a JOIN app_user u ON u.id = a.user_id
          WHERE a.customer_id = c.id AND a.kind = 'manager') AS manager
    FROM customer c JOIN institution i ON i.id = c.owner_institution_id"
);

/// Counting stops here: a broad scope shows "10,000+" rather than scanning a province.
pub const COUNT_CAP: i64 = 10_000;

/// Opens a parenthesised rule that admits customers owned in `root`'s subtree.
fn owned_within<'q>(q: &'q mut SqlBuilder, root: &InstPath) -> &'q mut SqlBuilder {
    q.push("(1 = 1").scope("c.owner_path", &pcis_domain::policy::ScopeFilter::Subtree(root.clone()))
}

/// Appends the customer scope (on alias `c`): the rules are alternatives.
pub(crate) fn scope(q: &mut SqlBuilder, scope: &CustomerScope, today: &str) {
    let CustomerScope::Any(rules) = scope else { return };
    q.push(" AND (");
    for (n, rule) in rules.iter().enumerate() {
        if n > 0 {
            q.push(" OR ");
        }
        match rule {
            CustomerRule::Subtree(root) => {
                owned_within(q, root).push(")");
            }
            CustomerRule::AssignedTo(user) => {
                q.push("c.id IN (SELECT a.customer_id FROM customer_assignment a WHERE a.user_id = ")
                    .bind(Arg::I64(user.0))
                    .push(" AND (a.until IS NULL OR a.until >= ")
                    .bind(Arg::Text(today.to_owned()))
                    .push("))");
            }
            CustomerRule::VipStandard(root) => {
                owned_within(q, root).push(" AND (c.vip_member OR c.vip_standard_met))");
            }
            CustomerRule::VipProspect(root) => {
                owned_within(q, root).push(" AND NOT c.vip_member AND c.vip_standard_met)");
            }
        }
    }
    q.push(")");
}

/// The smallest string greater than every string that starts with `prefix` (byte order).
fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

crate::sort_keys! {
    /// The search lists customers in the order of its index (institution, tier, name): the
    /// only order a page of a million customers can be read in without sorting them all.
    pub enum CustomerSort {
        List = ("list", "c.owner_path, c.tier, c.name, c.id"),
    }
}

impl CustomerSort {
    pub const USUAL: Listing<CustomerSort> =
        Listing { page: 1, per_page: 20, sort: CustomerSort::List, desc: false };
}

pub async fn search(
    tx: &mut Tx,
    within: &CustomerScope,
    query: &CustomerQuery,
    today: &str,
    listing: &Listing<CustomerSort>,
) -> DbResult<Page<CustomerSummary>> {
    let (page, per_page) = (listing.page, listing.per_page);
    let mut wh = SqlBuilder::new(" WHERE c.status = 'active'");
    scope(&mut wh, within, today);
    if let Some(no) = &query.customer_no {
        wh.push(" AND c.customer_no = ").bind(Arg::Text(no.clone()));
    }
    if let Some(b) = &query.id_bidx {
        wh.push(" AND c.id_number_bidx = ").bind(Arg::Text(b.clone()));
    }
    if let Some(b) = &query.mobile_bidx {
        wh.push(" AND c.mobile_bidx = ").bind(Arg::Text(b.clone()));
    }
    if let Some(p) = &query.name_prefix {
        wh.push(" AND c.name >= ").bind(Arg::Text(p.clone()));
        wh.push(" AND c.name < ").bind(Arg::Text(prefix_upper_bound(p)));
    }
    if let Some(t) = query.tier {
        wh.push(" AND c.tier = ").bind(Arg::Text(t.code().into()));
    }
    if let Some(root) = &query.institution {
        wh.scope("c.owner_path", &pcis_domain::policy::ScopeFilter::Subtree(root.clone()));
    }
    if let Some(m) = query.manager {
        wh.push(" AND c.id IN (SELECT m.customer_id FROM customer_assignment m WHERE m.kind = 'manager' AND m.user_id = ")
            .bind(Arg::I64(m.0))
            .push(")");
    }
    if let Some(tag) = &query.tag {
        wh.push(" AND c.id IN (SELECT t.customer_id FROM customer_tag t WHERE t.tag = ")
            .bind(Arg::Text(tag.clone()))
            .push(")");
    }
    // Both statements are planned for their values each time rather than kept prepared: the
    // best index depends on the name prefix and the breadth of the scope, which PostgreSQL's
    // generic plan of a kept statement cannot see.
    let count_sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM customer c{} LIMIT {COUNT_CAP}) n", wh.sql);
    let total: i64 = on_tx!(tx, c => {
        bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql)).persistent(false), &wh.args).fetch_one(c).await
    })?;
    let offset = (page.max(1) - 1) * per_page;
    // The page's ids first, from an index alone, then only those rows are read and described.
    // They are read in list order (`customer_search`), so a page stops after its rows; but on
    // PostgreSQL fewer matches than the count's cap are gathered whole, then sorted: its planner
    // counts on meeting a page of them early in list order, and with a VIP scope (whose rules
    // it cannot estimate) walked the whole index for a page of none (1M customers: 41 ms, not
    // 1.6 ms). SQLite keeps list order well (gathering slowed a city's search, p50 3.2 → 4.2 ms).
    const ORDER: &str = "ORDER BY c.owner_path, c.tier, c.name, c.id";
    let ids = if matches!(tx, Tx::Pg(_)) && total < COUNT_CAP {
        format!(
            "WITH m AS MATERIALIZED (SELECT c.id, c.owner_path, c.tier, c.name FROM customer c{})
             SELECT m.id FROM m ORDER BY m.owner_path, m.tier, m.name, m.id",
            wh.sql
        )
    } else {
        format!("SELECT c.id FROM customer c{} {ORDER}", wh.sql)
    };
    let sql = format!("{SUMMARY} WHERE c.id IN ({ids} LIMIT {per_page} OFFSET {offset}) {ORDER}");
    let rows: Vec<SummaryRow> = on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(false), &wh.args).fetch_all(c).await
    })?;
    Ok(listing.page_of(rows.into_iter().map(SummaryRow::into_summary).collect(), total))
}
