//! `pcis` — the one binary: serve, demo, migrate, check-config, audit verify.
//! Exit code 0 on success; otherwise a one-line reason on stderr and a non-zero code.

mod backup;
mod check_config;
mod config;
mod demo;
mod extract_gen;
mod import_cli;
mod nightly;
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum_server::tls_rustls::RustlsConfig;
use clap::{Parser, Subcommand};
use pcis_domain::audit::ChainBreak;
use pcis_domain::audit_action::AuditAction;
use pcis_service::{App, SystemClock};
use pcis_store::Db;

use crate::config::Settings;

#[derive(Parser)]
#[command(
    name = "pcis",
    version,
    about = "PCIS — 个人客户信息系统 (personal customer information system)",
    after_help = "Logging: PCIS_LOG chooses what is logged on stderr, as a tracing EnvFilter directive \
                  (default info,sqlx=warn; e.g. PCIS_LOG=debug or PCIS_LOG=warn,pcis::access=info). On a \
                  terminal the lines are for reading; otherwise (a file, a pipe, journald) each is one JSON \
                  object, with no colour codes, and a request's lines carry its id."
)]
struct Cli {
    /// Database URL: `sqlite:PATH` or `postgres://…`.
    #[arg(long, global = true, env = "PCIS_DATABASE_URL")]
    database: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "PCIS_CONFIG")]
    config: Option<PathBuf>,
    /// Key file (JSON with the audit HMAC key); never stored in the database.
    #[arg(long, global = true, env = "PCIS_KEY_FILE")]
    keys: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations are applied first).
    Serve {
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create (or reuse) a demo deployment in DIR with demo data and logins, and serve it.
    Demo {
        #[arg(long, default_value = "pcis-demo")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Write a day's synthetic core-banking extracts (docs/extract-format.md) into DIR:
    /// about 2.5 accounts and 10 transactions per customer, deterministic from the seed.
    Gen {
        #[arg(long)]
        customers: u64,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20261124)]
        seed: u64,
        /// Share of rows made invalid (0–1), to exercise the rejects file.
        #[arg(long, default_value_t = 0.0)]
        invalid_share: f64,
        /// Share of customers given another customer's mobile, phone or settlement account (0–1).
        #[arg(long, default_value_t = 0.0)]
        shared_contact_share: f64,
        /// `utf-8` or `gb18030`.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        /// The business date of the extract (YYYY-MM-DD); yesterday in China by default.
        #[arg(long)]
        business_date: Option<String>,
    },
    /// Load a day's core-banking extracts from DIR (docs/extract-format.md), then recompute
    /// assets and tiers. Bad rows go to the rejects file; rerunning after a crash goes on
    /// where it stopped; loading the same folder twice changes nothing.
    Import {
        dir: PathBuf,
        /// Where rejected rows are written (default DIR/rejects.csv).
        #[arg(long)]
        rejects: Option<PathBuf>,
    },
    /// Run the nightly job now (what `serve` does at `[nightly] at`): load the inbox's new
    /// extract folders, recompute the tiers, build the suspicious list. At most once per day
    /// across all nodes; a failed day can be rerun.
    Nightly {
        /// The extract inbox (default: `[nightly] inbox` of the configuration).
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// The day to run for, YYYY-MM-DD (default: today, China time).
        #[arg(long)]
        date: Option<String>,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Check every setting (the listen address, the database answers and is fully migrated,
    /// the key file is the owner's alone, the inbox is readable), report every problem (exit 2),
    /// and print the effective settings as TOML without secrets. Changes nothing.
    CheckConfig,
    /// Create the head office (if the tree is empty) and a system administrator with a
    /// one-time password, printed once. Run again, it issues a new one-time password.
    Bootstrap {
        #[arg(long)]
        head_office_code: String,
        #[arg(long)]
        head_office_name: String,
        #[arg(long)]
        admin_username: String,
        #[arg(long)]
        admin_name: String,
        #[arg(long)]
        admin_staff_no: String,
    },
    /// Give the application role its rights on PostgreSQL, as the schema's owner, after
    /// every `migrate`: prints the statements, or runs them with `--apply`.
    Grants {
        /// The role `pcis serve` connects as.
        #[arg(long)]
        app_role: String,
        #[arg(long)]
        apply: bool,
    },
    /// Key file commands.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy the database while the servers run (SQLite: VACUUM INTO; PostgreSQL: pg_dump of
    /// the connection's schema) to a new owner-only file, with PATH.manifest.json beside it:
    /// row counts, migrations, audit chain head, data-key versions needed. No key material.
    Backup {
        /// The backup file to write; refuses an existing one.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup (with its manifest) into an empty database, then check every table's
    /// rows against the manifest. Refuses a database that is not empty.
    Restore {
        /// The backup file; PATH.manifest.json must be beside it.
        #[arg(long)]
        from: PathBuf,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new key file (mode 0600) at the configured path; refuses to overwrite one.
    Init,
    /// Add a new data key to the key file, not yet active. Copy the file to every node (they
    /// read it on SIGHUP, or when they first meet a value sealed under it), then `rotate`.
    Add,
    /// Make the newest data key (from `add`) the active one and re-seal every stored value
    /// under it while the servers keep running. Copy the key file to every node again and
    /// send them SIGHUP, then run with `--reseal-only` to pick up what they sealed meanwhile.
    Rotate {
        /// Keep the keys as they are; only re-seal values not under the active key (also the
        /// way to finish a rotation whose new key came in through PCIS_KEYS).
        #[arg(long)]
        reseal_only: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the whole hash chain; names the first broken record.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PCIS_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        logs.init();
    } else {
        // A file, a pipe or journald: one JSON object a line, no colour codes, and the spans
        // the event is in (the request span carries the request id).
        logs.json().with_ansi(false).with_current_span(true).with_span_list(true).init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pcis: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pcis: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo { dir, listen } => {
            demo::run(&dir, &listen, cli.database, cli.config.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let listen = listen.unwrap_or_else(|| settings.listen.clone());
            let app = open(&settings).await?;
            if let Some(n) = settings.nightly.clone() {
                let at = n.time()?;
                tracing::info!(at = %n.at, "nightly job scheduled");
                tokio::spawn(nightly::schedule(app.clone(), n, at));
            }
            let web = pcis_web::WebConfig {
                secure_cookies: settings.secure_cookies,
                trusted_proxies: settings.trusted_proxies.clone(),
                metrics_token: settings.metrics_token.as_deref().map(pcis_web::MetricsToken::new),
            };
            let scheme = if settings.tls.is_some() { "https" } else { "http" };
            serve(app, &listen, web, settings.tls.as_ref(), |addr| {
                println!("PCIS listening on {scheme}://{addr}");
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Nightly { inbox, date } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let Some(inbox) = inbox.or_else(|| settings.nightly.as_ref().map(|n| n.inbox.clone())) else {
                bail!("no inbox: pass --inbox or set [nightly] inbox in the configuration");
            };
            let app = open(&settings).await?;
            let day = match date {
                Some(d) => d,
                None => app.today(),
            };
            match nightly::run_once(&app, &inbox, &day).await? {
                nightly::Outcome::Ran(detail) => println!("nightly {day}: done {detail}"),
                nightly::Outcome::NotOurs => {
                    println!("nightly {day}: already done, or running on another node");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let db = connect(settings.database_url()?).await?;
            db.migrate().await.context("migration failed")?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Grants { app_role, apply } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let db = connect(settings.database_url()?).await?;
            if apply {
                let n = pcis_store::grants::grant_app_role(&db, &app_role).await?;
                let app = open_current(&settings).await?;
                let detail = serde_json::json!({ "role": app_role, "statements": n });
                app.record_operation(AuditAction::DatabaseGrants, "", detail).await?;
                println!("{n} statements applied: {app_role} has the application's rights");
            } else {
                for s in pcis_store::grants::app_role_statements(&db, &app_role).await? {
                    println!("{s};");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => check_config::run(cli.config.as_deref(), cli.database, cli.keys).await,
        Command::Keys { command: KeysCommand::Init } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            if settings.key_file.exists() {
                bail!("{} exists; refusing to overwrite a key file", settings.key_file.display());
            }
            config::write_private(
                &settings.key_file,
                &serde_json::to_string_pretty(&config::KeyFile::generate())?,
            )?;
            println!(
                "key file written: {} (keep it safe: without it the audit chain cannot be verified)",
                settings.key_file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Gen {
            customers,
            out,
            seed,
            invalid_share,
            shared_contact_share,
            encoding,
            business_date,
        } => {
            let gb18030 = match encoding.to_ascii_lowercase().as_str() {
                "utf-8" | "utf8" => false,
                "gb18030" => true,
                other => bail!("--encoding must be utf-8 or gb18030, not {other}"),
            };
            for (name, share) in
                [("--invalid-share", invalid_share), ("--shared-contact-share", shared_contact_share)]
            {
                if !(0.0..=1.0).contains(&share) {
                    bail!("{name} must be between 0 and 1");
                }
            }
            let business_date = match business_date {
                Some(d) => time::Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]"))
                    .with_context(|| format!("--business-date {d} is not a YYYY-MM-DD date"))?,
                None => extract_gen::yesterday(),
            };
            let options = extract_gen::GenOptions {
                customers,
                out,
                seed,
                invalid_share,
                shared_contact_share,
                gb18030,
                business_date,
            };
            extract_gen::run(&options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { dir, rejects } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let app = open(&settings).await?;
            let ok = import_cli::run(&app, &dir, rejects).await?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Keys { command: KeysCommand::Add } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            if std::env::var_os("PCIS_KEYS").is_some() {
                bail!("the keys come from PCIS_KEYS: add the new data key in the secret store");
            }
            let mut file = config::KeyFile::read(&settings.key_file)?;
            let version = file.add_data_key();
            config::replace_private(&settings.key_file, &serde_json::to_string_pretty(&file)?)?;
            println!(
                "data key version {version} added to {} (active is still {}): copy the file to every node, \
                 reload them (SIGHUP), then run `pcis keys rotate`",
                settings.key_file.display(),
                file.active_data_key
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Rotate { reseal_only } } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            // Before the key file changes: a rotation without its database must not half-happen.
            settings.database_url()?;
            if !reseal_only {
                if std::env::var_os("PCIS_KEYS").is_some() {
                    bail!(
                        "the keys come from PCIS_KEYS: add the new data key and set active_data_key in the secret \
                         store, then run `pcis keys rotate --reseal-only`"
                    );
                }
                let mut file = config::KeyFile::read(&settings.key_file)?;
                let version = file.newest_data_key();
                if version == file.active_data_key {
                    bail!(
                        "no newer data key to activate: run `pcis keys add`, copy the key file to every node and \
                         reload them, then `pcis keys rotate`"
                    );
                }
                file.active_data_key = version;
                config::replace_private(&settings.key_file, &serde_json::to_string_pretty(&file)?)?;
                println!("data key version {version} active in {}", settings.key_file.display());
            }
            let app = open(&settings).await?;
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("re-sealing {bar:40} {pos}/{len} values ({eta})")
                    .expect("valid template"),
            );
            let report = app
                .reseal_all(|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
            bar.finish_and_clear();
            println!(
                "re-sealed {} of {} values under data key version {}; {} changed meanwhile (already under the new key or left for a rerun)",
                report.resealed,
                report.stale,
                app.keys.data.active_version(),
                report.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bootstrap {
            head_office_code,
            head_office_name,
            admin_username,
            admin_name,
            admin_staff_no,
        } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let app = open(&settings).await?;
            let root = pcis_service::bootstrap::SeedInstitution {
                code: head_office_code.clone(),
                name: head_office_name,
                parent_code: None,
                kind: "management",
            };
            app.seed_institutions(&[root]).await?;
            let input = pcis_domain::user::UserInput {
                username: admin_username.clone(),
                display_name: admin_name,
                staff_no: admin_staff_no,
                institution_code: head_office_code,
                roles: vec!["sys_admin".into()],
            };
            let password = app.provision_user(&input).await?;
            println!(
                "system administrator {admin_username}: one-time password {password} (must be changed at first login)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            // Recorded before the snapshot, so the backup holds the record of its own making.
            let app = open_current(&settings).await?;
            let file = out.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            app.record_operation(AuditAction::DatabaseBackup, "", serde_json::json!({ "file": file }))
                .await?;
            backup::backup(settings.database_url()?, &out).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { from } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            settings.database_url()?;
            backup::restore(&settings, &from).await
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let settings = Settings::load(cli.config.as_deref(), cli.database, cli.keys)?;
            let app = open(&settings).await?;
            let report = app.verify_audit(|_| {}).await?;
            match report.broken {
                None => {
                    println!("audit chain intact: {} records", report.records);
                    Ok(ExitCode::SUCCESS)
                }
                Some(ChainBreak::WrongKey) => {
                    eprintln!(
                        "audit chain NOT VERIFIED: the audit key given is not the one this log was written with \
                         (check --keys, PCIS_KEY_FILE or PCIS_KEYS); this says nothing about tampering"
                    );
                    Ok(ExitCode::from(3))
                }
                Some(b @ (ChainBreak::Altered { seq } | ChainBreak::Unlinked { seq })) => {
                    let what = if matches!(b, ChainBreak::Altered { .. }) {
                        "its content does not match its hash (altered)"
                    } else {
                        "it does not follow the previous record (deleted, inserted or reordered)"
                    };
                    eprintln!("audit chain BROKEN at record {seq}: {what}");
                    if !report.key_known && seq == 1 {
                        eprintln!(
                            "this log holds no check value of its key yet: if the first record fails, the key \
                             may be the wrong one"
                        );
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<Db> {
    Db::connect(url).await.with_context(|| format!("cannot open the database {}", config::redact(url)))
}

/// Connects, migrates (R-OPS-3) and loads the services.
pub(crate) async fn open(settings: &Settings) -> anyhow::Result<App> {
    let keys = settings.load_keys()?;
    let db = connect(settings.database_url()?).await?;
    db.migrate().await.context("migration failed")?;
    let app = App::new(db, settings.security.clone(), keys, Arc::new(SystemClock)).await?;
    Ok(app)
}

/// Connects and loads the services without migrating: for commands that must record what
/// they do on the schema as it is (a backup taken before an upgrade stays a pre-upgrade one).
async fn open_current(settings: &Settings) -> anyhow::Result<App> {
    let keys = settings.load_keys()?;
    let url = settings.database_url()?;
    let state = pcis_store::schema_check::schema_state(url)
        .await
        .with_context(|| format!("cannot open the database {}", config::redact(url)))?;
    if !state.is_current() {
        bail!(
            "the database's schema is not this version's (migrations pending {:?}, failed {:?}, changed {:?}, \
             unknown {:?}): use the binary that runs it, or run `pcis migrate` first",
            state.pending,
            state.failed,
            state.changed,
            state.unknown
        );
    }
    let db = connect(url).await?;
    Ok(App::new(db, settings.security.clone(), keys, Arc::new(SystemClock)).await?)
}

/// SIGHUP makes the node read its key file again (a key rotation, docs/OPERATIONS.md) and,
/// serving TLS, its certificate and key (a renewed certificate, without a restart).
fn reload_on_hangup(
    keys: Arc<pcis_service::key_ring::KeyRing>,
    tls: Option<(RustlsConfig, config::TlsSettings)>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match keys.reload() {
                Ok(active) => println!("data keys reloaded: version {active} active"),
                Err(e) => tracing::error!(error = %e, "cannot reload the data keys"),
            }
            if let Some((config, files)) = &tls {
                match config.reload_from_pem_file(&files.certificate, &files.key).await {
                    Ok(()) => println!("TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload the TLS certificate; the old one stays");
                    }
                }
            }
        }
    });
    Ok(())
}

/// rustls's one process-wide crypto provider (a second install changes nothing): ring, as
/// sqlx's TLS uses; aws-lc-rs (post-quantum key exchange) needs a C toolchain build we avoid.
pub(crate) fn install_tls_provider() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) async fn serve(
    app: App,
    listen: &str,
    web: pcis_web::WebConfig,
    tls: Option<&config::TlsSettings>,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // Plain HTTP leaves loopback only for a TLS-terminating proxy the configuration names.
    if tls.is_none() && !addr.ip().is_loopback() && (!web.secure_cookies || web.trusted_proxies.is_empty()) {
        bail!(
            "refusing plain HTTP on the non-loopback address {addr}: set [tls] certificate and key, or put a \
             TLS proxy in front, list its addresses in trusted_proxies and keep secure_cookies = true"
        );
    }
    if tls.is_some() && !web.secure_cookies {
        bail!("secure_cookies = false with [tls]: cookies sent over HTTPS must be Secure");
    }
    let tls = match tls {
        Some(files) => {
            install_tls_provider();
            let config =
                RustlsConfig::from_pem_file(&files.certificate, &files.key).await.with_context(|| {
                    format!(
                        "cannot load the TLS certificate {} and key {}",
                        files.certificate.display(),
                        files.key.display()
                    )
                })?;
            Some((config, files.clone()))
        }
        None => None,
    };
    reload_on_hangup(app.keys.data.clone(), tls.clone())?;
    let router = pcis_web::router(app, web);
    on_ready(addr);
    let service = |router: axum::Router| router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        None => {
            listener.set_nonblocking(true)?;
            axum::serve(tokio::net::TcpListener::from_std(listener)?, service(router))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        Some((config, _)) => {
            // Browsers remember to come back over HTTPS only (R-OPS-5).
            let router =
                router.layer(axum::middleware::map_response(|mut res: axum::response::Response| async {
                    res.headers_mut().insert(
                        axum::http::header::STRICT_TRANSPORT_SECURITY,
                        axum::http::HeaderValue::from_static("max-age=31536000"),
                    );
                    res
                }));
            let handle = axum_server::Handle::new();
            let stop = handle.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, config)?.handle(handle).serve(service(router)).await?;
        }
    }
    Ok(())
}
