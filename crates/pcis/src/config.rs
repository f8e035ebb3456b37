//! Settings from the config file, the environment and flags (flags win), and the key file.
//! Invariant: secrets (key material, database passwords) are never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use pcis_domain::crypto::DataKeys;
use pcis_service::{Keys, SecurityConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
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

    /// The keys the services use; every key must be 32 bytes of hex.
    pub fn into_keys(self) -> anyhow::Result<Keys> {
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
        Ok(Keys { audit_hmac: Arc::from(audit), data: Arc::new(data) })
    }
}

impl Settings {
    pub fn load(
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
        s.security.validate().map_err(|e| anyhow::anyhow!("invalid security setting: {e}"))?;
        if let Some(n) = &s.nightly {
            n.time()?;
        }
        if !(s.database_url.is_empty()
            || s.database_url.starts_with("sqlite:")
            || s.database_url.starts_with("postgres://")
            || s.database_url.starts_with("postgresql://"))
        {
            bail!("database URL must start with sqlite: or postgres://");
        }
        Ok(s)
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
        let (text, source) = match std::env::var("PCIS_KEYS") {
            Ok(json) => (json, "PCIS_KEYS".to_owned()),
            Err(_) => {
                let text = std::fs::read_to_string(&self.key_file)
                    .with_context(|| format!("cannot read the key file {}", self.key_file.display()))?;
                (text, self.key_file.display().to_string())
            }
        };
        let file: KeyFile =
            serde_json::from_str(&text).with_context(|| format!("invalid keys in {source}"))?;
        file.into_keys().with_context(|| format!("invalid keys in {source}"))
    }

    /// The effective settings, secrets left out.
    pub fn describe(&self) -> String {
        format!(
            "database_url = {}\nlisten = {}\nkey_file = {}\nsecure_cookies = {}\nsecurity = {:?}\nnightly = {:?}",
            redact(&self.database_url),
            self.listen,
            self.key_file.display(),
            self.secure_cookies,
            self.security,
            self.nightly
        )
    }
}

impl KeyFile {
    /// Adds a fresh data key one version above the highest and makes it the active one;
    /// older versions stay so existing values remain readable. Returns the new version.
    pub fn add_data_key(&mut self) -> u32 {
        let version = self.data_keys.keys().max().map_or(1, |v| v + 1);
        self.data_keys.insert(version, random_hex());
        self.active_data_key = version;
        version
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

/// A database URL with any password replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
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
    }

    #[test]
    fn config_file_is_strict() {
        let s: Settings =
            toml::from_str("listen = \"0.0.0.0:80\"\n[security]\nlockout_failures = 3\n").unwrap();
        assert_eq!(s.security.lockout_failures, 3);
        assert!(toml::from_str::<Settings>("lisen = \"x\"").is_err());
    }
}
