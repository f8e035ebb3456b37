//! The daily import of core-banking extracts (R-ETL-1..3, R-ETL-6), in the format of
//! `docs/extract-format.md`. Invariants: files are read as streams (memory does not grow
//! with their size); every row is validated with the same parsing types as the UI, and a bad
//! row goes to the rejects, never aborting the load; sensitive values are sealed and blind-
//! indexed before they reach storage; each batch is one transaction that also records how
//! far the run got, so a rerun after a crash goes on from there; rows are keyed by the core
//! system's numbers and an identical row is left alone, so loading a day twice changes
//! nothing.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use pcis_domain::customer::{CustomerInput, SensitiveField, parse_account_no, parse_date, parse_yuan};
use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::user::UserId;
use pcis_domain::{DomainError, DomainResult, FieldError};
use pcis_store::extract::{self as store, Change, ExtractAccount, ExtractCustomer, Source};
use pcis_store::{Tx, institutions, users};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::{SeedInstitution, system};
use crate::customers::{BIDX_ACCOUNT, columns};
use crate::{App, DbExt, entry};

/// Rows per transaction.
const BATCH: usize = 1000;

/// The files of an extract folder, in load order.
pub const FILES: [&str; 5] =
    ["institutions.csv", "products.csv", "customers.csv", "accounts.csv", "transactions.csv"];

/// What a run did with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    pub file: String,
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl FileCounts {
    fn count(&mut self, c: Change) {
        match c {
            Change::Inserted => self.inserted += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// The end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub run: i64,
    pub business_date: String,
    pub resumed: bool,
    pub files: Vec<FileCounts>,
    /// Customers whose AUM, and whose tier, changed in the recomputation after the load.
    pub aum_changed: u64,
    pub tier_changed: u64,
    pub tiering: std::time::Duration,
    /// The suspicious list built after the load (R-ETL-4).
    pub suspects: crate::suspects::SuspectBuild,
    pub suspect_listing: std::time::Duration,
}

/// A row that was not loaded: where it is, the key it names (masked if sensitive), the field
/// and the rule (an i18n key).
#[derive(Debug, Clone)]
pub struct Reject {
    pub file: &'static str,
    pub row: u64,
    pub key: String,
    pub field: &'static str,
    pub rule: &'static str,
}

/// Where a run reports: progress for a terminal, rejects for the rejects file.
pub trait ImportSink {
    fn progress(&mut self, file: &str, rows_done: u64, rows_expected: u64);
    fn reject(&mut self, reject: Reject) -> std::io::Result<()>;
}

/// One line of the manifest.
struct Manifested {
    rows: u64,
    gb18030: bool,
}

fn file_error(file: &str, rule: &'static str) -> DomainError {
    tracing::warn!(file, rule, "extract file refused");
    DomainError::Invalid(vec![FieldError::new("file", rule)])
}

/// The manifest: business date and each file's row count and encoding.
fn manifest(dir: &Path) -> DomainResult<(String, HashMap<String, Manifested>)> {
    let file = File::open(dir.join("manifest.csv"))
        .map_err(|_| file_error("manifest.csv", "err.extract_manifest"))?;
    let mut reader = csv::Reader::from_reader(file);
    let cols =
        Columns::new(reader.headers().map_err(|_| file_error("manifest.csv", "err.extract_manifest"))?);
    let mut date = None;
    let mut files = HashMap::new();
    for record in reader.records() {
        let r = record.map_err(|_| file_error("manifest.csv", "err.extract_manifest"))?;
        let d = cols.get(&r, "business_date");
        parse_date("business_date", d)
            .ok()
            .flatten()
            .ok_or_else(|| file_error("manifest.csv", "err.extract_manifest"))?;
        if date.get_or_insert_with(|| d.to_owned()) != d {
            return Err(file_error("manifest.csv", "err.extract_manifest"));
        }
        let rows =
            cols.get(&r, "rows").parse().map_err(|_| file_error("manifest.csv", "err.extract_manifest"))?;
        let gb18030 = match cols.get(&r, "encoding").to_ascii_uppercase().as_str() {
            "UTF-8" | "UTF8" => false,
            "GB18030" => true,
            _ => return Err(file_error("manifest.csv", "err.extract_encoding")),
        };
        files.insert(cols.get(&r, "file").to_owned(), Manifested { rows, gb18030 });
    }
    let date = date.ok_or_else(|| file_error("manifest.csv", "err.extract_manifest"))?;
    Ok((date, files))
}

/// Columns found by name, so the core system may reorder them.
struct Columns(HashMap<String, usize>);

impl Columns {
    fn new(header: &csv::StringRecord) -> Columns {
        Columns(
            header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().trim_start_matches('\u{feff}').to_owned(), i))
                .collect(),
        )
    }

    fn require(&self, file: &str, names: &[&str]) -> DomainResult<()> {
        if names.iter().all(|n| self.0.contains_key(*n)) {
            Ok(())
        } else {
            Err(file_error(file, "err.extract_columns"))
        }
    }

    fn get<'r>(&self, r: &'r csv::StringRecord, name: &str) -> &'r str {
        self.0.get(name).and_then(|i| r.get(*i)).unwrap_or("").trim()
    }

    fn opt<'r>(&self, r: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        Some(self.get(r, name)).filter(|v| !v.is_empty())
    }
}

/// A file of the folder as a stream of records, transcoded from GB18030 when declared.
fn open(dir: &Path, file: &str, gb18030: bool) -> DomainResult<csv::Reader<Box<dyn Read + Send>>> {
    let f = File::open(dir.join(file)).map_err(|_| file_error(file, "err.extract_missing"))?;
    let input: Box<dyn Read + Send> = if gb18030 {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding_rs::GB18030)).build(f),
        )
    } else {
        Box::new(f)
    };
    Ok(csv::ReaderBuilder::new().flexible(true).from_reader(input))
}

/// `YYYY-MM-DD HH:MM:SS`, China time.
fn parse_timestamp(field: &'static str, s: &str) -> Result<time::OffsetDateTime, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, format)
        .map(|t| t.assume_offset(pcis_domain::CST))
        .map_err(|_| FieldError::new(field, "err.timestamp"))
}

fn code(field: &'static str, s: &str, max: usize) -> Result<(), FieldError> {
    if (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(FieldError::new(field, "err.code_format"))
    }
}

fn one_of(field: &'static str, s: &str, allowed: &[&str]) -> Result<(), FieldError> {
    if allowed.contains(&s) { Ok(()) } else { Err(FieldError::new(field, "err.value_unknown")) }
}

/// What a run keeps in memory: the institutions, staff and products by code (thousands,
/// not millions).
struct Lookups {
    institutions: HashMap<String, (InstitutionId, InstPath, u8)>,
    staff: HashMap<String, UserId>,
    products: HashMap<String, (String, String)>,
}

/// What a batch looks up by key, fetched before its rows are loaded and kept current as
/// they are (a key may appear twice in one batch).
#[derive(Default)]
struct Prefetched {
    customers: store::Known,
    accounts: store::Known,
    owners: HashMap<String, (i64, i64)>,
}

/// The state of one file being loaded.
struct Loading<'a> {
    file: &'static str,
    counts: FileCounts,
    run: i64,
    sink: &'a mut (dyn ImportSink + Send),
}

impl Loading<'_> {
    fn reject(&mut self, row: u64, key: String, e: &FieldError) -> DomainResult<()> {
        self.counts.rejected += 1;
        let r = Reject { file: self.file, row, key, field: e.field, rule: e.rule };
        self.sink.reject(r).map_err(|e| DomainError::Internal(format!("rejects file: {e}")))
    }
}

/// How a folder is named in the import runs.
fn source_of(dir: &Path) -> String {
    dir.canonicalize().unwrap_or_else(|_| dir.to_owned()).display().to_string()
}

impl App {
    /// Whether the folder `dir` has been loaded to the end before.
    pub async fn extract_loaded(&self, dir: &Path) -> DomainResult<bool> {
        let mut tx = self.db.begin_read().await.db()?;
        store::loaded(&mut tx, &source_of(dir)).await.db()
    }

    /// Loads the extract folder `dir`, then recomputes AUM and tiers. A run cut off before
    /// goes on from its checkpoints.
    pub async fn import_extract(
        &self,
        dir: &Path,
        sink: &mut (dyn ImportSink + Send),
    ) -> DomainResult<ImportReport> {
        let (business_date, manifest) = manifest(dir)?;
        let source = source_of(dir);
        let now = self.clock.now();
        let mut tx = self.db.begin().await.db()?;
        let (run, resumed) = match store::running(&mut tx, &business_date, &source).await.db()? {
            Some(r) => (r.id, true),
            None => (store::start_run(&mut tx, &business_date, &source, now).await.db()?, false),
        };
        let done = store::checkpoints(&mut tx, run).await.db()?;
        tx.commit().await.db()?;
        tracing::info!(run, business_date, resumed, "import started");

        let mut files = Vec::new();
        let result = async {
            for file in FILES {
                let m = manifest.get(file).ok_or_else(|| file_error(file, "err.extract_missing"))?;
                let (skip, counts) = match done.get(file) {
                    Some((n, c)) => (*n as u64, serde_json::from_str(c).unwrap_or_default()),
                    None => (0, FileCounts { file: file.to_owned(), ..FileCounts::default() }),
                };
                let mut loading = Loading { file, counts, run, sink: &mut *sink };
                self.load_file(dir, m, skip, &mut loading).await?;
                if loading.counts.read != m.rows {
                    return Err(file_error(file, "err.extract_rows"));
                }
                files.push(loading.counts);
            }
            Ok(())
        }
        .await;
        let mut tx = self.db.begin().await.db()?;
        let counts_json = serde_json::to_string(&files).unwrap_or_default();
        if let Err(e) = result {
            let message = match &e {
                DomainError::Invalid(f) => format!("{}: {}", f[0].field, f[0].rule),
                other => other.to_string(),
            };
            store::finish_run(&mut tx, run, "failed", &counts_json, &message, self.clock.now()).await.db()?;
            let detail = json!({ "business_date": business_date, "files": files, "error": message });
            self.record(&mut tx, with_detail(entry(system(), "import.run", "import_run", run), detail))
                .await?;
            tx.commit().await.db()?;
            return Err(e);
        }
        let tiering = std::time::Instant::now();
        let (aum_changed, tier_changed) = self.recompute_tiers_in(&mut tx).await?;
        store::refresh_statistics(&mut tx).await.db()?;
        store::finish_run(&mut tx, run, "done", &counts_json, "", self.clock.now()).await.db()?;
        let detail = json!({ "business_date": business_date, "resumed": resumed, "files": files,
            "aum_changed": aum_changed, "tier_changed": tier_changed });
        self.record(&mut tx, with_detail(entry(system(), "import.run", "import_run", run), detail)).await?;
        tx.commit().await.db()?;
        let tiering = tiering.elapsed();
        tracing::info!(run, aum_changed, tier_changed, "import finished");
        let listing = std::time::Instant::now();
        let suspects = self.build_suspect_list().await?;
        Ok(ImportReport {
            run,
            business_date,
            resumed,
            files,
            aum_changed,
            tier_changed,
            tiering,
            suspects,
            suspect_listing: listing.elapsed(),
        })
    }

    async fn lookups(&self) -> DomainResult<Lookups> {
        let mut tx = self.db.begin_read().await.db()?;
        let institutions = institutions::list(&mut tx, &pcis_domain::policy::ScopeFilter::All)
            .await
            .db()?
            .into_iter()
            .map(|i| (i.code.clone(), (i.id, i.path.clone(), i.level.get())))
            .collect();
        let staff = users::staff_numbers(&mut tx).await.db()?.into_iter().collect();
        let products = store::products(&mut tx).await.db()?;
        Ok(Lookups { institutions, staff, products })
    }

    /// Streams one file in batches of [`BATCH`] rows, each batch one transaction with its
    /// checkpoint; the first `skip` rows were loaded by an earlier, interrupted run.
    async fn load_file(
        &self,
        dir: &Path,
        m: &Manifested,
        skip: u64,
        l: &mut Loading<'_>,
    ) -> DomainResult<()> {
        let mut reader = open(dir, l.file, m.gb18030)?;
        let cols =
            Columns::new(&reader.headers().map_err(|_| file_error(l.file, "err.extract_encoding"))?.clone());
        cols.require(l.file, required(l.file))?;
        let mut lookups = self.lookups().await?;
        let mut records = reader.records();
        let mut row = 1u64; // the header
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            for record in records.by_ref() {
                row += 1;
                if row - 1 <= skip {
                    continue;
                }
                batch.push((row, record));
                if batch.len() == BATCH {
                    break;
                }
            }
            if batch.is_empty() {
                break;
            }
            let mut tx = self.db.begin().await.db()?;
            let mut pre = self.prefetch(&mut tx, l.file, &cols, &batch).await?;
            let mut pending = Vec::new();
            for (row, record) in &batch {
                let row = *row;
                l.counts.read += 1;
                let Ok(r) = record else {
                    l.reject(row, String::new(), &FieldError::new("row", "err.extract_encoding"))?;
                    continue;
                };
                let outcome = match l.file {
                    "institutions.csv" => self.load_institution(&mut tx, &cols, r, &mut lookups).await,
                    "products.csv" => load_product(&mut tx, &cols, r, &mut lookups).await,
                    "customers.csv" => {
                        self.load_customer(&mut tx, &cols, r, &lookups, &mut pre, (l.run, row)).await
                    }
                    "accounts.csv" => {
                        self.load_account(&mut tx, &cols, r, &lookups, &mut pre, (l.run, row)).await
                    }
                    _ => match self.parse_transaction(&cols, r, &pre) {
                        Ok(t) => {
                            pending.push(t);
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                };
                match outcome {
                    Ok(change) => l.counts.count(change),
                    Err(RowError::Invalid(key, e)) => l.reject(row, key, &e)?,
                    Err(RowError::Fatal(e)) => return Err(e),
                }
            }
            let inserted = store::insert_transactions(&mut tx, &pending, l.run).await.db()?;
            l.counts.inserted += inserted;
            l.counts.unchanged += pending.len() as u64 - inserted;
            let counts = serde_json::to_string(&l.counts).unwrap_or_default();
            store::checkpoint(&mut tx, l.run, l.file, (row - 1) as i64, &counts).await.db()?;
            tx.commit().await.db()?;
            l.sink.progress(l.file, row - 1, 0);
        }
        Ok(())
    }

    /// Everything a batch looks up by key, fetched in one query per kind of key.
    async fn prefetch(
        &self,
        tx: &mut Tx,
        file: &str,
        cols: &Columns,
        batch: &[(u64, Result<csv::StringRecord, csv::Error>)],
    ) -> DomainResult<Prefetched> {
        let records = || batch.iter().filter_map(|(_, r)| r.as_ref().ok());
        let account_bidxs = || -> Vec<String> {
            records()
                .filter_map(|r| parse_account_no(cols.get(r, "account_no")).ok())
                .map(|(n, _)| self.keys.data.blind_index(BIDX_ACCOUNT, n.expose()))
                .collect()
        };
        let mut pre = Prefetched::default();
        if matches!(file, "customers.csv" | "accounts.csv") {
            let numbers: Vec<String> = records().map(|r| cols.get(r, "customer_no").to_owned()).collect();
            pre.customers = store::customers_by_no(tx, &numbers).await.db()?;
        }
        if file == "accounts.csv" {
            pre.accounts = store::accounts_by_bidx(tx, &account_bidxs()).await.db()?;
        }
        if file == "transactions.csv" {
            pre.owners = store::account_owners(tx, &account_bidxs()).await.db()?;
        }
        Ok(pre)
    }

    async fn load_institution(
        &self,
        tx: &mut Tx,
        cols: &Columns,
        r: &csv::StringRecord,
        lookups: &mut Lookups,
    ) -> Result<Change, RowError> {
        let code = cols.get(r, "code").to_owned();
        let kind = match cols.get(r, "kind") {
            "management" => "management",
            "self_run" => "self_run",
            "agency" => "agency",
            _ => return Err(RowError::Invalid(code, FieldError::new("kind", "err.value_unknown"))),
        };
        let seed = SeedInstitution {
            code: code.clone(),
            name: cols.get(r, "name").to_owned(),
            parent_code: cols.opt(r, "parent_code").map(str::to_owned),
            kind,
        };
        match self.add_institution(tx, &seed).await {
            Ok(false) => Ok(Change::Unchanged),
            Ok(true) => {
                let i = institutions::get_by_code(tx, &code).await.db().map_err(RowError::Fatal)?;
                if let Some(i) = i {
                    lookups.institutions.insert(code, (i.id, i.path.clone(), i.level.get()));
                }
                Ok(Change::Inserted)
            }
            Err(DomainError::Invalid(f)) => Err(RowError::Invalid(code, f[0].clone())),
            Err(e) => Err(RowError::Fatal(e)),
        }
    }

    /// A row hash under the blind-index key: equal rows, equal hashes; nothing readable.
    fn row_hash(&self, file: &str, r: &csv::StringRecord) -> String {
        let joined: Vec<&str> = r.iter().map(str::trim).collect();
        self.keys.data.blind_index(&format!("import:{file}"), &joined.join("\u{1f}"))
    }

    async fn load_customer(
        &self,
        tx: &mut Tx,
        cols: &Columns,
        r: &csv::StringRecord,
        lookups: &Lookups,
        pre: &mut Prefetched,
        (run, row): (i64, u64),
    ) -> Result<Change, RowError> {
        let no = cols.get(r, "customer_no").to_owned();
        let invalid = |e: FieldError| RowError::Invalid(no.clone(), e);
        code("customer_no", &no, 20).map_err(invalid)?;
        let gender = match cols.get(r, "gender") {
            "1" => "male",
            "2" => "female",
            other => other,
        };
        let input = CustomerInput {
            name: cols.get(r, "name").into(),
            gender: gender.into(),
            birth_date: cols.get(r, "birth_date").into(),
            nationality: cols.get(r, "nationality").into(),
            occupation: cols.get(r, "occupation").into(),
            education: cols.get(r, "education").into(),
            marital_status: cols.get(r, "marital_status").into(),
            id_type: cols.get(r, "id_type").into(),
            id_number: cols.get(r, "id_number").into(),
            id_issuer: cols.get(r, "id_issuer").into(),
            id_expiry: cols.get(r, "id_expiry").into(),
            mobile: cols.get(r, "mobile").into(),
            phone: cols.get(r, "phone").into(),
            email: cols.get(r, "email").into(),
            address: cols.get(r, "address").into(),
        };
        let patch = input.parse(None).map_err(|e| match e {
            DomainError::Invalid(f) => invalid(f[0].clone()),
            other => RowError::Fatal(other),
        })?;
        let settlement = match cols.opt(r, "settlement_account") {
            Some(s) => Some(
                parse_account_no(s).map_err(|e| invalid(FieldError::new("settlement_account", e.rule)))?.0,
            ),
            None => None,
        };
        let (owner, owner_path, level) = lookups
            .institutions
            .get(cols.get(r, "institution_code"))
            .ok_or_else(|| invalid(FieldError::new("institution_code", "err.inst_unknown")))?;
        if *level != 5 {
            return Err(invalid(FieldError::new("institution_code", "err.propose_outlet")));
        }
        let risk = cols.opt(r, "risk_level");
        if let Some(risk) = risk {
            one_of("risk_level", risk, &["C1", "C2", "C3", "C4", "C5"]).map_err(invalid)?;
        }
        let assessed = cols.opt(r, "risk_assessed_on");
        parse_date("risk_assessed_on", assessed.unwrap_or_default()).map_err(invalid)?;
        let vip = match cols.get(r, "vip_member") {
            "" | "0" => false,
            "1" => true,
            _ => return Err(invalid(FieldError::new("vip_member", "err.value_unknown"))),
        };
        let points = match cols.opt(r, "points") {
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| invalid(FieldError::new("points", "err.number")))?,
            None => 0,
        };
        let hash = self.row_hash("customers", r);
        let known =
            store::customers_by_no(tx, std::slice::from_ref(&no)).await.db().map_err(RowError::Fatal)?;
        let existing = known.get(&no);
        if existing.is_some_and(|(_, h)| h.as_deref() == Some(hash.as_str())) {
            return Ok(Change::Unchanged);
        }
        let mut cols_out = columns(self, &patch);
        cols_out.settlement =
            settlement.map(|s| self.seal(SensitiveField::AccountNo, s.expose(), Some(BIDX_ACCOUNT)));
        let c = ExtractCustomer {
            customer_no: &no,
            cols: &cols_out,
            owner: *owner,
            owner_path,
            risk_level: risk,
            risk_assessed_on: assessed,
            vip_member: vip,
            points,
        };
        let src = Source { run, row: row as i64, hash: &hash };
        let id = store::upsert_customer(tx, existing.as_ref().map(|e| e.0), &c, &src, self.clock.now())
            .await
            .db()
            .map_err(RowError::Fatal)?;
        pre.customers.insert(no.clone(), (id.0, Some(hash.clone())));
        let manager = cols.opt(r, "manager_staff_no").and_then(|s| lookups.staff.get(s).copied());
        store::set_manager(tx, id, manager, &self.today()).await.db().map_err(RowError::Fatal)?;
        if existing.is_none() {
            pcis_store::customers::record_tier(
                tx,
                id,
                None,
                pcis_domain::customer::Tier::Ordinary,
                0,
                "tier.reason.initial_load",
                self.clock.now(),
            )
            .await
            .db()
            .map_err(RowError::Fatal)?;
        }
        Ok(if existing.is_some() { Change::Updated } else { Change::Inserted })
    }

    async fn load_account(
        &self,
        tx: &mut Tx,
        cols: &Columns,
        r: &csv::StringRecord,
        lookups: &Lookups,
        pre: &mut Prefetched,
        (run, row): (i64, u64),
    ) -> Result<Change, RowError> {
        let (number, _luhn) = parse_account_no(cols.get(r, "account_no"))
            .map_err(|e| RowError::Invalid(String::new(), FieldError::new("account_no", e.rule)))?;
        let key = number.masked();
        let invalid = |e: FieldError| RowError::Invalid(key.clone(), e);
        let customer_no = cols.get(r, "customer_no").to_owned();
        let owner = store::customers_by_no(tx, std::slice::from_ref(&customer_no))
            .await
            .db()
            .map_err(RowError::Fatal)?;
        let customer = owner
            .get(&customer_no)
            .ok_or_else(|| invalid(FieldError::new("customer_no", "err.customer_unknown")))?
            .0;
        let (kind, name) = lookups
            .products
            .get(cols.get(r, "product_code"))
            .ok_or_else(|| invalid(FieldError::new("product_code", "err.product_unknown")))?;
        let currency = cols.get(r, "currency");
        currency_code(currency).map_err(invalid)?;
        let balance = parse_yuan("balance", cols.get(r, "balance")).map_err(invalid)?;
        let opened = cols.get(r, "opened_on");
        parse_date("opened_on", opened)
            .map_err(invalid)?
            .ok_or_else(|| invalid(FieldError::new("opened_on", "err.required")))?;
        let matures = cols.opt(r, "matures_on");
        parse_date("matures_on", matures.unwrap_or_default()).map_err(invalid)?;
        let status = cols.get(r, "status");
        one_of("status", status, &["active", "dormant", "closed"]).map_err(invalid)?;
        let (institution, ..) = lookups
            .institutions
            .get(cols.get(r, "institution_code"))
            .ok_or_else(|| invalid(FieldError::new("institution_code", "err.inst_unknown")))?;
        let hash = self.row_hash("accounts", r);
        let bidx = self.keys.data.blind_index(BIDX_ACCOUNT, number.expose());
        let known =
            store::accounts_by_bidx(tx, std::slice::from_ref(&bidx)).await.db().map_err(RowError::Fatal)?;
        let existing = known.get(&bidx);
        if existing.is_some_and(|(_, h)| h.as_deref() == Some(hash.as_str())) {
            return Ok(Change::Unchanged);
        }
        let stored = self.seal(SensitiveField::AccountNo, number.expose(), Some(BIDX_ACCOUNT));
        let a = ExtractAccount {
            number: &stored,
            customer,
            product_type: kind,
            product_code: cols.get(r, "product_code"),
            product_name: name,
            currency,
            balance,
            opened_on: opened,
            matures_on: matures,
            status,
            institution: *institution,
        };
        let src = Source { run, row: row as i64, hash: &hash };
        let id = store::upsert_account(tx, existing.as_ref().map(|e| e.0), &a, &src)
            .await
            .db()
            .map_err(RowError::Fatal)?;
        pre.accounts.insert(bidx, (id, Some(hash.clone())));
        Ok(if existing.is_some() { Change::Updated } else { Change::Inserted })
    }

    /// A transaction row checked and its account resolved, ready for the batch's insert.
    fn parse_transaction<'r>(
        &self,
        cols: &Columns,
        r: &'r csv::StringRecord,
        pre: &Prefetched,
    ) -> Result<store::ExtractTransaction<'r>, RowError> {
        let txn_no = cols.get(r, "txn_no");
        let invalid = |e: FieldError| RowError::Invalid(txn_no.to_owned(), e);
        code("txn_no", txn_no, 32).map_err(invalid)?;
        let (number, _) = parse_account_no(cols.get(r, "account_no"))
            .map_err(|e| invalid(FieldError::new("account_no", e.rule)))?;
        let at = parse_timestamp("posted_at", cols.get(r, "posted_at")).map_err(invalid)?;
        let amount = parse_yuan("amount", cols.get(r, "amount")).map_err(invalid)?;
        let currency = cols.get(r, "currency");
        currency_code(currency).map_err(invalid)?;
        let channel = cols.get(r, "channel");
        one_of("channel", channel, &["counter", "atm", "online", "mobile", "pos"]).map_err(invalid)?;
        let summary = cols.get(r, "summary");
        if summary.chars().count() > 60 {
            return Err(invalid(FieldError::new("summary", "err.text_length")));
        }
        let bidx = self.keys.data.blind_index(BIDX_ACCOUNT, number.expose());
        let (account, customer) = *pre
            .owners
            .get(&bidx)
            .ok_or_else(|| invalid(FieldError::new("account_no", "err.account_unknown")))?;
        Ok(store::ExtractTransaction { txn_no, account, customer, at, amount, currency, channel, summary })
    }

    /// The latest import runs, newest first, for administrators; audited.
    pub async fn import_runs(
        &self,
        actor: &pcis_domain::policy::Actor,
        meta: &crate::RequestMeta,
    ) -> DomainResult<Vec<store::Run>> {
        let mut tx = self.db.begin().await.db()?;
        let e = entry(crate::who(actor, meta), "import.runs", "import_run", "");
        if let Err(err) = self.policy.scope(actor, pcis_domain::role::Action::ImportView) {
            return Err(self.deny(tx, e, err).await);
        }
        let runs = store::runs(&mut tx, 100).await.db()?;
        self.record(&mut tx, e).await?;
        tx.commit().await.db()?;
        Ok(runs)
    }
}

fn currency_code(s: &str) -> Result<(), FieldError> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(FieldError::new("currency", "err.currency"))
    }
}

async fn load_product(
    tx: &mut Tx,
    cols: &Columns,
    r: &csv::StringRecord,
    lookups: &mut Lookups,
) -> Result<Change, RowError> {
    let code_value = cols.get(r, "product_code").to_owned();
    let invalid = |e: FieldError| RowError::Invalid(code_value.clone(), e);
    code("product_code", &code_value, 20).map_err(invalid)?;
    let kind = cols.get(r, "product_type");
    one_of("product_type", kind, &["demand", "time", "wealth", "fund", "insurance", "bond", "loan"])
        .map_err(invalid)?;
    let name = cols.get(r, "product_name");
    if name.is_empty() || name.chars().count() > 60 {
        return Err(invalid(FieldError::new("product_name", "err.name_format")));
    }
    let currency = cols.get(r, "currency");
    currency_code(currency).map_err(invalid)?;
    let change = store::upsert_product(tx, &code_value, kind, name, currency, cols.opt(r, "risk_level"))
        .await
        .db()
        .map_err(RowError::Fatal)?;
    lookups.products.insert(code_value.clone(), (kind.to_owned(), name.to_owned()));
    Ok(change)
}

/// Why a row was not loaded: its fault (to the rejects) or the system's (the run stops).
enum RowError {
    Invalid(String, FieldError),
    Fatal(DomainError),
}

/// The columns a file must have.
fn required(file: &str) -> &'static [&'static str] {
    match file {
        "institutions.csv" => &["code", "name", "parent_code", "kind"],
        "products.csv" => &["product_code", "product_type", "product_name", "currency"],
        "customers.csv" => &[
            "customer_no",
            "name",
            "gender",
            "birth_date",
            "id_type",
            "id_number",
            "mobile",
            "address",
            "institution_code",
        ],
        "accounts.csv" => &[
            "account_no",
            "customer_no",
            "product_code",
            "currency",
            "balance",
            "opened_on",
            "status",
            "institution_code",
        ],
        _ => &["txn_no", "account_no", "posted_at", "amount", "currency", "channel"],
    }
}
