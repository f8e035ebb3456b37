//! Customers in storage. Sealed values go in and out as bytes (the service seals and opens
//! them); what this module returns for display carries masked forms only, so a full value
//! leaves storage only through [`sealed_value`] on an authorised reveal. Split by meaning:
//! writing a customer (here), finding customers (`search`), and one customer's detail, each
//! read of which takes the policy's grant (`detail`).

use pcis_domain::customer::{AssignmentKind, CustomerField, CustomerId, SensitiveField, Tier, aum_band};
use pcis_domain::identity::mask_name;
use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::policy::{CustomerFacts, CustomerGrant, CustomerRule, CustomerScope};
use pcis_domain::user::UserId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::{Arg, SqlBuilder};
use crate::{DbResult, Page, Tx, bind_args, exec, micros, on_tx};

/// The AUM of customer `c`, kept in a narrow table of its own (migration 0014: the nightly
/// recomputation rewrites it without touching the wide customer row); no row, no assets.
macro_rules! aum_of_c {
    () => {
        "COALESCE((SELECT h.aum FROM customer_aum h WHERE h.customer_id = c.id), 0)"
    };
}

mod detail;
mod search;

pub use detail::*;
pub use search::*;

/// A C2 value as stored: sealed, its blind index when the field is searched exactly, and the
/// masked form shown by default.
#[derive(Clone)]
pub struct Stored {
    pub sealed: Vec<u8>,
    pub bidx: Option<String>,
    pub masked: String,
}

/// Columns of a new customer or a change: `None` leaves a column as it is.
#[derive(Clone, Default)]
pub struct CustomerColumns {
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub nationality: Option<String>,
    pub occupation: Option<String>,
    pub education: Option<String>,
    pub marital_status: Option<String>,
    pub id_type: Option<String>,
    pub id_number: Option<Stored>,
    pub id_issuer: Option<String>,
    pub id_expiry: Option<String>,
    pub mobile: Option<Stored>,
    pub phone: Option<Stored>,
    pub email: Option<Stored>,
    pub address: Option<Stored>,
    /// The settlement (linked) account from the core system's extract.
    pub settlement: Option<Stored>,
}

impl CustomerColumns {
    /// The columns a change writes: `None` leaves a column as it is.
    pub(crate) fn assignments(&self) -> Vec<(&'static str, Arg)> {
        self.values(false)
    }

    /// Every column, `None` as NULL (each row of a multi-row insert names the same columns).
    pub(crate) fn every_value(&self) -> Vec<(&'static str, Arg)> {
        self.values(true)
    }

    fn values(&self, nulls: bool) -> Vec<(&'static str, Arg)> {
        use Column::{Sealed, Text};
        let columns = [
            Text("name", &self.name),
            Text("gender", &self.gender),
            Text("birth_date", &self.birth_date),
            Text("nationality", &self.nationality),
            Text("occupation", &self.occupation),
            Text("education", &self.education),
            Text("marital_status", &self.marital_status),
            Text("id_type", &self.id_type),
            Sealed("id_number", &self.id_number),
            Text("id_issuer", &self.id_issuer),
            Text("id_expiry", &self.id_expiry),
            Sealed("mobile", &self.mobile),
            Sealed("phone", &self.phone),
            Sealed("email", &self.email),
            Sealed("address", &self.address),
            Sealed("settlement", &self.settlement),
        ];
        let mut out = Vec::new();
        for column in columns {
            match column {
                Text(col, v) if nulls || v.is_some() => out.push((col, Arg::OptText(v.clone()))),
                Sealed(field, v) if nulls || v.is_some() => {
                    let (sealed, bidx, masked) = stored_columns(field);
                    out.push((sealed, Arg::Bytes(v.as_ref().map(|v| v.sealed.clone()))));
                    if let Some(bidx) = bidx {
                        out.push((bidx, Arg::OptText(v.as_ref().and_then(|v| v.bidx.clone()))));
                    }
                    out.push((masked, Arg::OptText(v.as_ref().map(|v| v.masked.clone()))));
                }
                _ => {}
            }
        }
        out
    }
}

/// One field of [`CustomerColumns`]: a plain text column, or a sealed field stored as the
/// columns of [`stored_columns`].
enum Column<'a> {
    Text(&'static str, &'a Option<String>),
    Sealed(&'static str, &'a Option<Stored>),
}

/// The stored columns of a sealed customer field: (ciphertext, blind index if it has one,
/// masked form).
fn stored_columns(field: &str) -> (&'static str, Option<&'static str>, &'static str) {
    match field {
        "id_number" => ("id_number_sealed", Some("id_number_bidx"), "id_number_masked"),
        "mobile" => ("mobile_sealed", Some("mobile_bidx"), "mobile_masked"),
        "phone" => ("phone_sealed", Some("phone_bidx"), "phone_masked"),
        "email" => ("email_sealed", None, "email_masked"),
        "address" => ("address_sealed", None, "address_masked"),
        "settlement" => ("settlement_sealed", Some("settlement_bidx"), "settlement_masked"),
        other => unreachable!("{other} is not a sealed customer field"),
    }
}

/// Where a new customer belongs and what it holds.
pub struct Placement {
    pub customer_no: String,
    pub owner: InstitutionId,
    pub owner_path: InstPath,
    pub aum: i64,
    pub tier: Tier,
    /// The AUM reaches the VIP (通达) standard (`TierThresholds::meets_vip_standard`).
    pub vip_standard_met: bool,
    pub vip_member: bool,
    pub complete: bool,
}

pub async fn insert(
    tx: &mut Tx,
    place: &Placement,
    cols: &CustomerColumns,
    now: OffsetDateTime,
) -> DbResult<CustomerId> {
    let mut values = cols.assignments();
    values.extend([
        ("customer_no", Arg::Text(place.customer_no.clone())),
        ("status", Arg::Text("active".into())),
        ("owner_institution_id", Arg::I64(place.owner.0)),
        ("owner_path", Arg::Text(place.owner_path.as_str().into())),
        ("tier", Arg::Text(place.tier.code().into())),
        ("vip_standard_met", Arg::Bool(place.vip_standard_met)),
        ("vip_member", Arg::Bool(place.vip_member)),
        ("complete", Arg::Bool(place.complete)),
        ("created_us", Arg::I64(micros(now))),
        ("updated_us", Arg::I64(micros(now))),
    ]);
    let id = insert_customer_row(tx, values).await?;
    if place.aum != 0 {
        exec!(
            tx,
            sqlx::query("INSERT INTO customer_aum (customer_id, aum) VALUES ($1, $2)")
                .bind(id)
                .bind(place.aum)
        )?;
    }
    Ok(CustomerId(id))
}

/// Inserts a customer row from (column, value) pairs; returns its id.
pub(crate) async fn insert_customer_row(tx: &mut Tx, values: Vec<(&'static str, Arg)>) -> DbResult<i64> {
    let names: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    let sql =
        format!("INSERT INTO customer ({}) VALUES ({}) RETURNING id", names.join(", "), marks.join(", "));
    let args: Vec<Arg> = values.into_iter().map(|(_, a)| a).collect();
    on_tx!(tx, c => bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())), &args).fetch_one(c).await)
}

/// Applies a change if the customer is still at `version` (exactly one of two concurrent
/// writers wins). Returns whether it applied.
pub async fn update(
    tx: &mut Tx,
    id: CustomerId,
    version: i64,
    cols: &CustomerColumns,
    complete: bool,
    now: OffsetDateTime,
) -> DbResult<bool> {
    let mut q = SqlBuilder::new("UPDATE customer SET version = version + 1, updated_us = ");
    q.bind(Arg::I64(micros(now))).push(", complete = ").bind(Arg::Bool(complete));
    for (col, arg) in cols.assignments() {
        q.push(&format!(", {col} = ")).bind(arg);
    }
    q.push(" WHERE id = ").bind(Arg::I64(id.0)).push(" AND version = ").bind(Arg::I64(version));
    let n = exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))?;
    Ok(n == 1)
}

/// Marks a customer deleted: kept for the legal retention period, invisible to business roles.
pub async fn mark_deleted(tx: &mut Tx, id: CustomerId, version: i64, now: OffsetDateTime) -> DbResult<bool> {
    let n = exec!(
        tx,
        sqlx::query(
            "UPDATE customer SET status = 'deleted', version = version + 1, updated_us = $1
         WHERE id = $2 AND version = $3 AND status = 'active'",
        )
        .bind(micros(now))
        .bind(id.0)
        .bind(version)
    )?;
    Ok(n == 1)
}

pub async fn assign(
    tx: &mut Tx,
    customer: CustomerId,
    user: UserId,
    kind: AssignmentKind,
    since: &str,
    until: Option<&str>,
) -> DbResult<()> {
    exec!(tx, sqlx::query(
        "INSERT INTO customer_assignment (customer_id, user_id, kind, since, until) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(customer.0)
    .bind(user.0)
    .bind(kind.code())
    .bind(since)
    .bind(until))?;
    Ok(())
}

/// A summary as stored, for the lists and the 360 page alike.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    customer_no: String,
    name: String,
    tier: String,
    aum: i64,
    owner_institution_id: i64,
    owner_name: String,
    manager: Option<String>,
    vip_member: bool,
    complete: bool,
}

impl SummaryRow {
    fn into_summary(self) -> CustomerSummary {
        CustomerSummary {
            id: CustomerId(self.id),
            customer_no: self.customer_no,
            name: mask_name(&self.name),
            tier: Tier::parse(&self.tier).unwrap_or(Tier::Ordinary),
            aum_band: aum_band(self.aum),
            owner_institution_id: self.owner_institution_id,
            owner_name: self.owner_name,
            manager: self.manager,
            vip_member: self.vip_member,
            complete: self.complete,
        }
    }
}

/// One customer's identity and contacts as shown on the 360 page: masked values only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerRecord {
    #[serde(flatten)]
    pub summary: CustomerSummary,
    pub status: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub nationality: Option<String>,
    pub occupation: Option<String>,
    pub education: Option<String>,
    pub marital_status: Option<String>,
    pub id_type: String,
    pub id_number: Option<String>,
    pub id_issuer: Option<String>,
    pub id_expiry: Option<String>,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub aum: i64,
    pub points: i64,
    pub risk_level: Option<String>,
    pub risk_assessed_on: Option<String>,
    pub owner_path: String,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    status: String,
    gender: Option<String>,
    birth_date: Option<String>,
    nationality: Option<String>,
    occupation: Option<String>,
    education: Option<String>,
    marital_status: Option<String>,
    id_type: String,
    id_number_masked: Option<String>,
    id_issuer: Option<String>,
    id_expiry: Option<String>,
    mobile_masked: Option<String>,
    phone_masked: Option<String>,
    email_masked: Option<String>,
    address_masked: Option<String>,
    points: i64,
    risk_level: Option<String>,
    risk_assessed_on: Option<String>,
    owner_path: String,
    version: i64,
    vip_standard_met: bool,
}

/// The customer, and the facts the policy decides on. Deleted customers are not found.
impl CustomerRecord {
    /// The stored (masked) value of a field; empty when unset.
    pub fn masked_field(&self, field: CustomerField) -> String {
        use CustomerField::*;
        let v = match field {
            Name => Some(&self.summary.name),
            Gender => self.gender.as_ref(),
            BirthDate => self.birth_date.as_ref(),
            Nationality => self.nationality.as_ref(),
            Occupation => self.occupation.as_ref(),
            Education => self.education.as_ref(),
            MaritalStatus => self.marital_status.as_ref(),
            IdType => Some(&self.id_type),
            IdNumber => self.id_number.as_ref(),
            IdIssuer => self.id_issuer.as_ref(),
            IdExpiry => self.id_expiry.as_ref(),
            Mobile => self.mobile.as_ref(),
            Phone => self.phone.as_ref(),
            Email => self.email.as_ref(),
            Address => self.address.as_ref(),
        };
        v.cloned().unwrap_or_default()
    }
}

pub async fn get(
    tx: &mut Tx,
    id: CustomerId,
    today: &str,
) -> DbResult<Option<(CustomerRecord, CustomerFacts)>> {
    let sql = format!(
        "SELECT c.id, c.customer_no, c.name, c.tier, {aum} AS aum, c.owner_institution_id, i.name AS owner_name,
            c.vip_member, c.complete,
            (SELECT u.display_name FROM customer_assignment a JOIN app_user u ON u.id = a.user_id
              WHERE a.customer_id = c.id AND a.kind = 'manager') AS manager,
            c.status, c.gender, c.birth_date, c.nationality, c.occupation, c.education, c.marital_status,
            c.id_type, c.id_number_masked, c.id_issuer, c.id_expiry, c.mobile_masked, c.phone_masked,
            c.email_masked, c.address_masked, c.points, c.risk_level, c.risk_assessed_on, c.owner_path,
            c.version, c.vip_standard_met
         FROM customer c JOIN institution i ON i.id = c.owner_institution_id
         WHERE c.id = $1 AND c.status = 'active'",
        aum = aum_of_c!()
    );
    let row: Option<RecordRow> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(c).await
    })?;
    let Some(r) = row else { return Ok(None) };
    let assignees = assignees(tx, id, today).await?;
    let aum = r.summary.aum;
    let facts = CustomerFacts {
        id,
        owner_path: InstPath::from_stored(r.owner_path.clone()),
        assignees: assignees.iter().map(|a| (a.user_id, a.kind)).collect(),
        vip_member: r.summary.vip_member,
        meets_vip_standard: r.vip_standard_met,
    };
    let record = CustomerRecord {
        summary: r.summary.into_summary(),
        status: r.status,
        gender: r.gender,
        birth_date: r.birth_date,
        nationality: r.nationality,
        occupation: r.occupation,
        education: r.education,
        marital_status: r.marital_status,
        id_type: r.id_type,
        id_number: r.id_number_masked,
        id_issuer: r.id_issuer,
        id_expiry: r.id_expiry,
        mobile: r.mobile_masked,
        phone: r.phone_masked,
        email: r.email_masked,
        address: r.address_masked,
        aum,
        points: r.points,
        risk_level: r.risk_level,
        risk_assessed_on: r.risk_assessed_on,
        owner_path: r.owner_path,
        version: r.version,
    };
    Ok(Some((record, facts)))
}

/// Someone assigned to a customer, as the 360 page lists them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assignee {
    pub user_id: UserId,
    pub display_name: String,
    pub kind: AssignmentKind,
    pub since: String,
    pub until: Option<String>,
}

pub async fn assignees(tx: &mut Tx, id: CustomerId, today: &str) -> DbResult<Vec<Assignee>> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT a.user_id, u.display_name, a.kind, a.since, a.until
             FROM customer_assignment a JOIN app_user u ON u.id = a.user_id
             WHERE a.customer_id = $1 AND (a.until IS NULL OR a.until >= $2) ORDER BY a.kind, a.since",
        )
        .bind(id.0)
        .bind(today)
        .fetch_all(c)
        .await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, name, kind, since, until)| {
            Some(Assignee {
                user_id: UserId(u),
                display_name: name,
                kind: AssignmentKind::parse(&kind)?,
                since,
                until,
            })
        })
        .collect())
}

/// The blind indexes of a customer's ID number, mobile and fixed line, to tell whether a
/// proposed value is the one already held without opening it.
pub async fn blind_indexes(
    tx: &mut Tx,
    id: CustomerId,
) -> DbResult<Option<(Option<String>, Option<String>, Option<String>)>> {
    on_tx!(tx, c => {
        sqlx::query_as("SELECT id_number_bidx, mobile_bidx, phone_bidx FROM customer WHERE id = $1")
            .bind(id.0)
            .fetch_optional(c)
            .await
    })
}

/// Customers whose ID number has this blind index, with their names (credit-review lookup).
pub async fn by_id_bidx(tx: &mut Tx, bidx: &str) -> DbResult<Vec<(CustomerId, String)>> {
    let rows: Vec<(i64, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, name FROM customer WHERE id_number_bidx = $1 AND status = 'active'")
            .bind(bidx)
            .fetch_all(c)
            .await
    })?;
    Ok(rows.into_iter().map(|(id, n)| (CustomerId(id), n)).collect())
}

/// The key information a stored customer has (for checking a modification).
pub async fn key_info(tx: &mut Tx, id: CustomerId) -> DbResult<Option<pcis_domain::customer::KeyInfo>> {
    type Row = (String, Option<String>, Option<String>, String, bool, bool, bool);
    let row: Option<Row> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT name, gender, birth_date, id_type, id_number_sealed IS NOT NULL,
                    (mobile_sealed IS NOT NULL OR phone_sealed IS NOT NULL), address_sealed IS NOT NULL
             FROM customer WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(c)
        .await
    })?;
    Ok(row.map(|(name, gender, birth, id_type, id_number, contact, address)| {
        pcis_domain::customer::KeyInfo {
            name: !name.is_empty(),
            gender: gender.as_deref().and_then(pcis_domain::identity::Gender::parse),
            birth_date: birth
                .and_then(|b| pcis_domain::customer::parse_date("birth_date", &b).ok().flatten()),
            id_type: pcis_domain::customer::IdType::parse(&id_type),
            id_number,
            contact,
            address,
        }
    }))
}

/// The VIP standard and tier thresholds (business parameters).
pub async fn thresholds(tx: &mut Tx) -> DbResult<pcis_domain::customer::TierThresholds> {
    let rows: Vec<(String, i64)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT key, value FROM business_parameter").fetch_all(c).await
    })?;
    let mut t = pcis_domain::customer::TierThresholds::default();
    for (k, v) in rows {
        match k.as_str() {
            "tier_gold_min" => t.gold = v,
            "tier_platinum_min" => t.platinum = v,
            "tier_diamond_min" => t.diamond = v,
            "vip_standard_min" => t.vip = v,
            _ => {}
        }
    }
    Ok(t)
}

/// Whether a customer with this number exists.
pub async fn exists(tx: &mut Tx, customer_no: &str) -> DbResult<bool> {
    let n: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM customer WHERE customer_no = $1").bind(customer_no).fetch_one(c).await
    })?;
    Ok(n > 0)
}

pub async fn set_risk(
    tx: &mut Tx,
    id: CustomerId,
    level: Option<&str>,
    assessed_on: Option<&str>,
) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE customer SET risk_level = $1, risk_assessed_on = $2 WHERE id = $3")
            .bind(level)
            .bind(assessed_on)
            .bind(id.0)
    )?;
    Ok(())
}

/// Stores new tier thresholds and VIP standard (business parameters).
pub async fn set_thresholds(
    tx: &mut Tx,
    t: &pcis_domain::customer::TierThresholds,
    now: OffsetDateTime,
) -> DbResult<()> {
    for (key, value) in [
        ("tier_gold_min", t.gold),
        ("tier_platinum_min", t.platinum),
        ("tier_diamond_min", t.diamond),
        ("vip_standard_min", t.vip),
    ] {
        exec!(
            tx,
            sqlx::query("UPDATE business_parameter SET value = $2, updated_us = $3 WHERE key = $1")
                .bind(key)
                .bind(value)
                .bind(micros(now))
        )?;
    }
    Ok(())
}
