//! The daily import of core-banking extracts (R-ETL-1..3, R-ETL-6), in the format of
//! `docs/extract-format.md`. Invariants: files are read as streams (memory does not grow
//! with their size); every row is validated with the same parsing types as the UI, and a bad
//! row goes to the rejects, never aborting the load; sensitive values are sealed and blind-
//! indexed before they reach storage; each batch is one transaction that also records how
//! far the run got, so a rerun after a crash goes on from there; rows are keyed by the core
//! system's numbers and an identical row is left alone, so loading a day twice changes
//! nothing.

mod format;
mod rows;
mod write;

use std::path::Path;

use pcis_domain::audit_action::AuditAction;
use pcis_domain::{DomainError, DomainResult, FieldError};
/// An import run, as the administrators list them.
pub use pcis_store::extract::Run as ImportRun;
use pcis_store::extract::{self as store, Change};
use pcis_store::{deferred_index, institutions, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::{App, DbExt, entry};
use format::{Manifested, Reader, file_error, manifest};
use rows::{Lookups, Rejected, RowParser};
use write::Load;

/// Rows per transaction: large enough that a commit, a lookup and a statement per table
/// are spread over many rows (5,000 against 1,000: 1M rows on PostgreSQL 238 s → 210 s),
/// small enough that the batches in flight stay a few megabytes.
const BATCH: usize = 5000;
/// Batches read ahead of the writer: the reading thread parses and seals the next batch
/// while the writer stores this one, and memory stays bounded whatever the file's size.
const READ_AHEAD: usize = 2;

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
    /// Time spent on the file, across resumed runs.
    #[serde(default)]
    pub millis: u64,
}

impl FileCounts {
    /// The time spent, in seconds with one decimal.
    pub fn seconds(&self) -> String {
        format!("{:.1}", self.millis as f64 / 1000.0)
    }

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
    /// Making again the customers' indexes a large load set aside, refreshing the planner's
    /// statistics and closing the run, after the tiers.
    pub finishing: std::time::Duration,
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

/// Rows of a file, parsed on the reading thread, on their way to the writer.
struct Batch<P> {
    /// (line in the file, the row or why it is rejected); the header is line 1.
    rows: write::Lines<P>,
    /// Records of the file behind this batch, for the checkpoint.
    done: u64,
}

/// Reads a file a batch at a time, skipping the `skip` records an earlier run loaded, and
/// sends the parsed batches until the file ends or the writer stops listening.
fn read_batches<P>(
    mut reader: Reader,
    skip: u64,
    out: mpsc::Sender<Batch<P>>,
    parse: impl Fn(&csv::StringRecord, u64) -> Result<P, Rejected>,
) {
    let mut records = reader.records();
    let mut done = 0u64;
    loop {
        let mut rows = Vec::with_capacity(BATCH);
        for record in records.by_ref() {
            done += 1;
            if done <= skip {
                continue;
            }
            let line = done + 1;
            let row = match record {
                Ok(r) => parse(&r, line),
                Err(_) => Err((String::new(), FieldError::new("row", "err.extract_encoding"))),
            };
            rows.push((line, row));
            if rows.len() == BATCH {
                break;
            }
        }
        if rows.is_empty() || out.blocking_send(Batch { rows, done }).is_err() {
            return;
        }
    }
}

/// The tables a file writes, whose secondary indexes (and keys) a large load of it sets
/// aside: each new customer also gets its first line of tier history.
fn written_by(file: &str) -> &'static [&'static str] {
    match file {
        "customers.csv" => &AFTER_TIERS,
        "accounts.csv" => &["account"],
        "transactions.csv" => &["txn"],
        _ => &[],
    }
}

/// The customers' tables get their indexes and keys back only after the tier recomputation,
/// which on a first load writes every customer's AUM, most tiers and their tier history (see
/// `import_extract`).
const AFTER_TIERS: [&str; 3] = ["customer", "customer_aum", "tier_history"];

/// Makes again whatever indexes and keys of `table` a load set aside.
async fn rebuild_indexes(tx: &mut pcis_store::Tx, table: &'static str) -> DomainResult<()> {
    if !deferred_index::may_alter(tx, table).await.db()? {
        if deferred_index::pending(tx, table).await.db()? > 0 {
            tracing::warn!(
                table,
                "indexes set aside by an interrupted load wait for a load run as the schema owner"
            );
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let n = deferred_index::rebuild(tx, table).await.db()?;
    if n > 0 {
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(table, n, ms, "secondary indexes and foreign keys made again");
    }
    Ok(())
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
            for table in AFTER_TIERS {
                rebuild_indexes(&mut tx, table).await?;
            }
            store::finish_run(&mut tx, run, "failed", &counts_json, &message, self.clock.now()).await.db()?;
            let detail = json!({ "business_date": business_date, "files": files, "error": message });
            self.record(&mut tx, with_detail(entry(system(), AuditAction::ImportRun, run), detail)).await?;
            tx.commit().await.db()?;
            return Err(e);
        }
        let tiering = std::time::Instant::now();
        let (aum_changed, tier_changed) = self.recompute_tiers_in(&mut tx).await?;
        let tiering = tiering.elapsed();
        let finishing = std::time::Instant::now();
        for table in AFTER_TIERS {
            rebuild_indexes(&mut tx, table).await?;
        }
        store::refresh_statistics(&mut tx).await.db()?;
        store::finish_run(&mut tx, run, "done", &counts_json, "", self.clock.now()).await.db()?;
        let detail = json!({ "business_date": business_date, "resumed": resumed, "files": files,
            "aum_changed": aum_changed, "tier_changed": tier_changed });
        self.record(&mut tx, with_detail(entry(system(), AuditAction::ImportRun, run), detail)).await?;
        tx.commit().await.db()?;
        let finishing = finishing.elapsed();
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
            finishing,
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

    /// Loads one file; the first `skip` records were loaded by an earlier, interrupted run.
    /// A file that will at least double its table loads with the table's secondary indexes
    /// set aside and builds them at its end (the customers' after the tiers), whether or not
    /// the load succeeded; a load cut off leaves them to its rerun, or to the next load.
    async fn load_file(
        &self,
        dir: &Path,
        m: &Manifested,
        skip: u64,
        l: &mut Loading<'_>,
    ) -> DomainResult<()> {
        let (reader, cols) = format::open(dir, l.file, m)?;
        let parser = RowParser { app: self.clone(), cols, lookups: self.lookups().await? };
        let tables = written_by(l.file);
        for table in tables {
            self.set_aside_indexes(table, m.rows.saturating_sub(skip)).await?;
        }
        let loaded = match l.file {
            "institutions.csv" => self.load_rows(reader, skip, l, move |r, _| parser.institution(r)).await,
            "products.csv" => self.load_rows(reader, skip, l, move |r, _| parser.product(r)).await,
            "customers.csv" => self.load_rows(reader, skip, l, move |r, row| parser.customer(r, row)).await,
            "accounts.csv" => self.load_rows(reader, skip, l, move |r, row| parser.account(r, row)).await,
            _ => self.load_rows(reader, skip, l, move |r, _| parser.transaction(r)).await,
        };
        if !tables.is_empty() && tables != AFTER_TIERS {
            let mut tx = self.db.begin().await.db()?;
            for table in tables {
                rebuild_indexes(&mut tx, table).await?;
            }
            tx.commit().await.db()?;
        }
        loaded
    }

    /// Sets aside `table`'s secondary indexes (and foreign keys, see `deferred_index`) when
    /// `incoming` rows would at least double it.
    async fn set_aside_indexes(&self, table: &'static str, incoming: u64) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        if deferred_index::holds_fewer_than(&mut tx, table, incoming).await.db()?
            && deferred_index::may_alter(&mut tx, table).await.db()?
        {
            let n = deferred_index::set_aside(&mut tx, table).await.db()?;
            tracing::info!(table, n, "secondary indexes and foreign keys set aside for a large load");
        }
        tx.commit().await.db()
    }

    /// Streams a file through the reading thread and writes it a batch per transaction,
    /// each with its checkpoint.
    async fn load_rows<P: Load>(
        &self,
        reader: Reader,
        skip: u64,
        l: &mut Loading<'_>,
        parse: impl Fn(&csv::StringRecord, u64) -> Result<P, Rejected> + Send + 'static,
    ) -> DomainResult<()> {
        let (send, mut batches) = mpsc::channel(READ_AHEAD);
        let reading = tokio::task::spawn_blocking(move || read_batches(reader, skip, send, parse));
        let (before, started) = (l.counts.millis, std::time::Instant::now());
        while let Some(batch) = batches.recv().await {
            let mut tx = self.db.begin().await.db()?;
            let (rows, rejected_before) = (batch.rows.len() as u64, l.counts.rejected);
            l.counts.read += rows;
            P::write(self, &mut tx, batch.rows, l).await?;
            l.counts.millis = before + started.elapsed().as_millis() as u64;
            let counts = serde_json::to_string(&l.counts).unwrap_or_default();
            store::checkpoint(&mut tx, l.run, l.file, batch.done as i64, &counts).await.db()?;
            tx.commit().await.db()?;
            let rejected = l.counts.rejected - rejected_before;
            self.metrics.import_rows(l.file, rows.saturating_sub(rejected), rejected);
            l.sink.progress(l.file, batch.done, 0);
        }
        reading.await.map_err(|e| DomainError::Internal(format!("reading {}: {e}", l.file)))
    }

    /// The latest import runs, newest first, for administrators; audited.
    pub async fn import_runs(
        &self,
        actor: &pcis_domain::policy::Actor,
        meta: &crate::RequestMeta,
    ) -> DomainResult<Vec<ImportRun>> {
        let mut uc = self.read_case(actor, meta, AuditAction::ImportRuns, "").await?;
        let runs = store::runs(uc.tx(), 100).await.db()?;
        uc.finish().await?;
        Ok(runs)
    }
}
