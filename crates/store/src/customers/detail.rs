//! One customer's detail: accounts and holdings, transactions, channels, tier history, tags,
//! consents and sealed values. Every read takes the policy's `CustomerGrant`, never a bare
//! id; the writes beside them are the loads' and the demo's.

use super::*;

/// One account or holding, its number masked.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Holding {
    pub id: i64,
    pub account_no: String,
    pub product_type: String,
    pub product_code: String,
    pub product_name: String,
    pub currency: String,
    pub balance: i64,
    pub opened_on: String,
    pub matures_on: Option<String>,
    pub status: String,
}

/// One customer's accounts and loans, masked.
///
/// A read of one customer's detail takes the policy's grant, never a bare id: only
/// `Policy::grant_customer` makes one, so a path that skips the policy does not compile.
///
/// ```compile_fail
/// # async fn skip_the_policy(tx: &mut pcis_store::Tx) {
/// let id = pcis_domain::customer::CustomerId(1);
/// pcis_store::customers::holdings(tx, id).await.unwrap();
/// # }
/// ```
///
/// ```compile_fail
/// # async fn forge_a_grant(tx: &mut pcis_store::Tx) {
/// use pcis_domain::policy::{AccessBasis, CustomerGrant};
/// let grant = CustomerGrant {
///     customer: pcis_domain::customer::CustomerId(1),
///     action: pcis_domain::role::Action::CustomerViewDetail,
///     basis: AccessBasis::Deployment,
/// };
/// pcis_store::customers::holdings(tx, &grant).await.unwrap();
/// # }
/// ```
///
/// ```no_run
/// # async fn the_way(tx: &mut pcis_store::Tx, policy: &pcis_domain::policy::Policy,
/// #     actor: &pcis_domain::policy::Actor, facts: &pcis_domain::policy::CustomerFacts) {
/// let grant = policy.grant_customer(actor, pcis_domain::role::Action::CustomerViewDetail, facts).unwrap();
/// pcis_store::customers::holdings(tx, &grant).await.unwrap();
/// # }
/// ```
pub async fn holdings(tx: &mut Tx, grant: &CustomerGrant) -> DbResult<Vec<Holding>> {
    let id = grant.customer();
    on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, account_masked AS account_no, product_type, product_code, product_name, currency,
                    balance, opened_on, matures_on, status
             FROM account WHERE customer_id = $1 ORDER BY product_type, opened_on, id",
        )
        .bind(id.0)
        .fetch_all(c)
        .await
    })
}

/// The input of a new account (the sealed number comes from the service).
pub struct NewAccount<'a> {
    pub number: &'a Stored,
    pub product_type: &'a str,
    pub product_code: &'a str,
    pub product_name: &'a str,
    pub balance: i64,
    pub opened_on: &'a str,
    pub matures_on: Option<&'a str>,
    pub institution: InstitutionId,
}

pub async fn insert_account(tx: &mut Tx, customer: CustomerId, a: &NewAccount<'_>) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO account (customer_id, account_sealed, account_bidx, account_masked, product_type,
                 product_code, product_name, currency, balance, opened_on, matures_on, status, institution_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'CNY', $8, $9, $10, 'active', $11) RETURNING id",
        )
        .bind(customer.0)
        .bind(&a.number.sealed)
        .bind(a.number.bidx.as_deref().unwrap_or_default())
        .bind(&a.number.masked)
        .bind(a.product_type)
        .bind(a.product_code)
        .bind(a.product_name)
        .bind(a.balance)
        .bind(a.opened_on)
        .bind(a.matures_on)
        .bind(a.institution.0)
        .fetch_one(c)
        .await
    })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Transaction {
    pub id: i64,
    pub account_no: String,
    pub at_us: i64,
    pub amount: i64,
    pub currency: String,
    pub channel: String,
    pub summary: String,
}

pub async fn transactions(
    tx: &mut Tx,
    grant: &CustomerGrant,
    page: i64,
    per_page: i64,
) -> DbResult<Page<Transaction>> {
    let id = grant.customer();
    let total: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM txn WHERE customer_id = $1").bind(id.0).fetch_one(c).await
    })?;
    let offset = (page.max(1) - 1) * per_page;
    let items: Vec<Transaction> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT t.id, a.account_masked AS account_no, t.at_us, t.amount, t.currency, t.channel, t.summary
             FROM txn t JOIN account a ON a.id = t.account_id
             WHERE t.customer_id = $1 ORDER BY t.at_us DESC, t.id DESC LIMIT $2 OFFSET $3",
        )
        .bind(id.0)
        .bind(per_page)
        .bind(offset)
        .fetch_all(c)
        .await
    })?;
    Ok(Page { items, total, page: page.max(1), per_page })
}

pub async fn insert_transaction(
    tx: &mut Tx,
    customer: CustomerId,
    account: i64,
    at: OffsetDateTime,
    amount: i64,
    channel: &str,
    summary: &str,
) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query(
            "INSERT INTO txn (account_id, customer_id, at_us, amount, currency, channel, summary)
         VALUES ($1, $2, $3, $4, 'CNY', $5, $6)",
        )
        .bind(account)
        .bind(customer.0)
        .bind(micros(at))
        .bind(amount)
        .bind(channel)
        .bind(summary)
    )?;
    Ok(())
}

/// Channels the customer used, with how often and when last (from the transactions).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ChannelUse {
    pub channel: String,
    pub count: i64,
    pub last_us: i64,
}

pub async fn channels(tx: &mut Tx, grant: &CustomerGrant) -> DbResult<Vec<ChannelUse>> {
    let id = grant.customer();
    on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT channel, COUNT(*) AS count, MAX(at_us) AS last_us FROM txn WHERE customer_id = $1
             GROUP BY channel ORDER BY COUNT(*) DESC, channel",
        )
        .bind(id.0)
        .fetch_all(c)
        .await
    })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TierChange {
    pub from_tier: Option<String>,
    pub to_tier: String,
    pub aum: i64,
    pub reason: String,
    pub at_us: i64,
}

pub async fn tier_history(tx: &mut Tx, grant: &CustomerGrant) -> DbResult<Vec<TierChange>> {
    let id = grant.customer();
    on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT from_tier, to_tier, aum, reason, at_us FROM tier_history WHERE customer_id = $1
             ORDER BY at_us DESC, id DESC",
        )
        .bind(id.0)
        .fetch_all(c)
        .await
    })
}

pub async fn record_tier(
    tx: &mut Tx,
    id: CustomerId,
    from: Option<Tier>,
    to: Tier,
    aum: i64,
    reason: &str,
    at: OffsetDateTime,
) -> DbResult<()> {
    exec!(tx, sqlx::query(
        "INSERT INTO tier_history (customer_id, from_tier, to_tier, aum, reason, at_us) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.0)
    .bind(from.map(Tier::code))
    .bind(to.code())
    .bind(aum)
    .bind(reason)
    .bind(micros(at)))?;
    Ok(())
}

pub async fn tags(tx: &mut Tx, grant: &CustomerGrant) -> DbResult<Vec<String>> {
    let id = grant.customer();
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT tag FROM customer_tag WHERE customer_id = $1 ORDER BY tag").bind(id.0).fetch_all(c).await
    })
}

pub async fn add_tag(tx: &mut Tx, id: CustomerId, tag: &str) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("INSERT INTO customer_tag (customer_id, tag) VALUES ($1, $2)").bind(id.0).bind(tag)
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Consent {
    pub purpose: String,
    pub scope: String,
    pub granted_on: String,
    pub channel: String,
    pub withdrawn_on: Option<String>,
}

pub async fn consents(tx: &mut Tx, grant: &CustomerGrant) -> DbResult<Vec<Consent>> {
    let id = grant.customer();
    on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT purpose, scope, granted_on, channel, withdrawn_on FROM consent WHERE customer_id = $1 ORDER BY granted_on",
        )
        .bind(id.0)
        .fetch_all(c)
        .await
    })
}

pub async fn add_consent(
    tx: &mut Tx,
    id: CustomerId,
    purpose: &str,
    granted_on: &str,
    channel: &str,
) -> DbResult<()> {
    exec!(tx, sqlx::query(
        "INSERT INTO consent (customer_id, purpose, scope, granted_on, channel) VALUES ($1, $2, 'all_products', $3, $4)",
    )
    .bind(id.0)
    .bind(purpose)
    .bind(granted_on)
    .bind(channel))?;
    Ok(())
}

/// The sealed value of one field of one customer (or of one of its accounts), for a reveal.
pub async fn sealed_value(
    tx: &mut Tx,
    grant: &CustomerGrant,
    field: SensitiveField,
    account: Option<i64>,
) -> DbResult<Option<Vec<u8>>> {
    let id = grant.customer();
    if field == SensitiveField::Name {
        // The name is kept in clear for prefix search; it is returned as is.
        let name: Option<String> = on_tx!(tx, c => {
            sqlx::query_scalar("SELECT name FROM customer WHERE id = $1").bind(id.0).fetch_optional(c).await
        })?;
        return Ok(name.map(String::into_bytes));
    }
    let v: Option<Option<Vec<u8>>> = match (field, account) {
        (SensitiveField::AccountNo, Some(account)) => on_tx!(tx, c => {
            sqlx::query_scalar("SELECT account_sealed FROM account WHERE customer_id = $1 AND id = $2")
                .bind(id.0)
                .bind(account)
                .fetch_optional(c)
                .await
        })?,
        (SensitiveField::AccountNo, None) => None,
        (f, _) => {
            let sql = format!("SELECT {} FROM customer WHERE id = $1", stored_columns(f.code()).0);
            on_tx!(tx, c => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(id.0).fetch_optional(c).await
            })?
        }
    };
    Ok(v.flatten())
}
