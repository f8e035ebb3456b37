//! Settings from the config file, the environment and flags (flags win), and the key file.
//! Invariant: secrets (key material, database passwords) are never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use pcis_domain::crypto::DataKeys;
use pcis_service::key_ring::KeyRing;
use pcis_service::{Keys, SecurityConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    pub key_file: PathBuf,
    /// `Secure` cookies; false only for plain HTTP on loopback.
    pub secure_cookies: bool,
    /// The reverse proxies in front (their addresses): their `X-Forwarded-For` names the
    /// client the audit log records. Plain HTTP on a non-loopback address needs them.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub security: SecurityConfig,
    /// The nightly job (R-OPS-4); none when absent.
    pub nightly: Option<crate::nightly::NightlySettings>,
    /// The bearer token a Prometheus scraper presents at `/metrics` (or `PCIS_METRICS_TOKEN`);
    /// without one `/metrics` is not served.
    pub metrics_token: Option<String>,
    /// HTTPS served by the binary itself (R-OPS-5); none: plain HTTP behind a proxy.
    pub tls: Option<TlsSettings>,
}

/// `[tls]`: the server's certificate chain and private key, PEM files (read again on SIGHUP).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // None by default: a command that touches data names its database.
            database_url: String::new(),
            listen: "127.0.0.1:8080".into(),
            key_file: "pcis-keys.json".into(),
            secure_cookies: true,
            trusted_proxies: Vec::new(),
            security: SecurityConfig::default(),
            nightly: None,
            metrics_token: None,
            tls: None,
        }
    }
}

/// The key file's content (JSON). Keys never live in the database; losing this file means
/// the audit chain can no longer be verified and sealed values can no longer be opened.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// HMAC-SHA256 key of the audit chain, 32 bytes as hex.
    pub audit_hmac: String,
    /// AES-256-GCM data keys by version, 32 bytes each as hex.
    pub data_keys: BTreeMap<u32, String>,
    /// The version new values are sealed with.
    pub active_data_key: u32,
    /// HMAC-SHA256 key of the blind indexes, 32 bytes as hex.
    pub blind_index: String,
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    hex::encode(key)
}

impl KeyFile {
    pub fn generate() -> KeyFile {
        KeyFile {
            audit_hmac: random_hex(),
            data_keys: BTreeMap::from([(1, random_hex())]),
            active_data_key: 1,
            blind_index: random_hex(),
        }
    }

    /// The key file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<KeyFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid keys in {}", path.display()))
    }

    /// The audit key and the data keys; every key must be 32 bytes of hex.
    pub fn into_keys(self) -> anyhow::Result<([u8; 32], DataKeys)> {
        let bytes = |name: &str, hex_key: &str| -> anyhow::Result<[u8; 32]> {
            hex::decode(hex_key.trim())
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .with_context(|| format!("key {name} must be 32 bytes of hex"))
        };
        let audit = bytes("audit_hmac", &self.audit_hmac)?;
        let data = self
            .data_keys
            .iter()
            .map(|(v, k)| Ok((*v, bytes(&format!("data_keys.{v}"), k)?)))
            .collect::<anyhow::Result<BTreeMap<u32, [u8; 32]>>>()?;
        let blind = bytes("blind_index", &self.blind_index)?;
        let data =
            DataKeys::new(self.active_data_key, data, blind.to_vec()).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((audit, data))
    }
}

/// A setting that is wrong: which one, what is wrong and what to do.
#[derive(Debug)]
pub struct Problem {
    pub setting: &'static str,
    pub what: String,
}

impl Problem {
    pub fn new(setting: &'static str, what: impl Into<String>) -> Problem {
        Problem { setting, what: what.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.what)
    }
}

impl Settings {
    /// The settings, refused when any of them is invalid ([`Settings::invalid`]).
    pub fn load(
        file: Option<&Path>,
        database: Option<String>,
        keys: Option<PathBuf>,
    ) -> anyhow::Result<Settings> {
        let s = Settings::read(file, database, keys)?;
        let problems = s.invalid();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; "));
        }
        Ok(s)
    }

    /// The file's settings with the flags' over them, not validated beyond their types.
    pub fn read(
        file: Option<&Path>,
        database: Option<String>,
        keys: Option<PathBuf>,
    ) -> anyhow::Result<Settings> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid configuration in {}", path.display()))?
            }
            None => Settings::default(),
        };
        if let Some(url) = database {
            s.database_url = url;
        }
        if let Some(k) = keys {
            s.key_file = k;
        }
        if let Ok(token) = std::env::var("PCIS_METRICS_TOKEN") {
            s.metrics_token = Some(token);
        }
        Ok(s)
    }

    /// Every setting that is invalid on its face (every command refuses these; `check-config`
    /// also asks the database, the files and the network).
    pub fn invalid(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> =
            self.security.problems().into_iter().map(|p| Problem::new("security", p)).collect();
        if let Some(n) = &self.nightly
            && n.time().is_err()
        {
            problems.push(Problem::new("nightly.at", format!("must be HH:MM (China time), not {:?}", n.at)));
        }
        let url = &self.database_url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            problems.push(Problem::new("database_url", "must start with sqlite: or postgres://"));
        }
        if let Some(t) = &self.metrics_token
            && (t.len() < 32 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            problems.push(Problem::new(
                "metrics_token",
                "must be at least 32 printable ASCII characters without spaces (e.g. `openssl rand -hex 32`)",
            ));
        }
        problems
    }

    /// The database of a command that touches data: never made up (a `pcis.db` appearing in
    /// whatever directory a command ran in would hide a mistyped setting).
    pub fn database_url(&self) -> anyhow::Result<&str> {
        if self.database_url.is_empty() {
            bail!(
                "no database: pass --database, set PCIS_DATABASE_URL, or set database_url in the configuration"
            );
        }
        Ok(&self.database_url)
    }

    /// Keys from `PCIS_KEYS` (the key file's JSON, for deployments that inject secrets by
    /// environment) or else from the key file.
    pub fn load_keys(&self) -> anyhow::Result<Keys> {
        if let Ok(json) = std::env::var("PCIS_KEYS") {
            let file: KeyFile = serde_json::from_str(&json).context("invalid keys in PCIS_KEYS")?;
            let (audit, data) = file.into_keys().context("invalid keys in PCIS_KEYS")?;
            return Ok(Keys { audit_hmac: Arc::from(audit), data: Arc::new(KeyRing::fixed(data)) });
        }
        let path = self.key_file.clone();
        let read = move || -> anyhow::Result<([u8; 32], DataKeys)> {
            KeyFile::read(&path)?.into_keys().with_context(|| format!("invalid keys in {}", path.display()))
        };
        let (audit, data) = read()?;
        // A node reads its data keys again when it meets a version it does not hold, or on
        // SIGHUP (a key rotation, docs/OPERATIONS.md); the audit key never changes.
        let source = Box::new(move || read().map(|(_, data)| data).map_err(|e| format!("{e:#}")));
        Ok(Keys { audit_hmac: Arc::from(audit), data: Arc::new(KeyRing::reloading(data, source)) })
    }

    /// The effective settings in the configuration's own format (TOML), secrets left out:
    /// the database password is masked; key material is never part of the settings.
    pub fn describe(&self) -> anyhow::Result<String> {
        let shown = Settings {
            database_url: redact(&self.database_url),
            metrics_token: self.metrics_token.as_ref().map(|_| "***".to_owned()),
            ..self.clone()
        };
        toml::to_string(&shown).context("cannot write the settings as TOML")
    }
}

impl KeyFile {
    /// Adds a fresh data key one version above the highest, not yet active: every node must
    /// hold it before any value is sealed under it. Returns the new version.
    pub fn add_data_key(&mut self) -> u32 {
        let version = self.newest_data_key() + 1;
        self.data_keys.insert(version, random_hex());
        version
    }

    pub fn newest_data_key(&self) -> u32 {
        self.data_keys.keys().max().copied().unwrap_or(0)
    }
}

/// Replaces a private file atomically: written beside it, then renamed over it, so a crash
/// leaves the old file or the new one, never half of one.
pub fn replace_private(path: &Path, content: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    write_private(&tmp, content)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Writes a file only its owner can read (keys, one-time passwords).
pub fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

/// A database URL with any password replaced: the one before `@` and a `password=` parameter.
pub fn redact(url: &str) -> String {
    let url = match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/pcis"), "postgres://app:***@db:5432/pcis");
        assert_eq!(redact("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(redact("sqlite:pcis.db"), "sqlite:pcis.db");
        assert_eq!(
            redact("postgres://app@db/pcis?sslmode=require&password=s3cret"),
            "postgres://app@db/pcis?sslmode=require&password=***"
        );
    }

    #[test]
    fn config_file_is_strict() {
        let s: Settings =
            toml::from_str("listen = \"0.0.0.0:80\"\n[security]\nlockout_failures = 3\n").unwrap();
        assert_eq!(s.security.lockout_failures, 3);
        assert!(toml::from_str::<Settings>("lisen = \"x\"").is_err());
    }

    #[test]
    fn settings_are_described_as_toml_that_reads_back_without_the_password() {
        let text = "database_url = \"postgres://app:s3cret@db/pcis\"\ntrusted_proxies = [\"10.0.0.1\"]\n\
                    [security]\nlockout_failures = 3\n[nightly]\nat = \"02:30\"\ninbox = \"/srv/inbox\"\n";
        let shown = toml::from_str::<Settings>(text).unwrap().describe().unwrap();
        assert!(!shown.contains("s3cret"), "{shown}");
        let back: Settings = toml::from_str(&shown).unwrap();
        assert_eq!(back.database_url, "postgres://app:***@db/pcis");
        assert_eq!(back.security.lockout_failures, 3);
        assert_eq!(back.trusted_proxies, ["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
        assert_eq!(back.nightly.unwrap().inbox, Path::new("/srv/inbox"));
    }

    #[test]
    fn every_invalid_setting_is_named() {
        let text = "database_url = \"mysql://x\"\n[security]\nlockout_failures = 0\nsession_idle_minutes = 120\n\
                    [nightly]\nat = \"25:00\"\ninbox = \"/srv/inbox\"\n";
        let problems: Vec<String> =
            toml::from_str::<Settings>(text).unwrap().invalid().iter().map(Problem::to_string).collect();
        assert_eq!(problems.len(), 4, "{problems:?}");
        for name in ["lockout_failures", "session_idle_minutes", "nightly.at", "database_url"] {
            assert!(problems.iter().any(|p| p.contains(name)), "{name}: {problems:?}");
        }
    }

    #[test]
    fn the_metrics_token_is_never_shown_and_a_weak_one_is_refused() {
        let token = "0123456789abcdef0123456789abcdef";
        let s: Settings = toml::from_str(&format!("metrics_token = \"{token}\"\n")).unwrap();
        assert!(s.invalid().is_empty());
        let shown = s.describe().unwrap();
        assert!(!shown.contains(token) && shown.contains("metrics_token = \"***\""), "{shown}");
        for weak in ["short", "0123456789abcdef 0123456789abcdef"] {
            let s: Settings = toml::from_str(&format!("metrics_token = \"{weak}\"\n")).unwrap();
            assert!(s.invalid().iter().any(|p| p.setting == "metrics_token"), "{weak}");
        }
    }
}
