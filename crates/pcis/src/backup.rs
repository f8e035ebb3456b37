//! `pcis backup` and `pcis restore` (R-OPS-1): a consistent copy of a live database with a
//! manifest beside it, and its restore into an empty database, checked against the manifest.
//!
//! - SQLite: `VACUUM INTO` reads one snapshot while the servers go on writing.
//! - PostgreSQL: `pg_dump --format=custom` of the connection's schema, in a snapshot this
//!   command exports and counts in, so the manifest's counts are exactly the dump's. Restore
//!   pipes `pg_restore`'s script into `psql` in one transaction, moved into the target's
//!   schema, and checks every table's rows inside that transaction: a short restore leaves
//!   the target as empty as it was.
//!
//! Invariants: neither the backup nor its manifest holds key material (the manifest names
//! the data-key versions and the audit key's check value, so the right key file can be found
//! under key custody); both are created owner-only (0600) and never overwrite a file; a
//! restore writes only into an empty database and reports success only when every table
//! holds the rows the manifest counted; a database password reaches `pg_dump`, `pg_restore`
//! and `psql` through their environment, never their command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pcis_store::Backend;
use pcis_store::backup::{self as store, Contents, PgSnapshot};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{KeyFile, Settings, redact};

mod pg;

/// The manifest's format; a restore refuses another.
const FORMAT: u32 = 1;

/// What `pcis backup` records beside the backup (PATH.manifest.json). Never key material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When the backup was started (UTC, RFC 3339): the copy shows the database then.
    pub created_at: String,
    pub pcis_version: String,
    /// The backup's file name, its size and SHA-256.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// PostgreSQL: the schema dumped, and the `pg_dump` that dumped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_dump: Option<String>,
    /// The migrations applied, by version.
    pub migrations: Vec<i64>,
    /// Every table and its rows.
    pub tables: BTreeMap<String, i64>,
    /// The last audit record's number.
    pub audit_chain_head_seq: Option<i64>,
    /// The audit key's check value (`audit_chain_head.key_check`), not the key.
    pub audit_key_check: Option<String>,
    /// The data-key versions the sealed values are under: the key file must hold these.
    pub data_key_versions: Vec<u32>,
}

fn backend_of(url: &str) -> Backend {
    if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// PATH.manifest.json beside the backup PATH.
pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut p = OsString::from(backup.as_os_str());
    p.push(".manifest.json");
    PathBuf::from(p)
}

/// `pcis backup --out PATH`.
pub async fn backup(url: &str, out: &Path) -> anyhow::Result<()> {
    let manifest_file = manifest_path(out);
    for p in [out, manifest_file.as_path()] {
        if p.exists() {
            bail!("{} exists: a backup never overwrites a file; choose a new --out", p.display());
        }
    }
    let backend = backend_of(url);
    let partial = Partial::create(out, ".partial")?;
    let bar = spinner();
    // The moment the copy shows, give or take the connection's set-up.
    let taken = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let (contents, schema, pg_dump) = match backend {
        Backend::Sqlite => {
            let source = store::sqlite_path(url)?;
            if !source.is_file() {
                bail!("no database at {}: check --database", source.display());
            }
            bar.set_message("copying the database (VACUUM INTO)");
            store::sqlite_copy(&source, &partial.path)
                .await
                .with_context(|| format!("cannot copy the database {}", source.display()))?;
            let contents =
                store::sqlite_contents(&partial.path, |t| bar.set_message(format!("counting {t}")))
                    .await
                    .context("cannot read the copy")?;
            require_pcis(&contents, url)?;
            (contents, None, None)
        }
        Backend::Postgres => {
            let pg_dump = pg::pg_tool("pg_dump")?;
            let db = crate::connect(url).await?;
            let mut snapshot =
                PgSnapshot::export(&db).await.context("cannot take a snapshot of the database")?;
            let contents =
                store::contents(&mut snapshot.tx, |t| bar.set_message(format!("counting {t}"))).await?;
            require_pcis(&contents, url)?;
            let env = store::libpq_env(url)?;
            let version = pg::tool_version(&pg_dump)?;
            let file = partial.file.try_clone()?;
            let (id, schema) = (snapshot.id.clone(), snapshot.schema.clone());
            let dump_bar = bar.clone();
            let dumped = tokio::task::spawn_blocking(move || {
                pg::run_pg_dump(&pg_dump, &env, &schema, &id, file, &dump_bar)
            })
            .await
            .context("pg_dump's task failed")?;
            let snapshot_schema = snapshot.schema.clone();
            snapshot.release().await?;
            db.close().await;
            dumped?;
            (contents, Some(snapshot_schema), Some(version))
        }
    };
    bar.set_message("checksum");
    partial.file.sync_all()?;
    let (sha256, bytes) = hash_file(&partial.path)?;
    let manifest = Manifest {
        format: FORMAT,
        backend: backend_name(backend).into(),
        created_at: taken,
        pcis_version: env!("CARGO_PKG_VERSION").into(),
        file: out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        bytes,
        sha256,
        schema,
        pg_dump,
        migrations: contents.migrations.clone(),
        tables: contents.tables.clone(),
        audit_chain_head_seq: contents.audit_head_seq,
        audit_key_check: contents.audit_key_check.clone(),
        data_key_versions: contents.data_key_versions.iter().copied().collect(),
    };
    let mut manifest_partial = Partial::create(&manifest_file, ".partial")?;
    manifest_partial.file.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    manifest_partial.file.write_all(b"\n")?;
    bar.finish_and_clear();
    partial.persist(out)?;
    manifest_partial.persist(&manifest_file)?;
    let rows: i64 = manifest.tables.values().sum();
    println!(
        "backup written: {} ({} bytes, {}; {} tables, {rows} rows; audit chain head {})",
        out.display(),
        manifest.bytes,
        manifest.backend,
        manifest.tables.len(),
        manifest.audit_chain_head_seq.unwrap_or(0)
    );
    println!("manifest: {}", manifest_file.display());
    println!("{}", keys_needed(&manifest));
    Ok(())
}

/// A database with no applied migration is not a PCIS database (a mistyped URL, say).
fn require_pcis(contents: &Contents, url: &str) -> anyhow::Result<()> {
    if contents.migrations.is_empty() {
        bail!(
            "{} holds no PCIS schema (no applied migrations): nothing to back up; check --database",
            redact(url)
        );
    }
    Ok(())
}

fn keys_needed(m: &Manifest) -> String {
    let versions: Vec<String> = m.data_key_versions.iter().map(u32::to_string).collect();
    let data = if versions.is_empty() {
        "no data key (nothing is sealed yet)".to_owned()
    } else {
        format!("data key version(s) {}", versions.join(", "))
    };
    let check = m.audit_key_check.as_deref().map(|c| format!(" (check value {c})")).unwrap_or_default();
    format!("the backup holds no keys: its data needs {data} and the audit key{check} from the key file")
}

/// `pcis restore --from PATH`: exit 0 when every table holds the rows the manifest counted,
/// 1 when not (nothing is left half-restored), an error (exit 2) when it cannot start.
pub async fn restore(settings: &Settings, from: &Path) -> anyhow::Result<ExitCode> {
    let url = settings.database_url()?;
    let manifest = read_manifest(from)?;
    let backend = backend_of(url);
    if manifest.backend != backend_name(backend) {
        bail!(
            "{} is a {} backup: restore it into a {} database",
            from.display(),
            manifest.backend,
            if manifest.backend == "sqlite" { "sqlite:" } else { "postgres://" }
        );
    }
    let known: Vec<i64> = pcis_store::migrations::migrator(backend).iter().map(|m| m.version).collect();
    let unknown: Vec<String> =
        manifest.migrations.iter().filter(|v| !known.contains(v)).map(i64::to_string).collect();
    if !unknown.is_empty() {
        bail!(
            "the backup has migration(s) {} this pcis {} does not know: restore it with pcis {} or newer",
            unknown.join(", "),
            env!("CARGO_PKG_VERSION"),
            manifest.pcis_version
        );
    }
    let restored = match backend {
        Backend::Sqlite => restore_sqlite(url, from, &manifest).await?,
        Backend::Postgres => restore_postgres(url, from, &manifest).await?,
    };
    let Some(restored) = restored else {
        return Ok(ExitCode::from(1));
    };
    let differences = differences(&manifest, &restored);
    if !differences.is_empty() {
        eprintln!(
            "restore FAILED: the restored database differs from the manifest: {}; do not use it",
            differences.join("; ")
        );
        return Ok(ExitCode::from(1));
    }
    for (table, rows) in &restored.tables {
        println!("  {table:<32} {rows:>12}");
    }
    println!(
        "restored {} tables, {} rows, audit chain head {}: the row counts match the manifest",
        restored.tables.len(),
        restored.tables.values().sum::<i64>(),
        restored.audit_head_seq.unwrap_or(0)
    );
    for line in check_keys(settings, &manifest) {
        println!("{line}");
    }
    if backend == Backend::Postgres {
        println!(
            "next: as the schema's owner run `pcis grants --app-role … --apply` (privileges are not restored), \
             then `pcis audit verify`"
        );
    } else {
        println!("next: `pcis audit verify` with the key file");
    }
    Ok(ExitCode::SUCCESS)
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = manifest_path(from);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the manifest {}: a restore needs the manifest `pcis backup` wrote beside the backup",
            path.display()
        )
    })?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a pcis backup manifest", path.display()))?;
    if m.format != FORMAT {
        bail!("{} has format {}; this pcis reads format {FORMAT}", path.display(), m.format);
    }
    Ok(m)
}

fn not_empty(what: &str, objects: i64) -> anyhow::Error {
    anyhow::anyhow!(
        "the target database is not empty ({objects} schema objects in {what}): restore only into an empty \
         database (a new sqlite: file, or an empty schema or database on PostgreSQL)"
    )
}

fn damaged(from: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} does not match its manifest (SHA-256 differs): the file is damaged or not the one the manifest \
         describes; use another copy",
        from.display()
    )
}

/// SQLite: copied beside the target, checked (checksum, then its rows against the manifest),
/// and only then moved into place. `None` when the rows differ (the target is left alone).
async fn restore_sqlite(url: &str, from: &Path, manifest: &Manifest) -> anyhow::Result<Option<Contents>> {
    let target = store::sqlite_path(url)?;
    if let Ok(meta) = std::fs::metadata(&target)
        && meta.len() > 0
    {
        let objects = store::sqlite_objects(&target).await.with_context(|| {
            format!("cannot read the target {}: is it a SQLite database?", target.display())
        })?;
        if objects > 0 {
            return Err(not_empty(&target.display().to_string(), objects));
        }
    }
    let mut source = File::open(from).with_context(|| {
        format!("cannot read the backup {}: check the path and its rights", from.display())
    })?;
    let partial = Partial::create(&target, ".restoring")?;
    let bar = bytes_bar(source.metadata()?.len(), "copying");
    let (sha256, _) = copy_hashing(&mut source, Some(&partial.file), &bar)
        .with_context(|| format!("cannot read the backup {}", from.display()))?;
    partial.file.sync_all()?;
    if sha256 != manifest.sha256 {
        return Err(damaged(from));
    }
    bar.set_style(spinner_style());
    let restored = store::sqlite_contents(&partial.path, |t| bar.set_message(format!("counting {t}")))
        .await
        .with_context(|| format!("cannot read the backup {} as a SQLite database", from.display()))?;
    bar.finish_and_clear();
    let differences = differences(manifest, &restored);
    if !differences.is_empty() {
        eprintln!(
            "restore FAILED: the backup's rows differ from its manifest: {}; nothing was restored",
            differences.join("; ")
        );
        return Ok(None);
    }
    // An empty target's journal files would be replayed into the restored file.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = OsString::from(target.as_os_str());
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", Path::new(&p).display()));
            }
            _ => {}
        }
    }
    partial.persist(&target)?;
    Ok(Some(restored))
}

/// PostgreSQL: `pg_restore`'s script, moved into the target's schema, through `psql` in one
/// transaction that ends with the row check. `None` when the rows differ (rolled back).
async fn restore_postgres(url: &str, from: &Path, manifest: &Manifest) -> anyhow::Result<Option<Contents>> {
    let Some(source_schema) = manifest.schema.clone() else {
        bail!("the manifest of {} names no schema: it was not written by `pcis backup`", from.display());
    };
    let (pg_restore, psql) = (pg::pg_tool("pg_restore")?, pg::pg_tool("psql")?);
    let (schema, objects) = store::pg_schema_objects(url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))?;
    let Some(schema) = schema else {
        bail!(
            "the target's search_path names no existing schema: create it first (CREATE SCHEMA … as the owner), \
             or fix --database"
        );
    };
    if objects > 0 {
        return Err(not_empty(&format!("schema {schema}"), objects));
    }
    let mut source = File::open(from).with_context(|| {
        format!("cannot read the backup {}: check the path and its rights", from.display())
    })?;
    let bar = bytes_bar(source.metadata()?.len(), "checking");
    let (sha256, _) = copy_hashing(&mut source, None, &bar)
        .with_context(|| format!("cannot read the backup {}", from.display()))?;
    if sha256 != manifest.sha256 {
        return Err(damaged(from));
    }
    bar.set_style(spinner_style());
    bar.set_message("pg_restore");
    let env = store::libpq_env(url)?;
    let moved = pg::SchemaMove::new(&source_schema, &schema);
    let check = pg::row_check(&schema, &manifest.tables);
    let (from_path, task_bar) = (from.to_owned(), bar.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        pg::run_pg_restore(&pg_restore, &psql, &env, &from_path, moved, &check, &task_bar)
    })
    .await
    .context("the restore's task failed")??;
    bar.finish_and_clear();
    if let Some(mismatch) = outcome {
        eprintln!("restore FAILED: {mismatch}; nothing was restored (rolled back)");
        return Ok(None);
    }
    let db = crate::connect(url).await?;
    let mut tx = db.begin_read().await?;
    let restored = store::contents(&mut tx, |_| {}).await?;
    drop(tx);
    db.close().await;
    Ok(Some(restored))
}

/// What the restored database holds against the manifest: each difference, named.
fn differences(m: &Manifest, c: &Contents) -> Vec<String> {
    let mut out = Vec::new();
    let tables: std::collections::BTreeSet<&String> = m.tables.keys().chain(c.tables.keys()).collect();
    for t in tables {
        let (want, got) = (m.tables.get(t), c.tables.get(t));
        if want != got {
            let show = |n: Option<&i64>| n.map_or("no table".to_owned(), |n| format!("{n} rows"));
            out.push(format!("{t}: {} restored, the manifest counted {}", show(got), show(want)));
        }
    }
    if m.migrations != c.migrations {
        out.push("the applied migrations differ".to_owned());
    }
    if m.audit_chain_head_seq != c.audit_head_seq {
        out.push(format!(
            "audit chain head {:?} restored, the manifest recorded {:?}",
            c.audit_head_seq, m.audit_chain_head_seq
        ));
    }
    out
}

/// Whether the key file (or `PCIS_KEYS`) holds what the restored data needs; a restore
/// does not need keys, so a problem here is a warning.
fn check_keys(settings: &Settings, m: &Manifest) -> Vec<String> {
    let file = match std::env::var("PCIS_KEYS") {
        Ok(json) => serde_json::from_str::<KeyFile>(&json).context("invalid keys in PCIS_KEYS"),
        Err(_) => KeyFile::read(&settings.key_file),
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => return vec![format!("keys not checked ({e:#}); {}", keys_needed(m))],
    };
    let mut lines = Vec::new();
    let missing: Vec<String> =
        m.data_key_versions.iter().filter(|v| !file.data_keys.contains_key(v)).map(u32::to_string).collect();
    if !missing.is_empty() {
        lines.push(format!(
            "WARNING: the key file lacks data key version(s) {}: values sealed under them cannot be opened; find \
             the key file that holds them",
            missing.join(", ")
        ));
    }
    if let Some(expected) = &m.audit_key_check {
        let ours = hex::decode(file.audit_hmac.trim()).map(|k| pcis_domain::audit::key_check(&k));
        if ours.as_deref().ok() != Some(expected.as_str()) {
            lines.push(
                "WARNING: the key file's audit key is not the one this audit log was written with: `pcis audit \
                 verify` will fail; find the key file that holds it"
                    .to_owned(),
            );
        }
    }
    if lines.is_empty() {
        lines.push("the key file holds the data key versions and the audit key this data needs".to_owned());
    }
    lines
}

/// Copies `from` into `to` (if any), returning its SHA-256 (hex) and size.
fn copy_hashing(
    from: &mut impl Read,
    mut to: Option<&File>,
    bar: &ProgressBar,
) -> std::io::Result<(String, u64)> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        if let Some(f) = to.as_mut() {
            f.write_all(&buf[..n])?;
        }
        total += n as u64;
        bar.set_position(total);
    }
    Ok((hex::encode(hash.finalize()), total))
}

fn hash_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(copy_hashing(&mut f, None, &ProgressBar::hidden())?)
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template")
}

/// A spinner on a terminal's stderr (nothing when stderr is not a terminal).
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(spinner_style());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn bytes_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})").expect("valid template"),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A file being written beside its final path, created owner-only; removed unless persisted.
struct Partial {
    path: PathBuf,
    file: File,
    kept: bool,
}

impl Partial {
    fn create(beside: &Path, suffix: &str) -> anyhow::Result<Partial> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut p = OsString::from(beside.as_os_str());
        p.push(suffix);
        let path = PathBuf::from(p);
        let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(
            |e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "{} exists (left by an interrupted run?): remove it and run again",
                        path.display()
                    )
                } else {
                    anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
                }
            },
        )?;
        Ok(Partial { path, file, kept: false })
    }

    /// Moves the finished file to `to`.
    fn persist(mut self, to: &Path) -> anyhow::Result<()> {
        self.file.sync_all()?;
        std::fs::rename(&self.path, to)
            .with_context(|| format!("cannot move {} to {}", self.path.display(), to.display()))?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
