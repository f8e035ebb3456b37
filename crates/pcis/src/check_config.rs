//! `pcis check-config`: checks every setting that can be checked from here — on its face, and
//! against the network, the database, the key file and the inbox — reports every problem
//! found (one a line: the setting, what is wrong, what to do), then prints the effective
//! settings as TOML. Invariants: no secret is printed (the database password is masked, key
//! material is never part of the output), and nothing is changed — no migration runs, no
//! database or file is created.

use std::net::ToSocketAddrs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use pcis_store::schema_check::{SchemaState, sqlite_file};

use crate::config::{Problem, Settings, redact};

/// How long the database may take to answer.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(
    file: Option<&Path>,
    database: Option<String>,
    keys: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::read(file, database, keys)?;
    let mut problems = settings.invalid();
    problems.extend(listen(&settings));
    problems.extend(database_problems(&settings).await);
    problems.extend(key_problems(&settings));
    problems.extend(inbox(&settings));
    problems.extend(tls_problems(&settings).await);

    if std::env::var_os("PCIS_KEYS").is_some() {
        println!("# keys come from PCIS_KEYS; key_file is not read");
    }
    print!("{}", settings.describe()?);
    if problems.is_empty() {
        println!("configuration OK");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("{p}");
    }
    let n = problems.len();
    eprintln!("pcis: {n} problem{} in the configuration", if n == 1 { "" } else { "s" });
    Ok(ExitCode::from(2))
}

/// `listen` is an address `pcis serve` can use (an IP or a host name, and a port), and
/// `serve` would not refuse it for plain HTTP off loopback.
fn listen(s: &Settings) -> Vec<Problem> {
    let addrs: Vec<_> = match s.listen.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => {
            return vec![Problem::new(
                "listen",
                format!(
                    "{:?} is not an address to listen on ({e}): give IP:PORT, e.g. 127.0.0.1:8080",
                    s.listen
                ),
            )];
        }
    };
    if s.tls.is_none()
        && addrs.iter().any(|a| !a.ip().is_loopback())
        && (!s.secure_cookies || s.trusted_proxies.is_empty())
    {
        return vec![Problem::new(
            "listen",
            format!(
                "{} is not a loopback address, where `pcis serve` refuses plain HTTP: set [tls], or put a TLS \
                 proxy in front, list its addresses in trusted_proxies and keep secure_cookies = true",
                s.listen
            ),
        )];
    }
    Vec::new()
}

/// The database answers and has exactly this binary's migrations; a SQLite file is the
/// service account's alone.
async fn database_problems(s: &Settings) -> Vec<Problem> {
    let url = &s.database_url;
    let problem = |what: String| vec![Problem::new("database_url", what)];
    if url.is_empty() {
        return problem(
            "not set: set database_url in the configuration, PCIS_DATABASE_URL or --database".into(),
        );
    }
    if s.invalid().iter().any(|p| p.setting == "database_url") {
        return Vec::new(); // already reported
    }
    let shown = redact(url);
    let mut problems = Vec::new();
    if url.starts_with("sqlite:") {
        match sqlite_file(url) {
            Err(e) => return problem(format!("{shown} is not a SQLite URL: {}", scrub(&e.to_string(), url))),
            Ok(None) => {
                return problem(format!(
                    "{shown} is an in-memory database, which keeps nothing: name a file"
                ));
            }
            Ok(Some(path)) => match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return problem(format!(
                        "the SQLite database {} does not exist: run `pcis migrate` to create it, or correct the path",
                        path.display()
                    ));
                }
                Err(e) => {
                    return problem(format!("cannot reach the SQLite database {}: {e}", path.display()));
                }
                Ok(meta) => {
                    let mode = meta.permissions().mode() & 0o777;
                    if mode != 0o600 {
                        problems.push(Problem::new(
                            "database_url",
                            format!(
                                "the SQLite database {} has mode {mode:04o}, not 0600 (it holds sealed personal \
                                 data and the audit trail): run chmod 600 {0} as the service account that owns it",
                                path.display()
                            ),
                        ));
                    }
                }
            },
        }
    }
    match tokio::time::timeout(DATABASE_TIMEOUT, pcis_store::schema_check::schema_state(url)).await {
        Err(_) => problems.push(Problem::new(
            "database_url",
            format!(
                "{shown} did not answer within {} seconds: check the host, the port and the firewall",
                DATABASE_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) => problems.push(Problem::new(
            "database_url",
            format!(
                "cannot use {shown}: {}: check the host, port, user, password and that the server runs",
                scrub(&e.to_string(), url)
            ),
        )),
        Ok(Ok(state)) => problems.extend(schema_problems(&shown, &state)),
    }
    problems
}

fn schema_problems(shown: &str, state: &SchemaState) -> Vec<Problem> {
    let list = |versions: &[i64]| versions.iter().map(|v| format!("{v:04}")).collect::<Vec<_>>().join(", ");
    let mut problems = Vec::new();
    let mut push = |what: String| problems.push(Problem::new("database_url", what));
    if !state.pending.is_empty() {
        push(format!(
            "the database {shown} is not fully migrated ({} of this version's migrations not applied: {}): \
             run `pcis migrate` (on PostgreSQL as the schema's owner, then `pcis grants`)",
            state.pending.len(),
            list(&state.pending)
        ));
    }
    if !state.failed.is_empty() {
        push(format!(
            "migration {} on {shown} started and did not finish: restore the database from its backup and \
             run `pcis migrate` again",
            list(&state.failed)
        ));
    }
    if !state.changed.is_empty() {
        push(format!(
            "migration {} on {shown} was applied with a text this version of pcis does not have: run the pcis \
             version that migrated this database",
            list(&state.changed)
        ));
    }
    if !state.unknown.is_empty() {
        push(format!(
            "the database {shown} has migrations this version of pcis does not know ({}): a newer pcis migrated \
             it; run that version",
            list(&state.unknown)
        ));
    }
    problems
}

/// A message with the database URL in it masked, should a driver echo it.
fn scrub(message: &str, url: &str) -> String {
    message.replace(url, &redact(url))
}

/// The keys load; the key file (unless the keys come from `PCIS_KEYS`) exists and is its
/// owner's alone.
fn key_problems(s: &Settings) -> Vec<Problem> {
    let from_env = std::env::var_os("PCIS_KEYS").is_some();
    let setting = if from_env { "PCIS_KEYS" } else { "key_file" };
    let mut problems = Vec::new();
    if !from_env {
        let path = &s.key_file;
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return vec![Problem::new(
                    setting,
                    format!(
                        "{} does not exist: point key_file, --keys or PCIS_KEY_FILE at the key file, or create \
                         one with `pcis keys init` (a new key file cannot read data sealed with another)",
                        path.display()
                    ),
                )];
            }
            Err(e) => return vec![Problem::new(setting, format!("cannot reach {}: {e}", path.display()))],
            Ok(meta) if !meta.is_file() => {
                return vec![Problem::new(setting, format!("{} is not a file", path.display()))];
            }
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    problems.push(Problem::new(
                        setting,
                        format!(
                            "{0} is readable by others than its owner (mode {mode:04o}): run chmod 600 {0} and make \
                             the service account its owner",
                            path.display()
                        ),
                    ));
                }
            }
        }
    }
    if let Err(e) = s.load_keys() {
        problems.push(Problem::new(setting, format!("{e:#}")));
    }
    problems
}

/// `[tls]`: the certificate and key load (as `serve` loads them), and the key is its owner's alone.
async fn tls_problems(s: &Settings) -> Vec<Problem> {
    let Some(tls) = &s.tls else { return Vec::new() };
    let mut problems = Vec::new();
    if !s.secure_cookies {
        problems.push(Problem::new(
            "secure_cookies",
            "must be true with [tls]: cookies sent over HTTPS are Secure",
        ));
    }
    if let Ok(meta) = std::fs::metadata(&tls.key)
        && meta.permissions().mode() & 0o077 != 0
    {
        problems.push(Problem::new(
            "tls.key",
            format!("{0} is readable by others than its owner: run chmod 600 {0}", tls.key.display()),
        ));
    }
    crate::install_tls_provider();
    if let Err(e) = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.certificate, &tls.key).await {
        problems.push(Problem::new(
            "tls",
            format!(
                "cannot load the certificate {} and key {} ({e}): give PEM files, the chain first",
                tls.certificate.display(),
                tls.key.display()
            ),
        ));
    }
    problems
}

/// `[nightly] inbox` is a directory this user can read.
fn inbox(s: &Settings) -> Vec<Problem> {
    let Some(nightly) = &s.nightly else { return Vec::new() };
    let path = &nightly.inbox;
    let what = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!(
            "{} does not exist: create it (the core system drops one folder per business day there) or correct \
             the path",
            path.display()
        ),
        Err(e) => format!("cannot reach {}: {e}", path.display()),
        Ok(meta) if !meta.is_dir() => format!("{} is not a directory", path.display()),
        Ok(_) => match std::fs::read_dir(path) {
            Ok(_) => return Vec::new(),
            Err(e) => {
                format!("{} cannot be read ({e}): give the service account read access", path.display())
            }
        },
    };
    vec![Problem::new("nightly.inbox", what)]
}
