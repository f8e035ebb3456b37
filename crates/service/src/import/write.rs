//! The writer's side of a load: each kind of row stored a batch at a time, in the batch's
//! transaction, with what only storage can tell (is this key known, is the row the same as
//! last time, which customer owns this account) resolved in one lookup per batch.

use std::collections::HashMap;
use std::future::Future;

use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::Tx;
use pcis_store::extract::{self as store, AccountRow, Change, CustomerRow, Known, TransactionRow};

use super::Loading;
use super::rows::{ProductRow, Rejected};
use crate::bootstrap::SeedInstitution;
use crate::{App, DbExt};

/// Rows of a batch: (line in the file, the row or why it is rejected).
pub(super) type Lines<P> = Vec<(u64, Result<P, Rejected>)>;

/// A kind of row the load writes.
pub(super) trait Load: Sized + Send + 'static {
    /// Stores a batch's rows, counting each and sending the rejected to the rejects.
    fn write(
        app: &App,
        tx: &mut Tx,
        rows: Lines<Self>,
        l: &mut Loading<'_>,
    ) -> impl Future<Output = DomainResult<()>> + Send;
}

impl Load for SeedInstitution {
    /// One by one: a handful of rows, each checked against the tree as it stands.
    async fn write(app: &App, tx: &mut Tx, rows: Lines<Self>, l: &mut Loading<'_>) -> DomainResult<()> {
        for (line, row) in rows {
            let outcome = match row {
                Ok(seed) => match app.add_institution(tx, &seed).await {
                    Ok(true) => Ok(Change::Inserted),
                    Ok(false) => Ok(Change::Unchanged),
                    Err(DomainError::Invalid(f)) => Err((seed.code, f[0].clone())),
                    Err(e) => return Err(e),
                },
                Err(rejected) => Err(rejected),
            };
            count(l, line, outcome)?;
        }
        Ok(())
    }
}

impl Load for ProductRow {
    async fn write(_: &App, tx: &mut Tx, rows: Lines<Self>, l: &mut Loading<'_>) -> DomainResult<()> {
        for (line, row) in rows {
            let outcome = match row {
                Ok(p) => Ok(store::upsert_product(
                    tx,
                    &p.code,
                    &p.kind,
                    &p.name,
                    &p.currency,
                    p.risk_level.as_deref(),
                )
                .await
                .db()?),
                Err(rejected) => Err(rejected),
            };
            count(l, line, outcome)?;
        }
        Ok(())
    }
}

impl Load for CustomerRow {
    async fn write(app: &App, tx: &mut Tx, rows: Lines<Self>, l: &mut Loading<'_>) -> DomainResult<()> {
        let numbers: Vec<String> =
            rows.iter().filter_map(|(_, r)| Some(r.as_ref().ok()?.customer_no.clone())).collect();
        let mut known = store::customers_by_no(tx, &numbers).await.db()?;
        let (rows, new): (Vec<CustomerRow>, Vec<bool>) =
            changed(l, rows, &mut known, |c| &c.customer_no, |c| &c.source.hash)?.into_iter().unzip();
        let now = app.clock.now();
        let ids = store::upsert_customers(tx, &rows, l.run, now).await.db()?;
        let id = |c: &CustomerRow| ids.get(&c.customer_no).copied();
        let created: Vec<i64> =
            rows.iter().zip(new).filter(|(_, new)| *new).filter_map(|(c, _)| id(c)).collect();
        store::record_initial_tiers(tx, &created, "tier.reason.initial_load", now).await.db()?;
        let managers: Vec<_> = rows.iter().filter_map(|c| Some((id(c)?, c.manager))).collect();
        store::set_managers(tx, &managers, &app.today()).await.db()
    }
}

impl Load for AccountRow {
    async fn write(_: &App, tx: &mut Tx, rows: Lines<Self>, l: &mut Loading<'_>) -> DomainResult<()> {
        let loaded = || rows.iter().filter_map(|(_, r)| r.as_ref().ok());
        let numbers: Vec<String> = loaded().map(|a| a.customer_no.clone()).collect();
        let owners = store::customers_by_no(tx, &numbers).await.db()?;
        let bidxs: Vec<String> = loaded().map(|a| a.bidx().to_owned()).collect();
        let mut known = store::accounts_by_bidx(tx, &bidxs).await.db()?;
        let rows = rows.into_iter().map(|(line, row)| {
            let owned = row.and_then(|a| match owners.get(&a.customer_no) {
                Some((customer, _)) => Ok((*customer, a)),
                None => {
                    Err((a.number.masked.clone(), FieldError::new("customer_no", "err.customer_unknown")))
                }
            });
            (line, owned)
        });
        let rows = changed(l, rows.collect(), &mut known, |(_, a)| a.bidx(), |(_, a)| &a.source.hash)?;
        let rows: Vec<(i64, &AccountRow)> = rows.iter().map(|((customer, a), _)| (*customer, a)).collect();
        store::upsert_accounts(tx, &rows, l.run).await.db()
    }
}

impl Load for TransactionRow {
    /// Journal numbers loaded before are skipped: transactions never change.
    async fn write(_: &App, tx: &mut Tx, rows: Lines<Self>, l: &mut Loading<'_>) -> DomainResult<()> {
        let bidxs: Vec<String> =
            rows.iter().filter_map(|(_, r)| Some(r.as_ref().ok()?.account_bidx.clone())).collect();
        let owners = store::account_owners(tx, &bidxs).await.db()?;
        let mut ready = Vec::with_capacity(rows.len());
        for (line, row) in &rows {
            let resolved = match row {
                Ok(t) => owners
                    .get(&t.account_bidx)
                    .map(|owner| (*owner, t))
                    .ok_or_else(|| (t.txn_no.clone(), FieldError::new("account_no", "err.account_unknown"))),
                Err(rejected) => Err(rejected.clone()),
            };
            match resolved {
                Ok(t) => ready.push(t),
                Err((key, e)) => l.reject(*line, key, &e)?,
            }
        }
        let inserted = store::insert_transactions(tx, &ready, l.run).await.db()?;
        l.counts.inserted += inserted;
        l.counts.unchanged += ready.len() as u64 - inserted;
        Ok(())
    }
}

/// Counts a row written one by one, or sends it to the rejects.
fn count(l: &mut Loading<'_>, line: u64, outcome: Result<Change, Rejected>) -> DomainResult<()> {
    match outcome {
        Ok(change) => {
            l.counts.count(change);
            Ok(())
        }
        Err((key, e)) => l.reject(line, key, &e),
    }
}

/// Sorts a batch against what storage holds: rejected rows go to the rejects; a row equal to
/// the one loaded last time is counted unchanged and dropped; a key twice in the batch keeps
/// its last row. Returns the rows to write, each with whether its key is new to storage.
fn changed<R>(
    l: &mut Loading<'_>,
    rows: Lines<R>,
    known: &mut Known,
    key: impl Fn(&R) -> &str,
    hash: impl Fn(&R) -> &str,
) -> DomainResult<Vec<(R, bool)>> {
    let mut out: Vec<(R, bool)> = Vec::with_capacity(rows.len());
    let mut slot: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        let row = match row {
            Ok(row) => row,
            Err((k, e)) => {
                l.reject(line, k, &e)?;
                continue;
            }
        };
        let (k, h) = (key(&row).to_owned(), hash(&row).to_owned());
        let change = match known.get(&k) {
            Some((_, stored)) if stored.as_deref() == Some(h.as_str()) => Change::Unchanged,
            Some(_) => Change::Updated,
            None => Change::Inserted,
        };
        l.counts.count(change);
        if change == Change::Unchanged {
            continue;
        }
        known.insert(k.clone(), (0, Some(h)));
        match slot.get(&k) {
            Some(&i) => out[i].0 = row,
            None => {
                slot.insert(k, out.len());
                out.push((row, change == Change::Inserted));
            }
        }
    }
    Ok(out)
}
