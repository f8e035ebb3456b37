//! Settings from the config file, the environment and flags (flags win), and the key file.
//! Invariant: secrets (key material, database passwords) are never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
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
    pub security: SecurityConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite:pcis.db".into(),
            listen: "127.0.0.1:8080".into(),
            key_file: "pcis-keys.json".into(),
            secure_cookies: true,
            security: SecurityConfig::default(),
        }
    }
}

/// The key file's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// HMAC-SHA256 key of the audit chain, 32 bytes as hex.
    pub audit_hmac: String,
}

impl KeyFile {
    pub fn generate() -> KeyFile {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        KeyFile { audit_hmac: hex::encode(key) }
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
        if !(s.database_url.starts_with("sqlite:")
            || s.database_url.starts_with("postgres://")
            || s.database_url.starts_with("postgresql://"))
        {
            bail!("database URL must start with sqlite: or postgres://");
        }
        Ok(s)
    }

    /// Keys from `PCIS_AUDIT_HMAC_KEY` (hex) or the key file.
    pub fn load_keys(&self) -> anyhow::Result<Keys> {
        let hex_key = match std::env::var("PCIS_AUDIT_HMAC_KEY") {
            Ok(k) => k,
            Err(_) => {
                let text = std::fs::read_to_string(&self.key_file)
                    .with_context(|| format!("cannot read the key file {}", self.key_file.display()))?;
                let file: KeyFile = serde_json::from_str(&text)
                    .with_context(|| format!("invalid key file {}", self.key_file.display()))?;
                file.audit_hmac
            }
        };
        let key = hex::decode(hex_key.trim())
            .ok()
            .filter(|k| k.len() >= 32)
            .context("the audit key must be at least 32 bytes of hex")?;
        Ok(Keys { audit_hmac: Arc::from(key) })
    }

    /// The effective settings, secrets left out.
    pub fn describe(&self) -> String {
        format!(
            "database_url = {}\nlisten = {}\nkey_file = {}\nsecure_cookies = {}\nsecurity = {:?}",
            redact(&self.database_url),
            self.listen,
            self.key_file.display(),
            self.secure_cookies,
            self.security
        )
    }
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
