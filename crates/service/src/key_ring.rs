//! The data keys a running node holds, and how it learns a new version without a restart.
//!
//! A key rotation adds a version to the key file on every node before any value is sealed
//! under it (docs/OPERATIONS.md). A node that still meets a version it does not hold — its
//! file was updated but not yet reloaded, or not yet copied — reads its key source again
//! (also on SIGHUP); if the version is still missing, the request is answered "unavailable,
//! try again" rather than failing: nothing is wrong with the data.

use std::sync::{Arc, RwLock};

use pcis_domain::DomainError;
use pcis_domain::crypto::{CryptoError, DataKeys};

/// Where a node reads its data keys again: the key file.
pub type KeySource = Box<dyn Fn() -> Result<DataKeys, String> + Send + Sync>;

pub struct KeyRing {
    current: RwLock<Arc<DataKeys>>,
    source: Option<KeySource>,
}

impl KeyRing {
    /// Keys that never change while the process runs (tests, keys from the environment).
    pub fn fixed(keys: DataKeys) -> KeyRing {
        KeyRing { current: RwLock::new(Arc::new(keys)), source: None }
    }

    /// Keys read again from `source` on a reload.
    pub fn reloading(keys: DataKeys, source: KeySource) -> KeyRing {
        KeyRing { current: RwLock::new(Arc::new(keys)), source: Some(source) }
    }

    fn keys(&self) -> Arc<DataKeys> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn active_version(&self) -> u32 {
        self.keys().active_version()
    }

    pub fn seal(&self, field: &str, plaintext: &str) -> Vec<u8> {
        self.keys().seal(field, plaintext)
    }

    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        self.keys().blind_index(domain, value)
    }

    /// Opens a sealed value; a version this node does not hold makes it reload once.
    pub fn open(&self, field: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        match self.keys().open(field, sealed) {
            Err(CryptoError::UnknownKeyVersion(version)) if self.source.is_some() => {
                if let Err(e) = self.reload() {
                    tracing::error!(error = %e, "cannot reload the data keys");
                }
                let again = self.keys().open(field, sealed);
                if let Err(CryptoError::UnknownKeyVersion(_)) = again {
                    tracing::warn!(version, "a value is sealed under a data key this node does not hold yet");
                }
                again
            }
            other => other,
        }
    }

    /// Reads the key source again. The blind-index key may not change (every stored index
    /// was made with it): a source that changes it is refused and the keys stay as they were.
    pub fn reload(&self) -> Result<u32, String> {
        let Some(source) = &self.source else { return Ok(self.active_version()) };
        let fresh = source()?;
        let probe = ("key-ring", "blind index key unchanged");
        if fresh.blind_index(probe.0, probe.1) != self.blind_index(probe.0, probe.1) {
            return Err("the reloaded key file has another blind_index key; keys left as they were".into());
        }
        let active = fresh.active_version();
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        tracing::info!(active, "data keys reloaded");
        Ok(active)
    }
}

/// A sealed value that cannot be opened, as the services answer it: a key version this node
/// does not hold yet is a passing state of a rotation (try again), anything else internal.
pub(crate) fn unopenable(e: &CryptoError) -> DomainError {
    match e {
        CryptoError::UnknownKeyVersion(_) => DomainError::Unavailable("err.key_not_here"),
        _ => DomainError::Internal("sealed value".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn keys(active: u32, versions: &[u32], blind: u8) -> DataKeys {
        DataKeys::new(active, versions.iter().map(|v| (*v, [*v as u8; 32])).collect(), vec![blind; 32])
            .unwrap()
    }

    #[test]
    fn a_version_not_held_is_found_by_reloading() {
        let file = Arc::new(Mutex::new(keys(1, &[1], 9)));
        let source = file.clone();
        let ring = KeyRing::reloading(
            keys(1, &[1], 9),
            Box::new(move || {
                let k = source.lock().unwrap();
                Ok(keys(k.active_version(), &[1, 2][..k.active_version() as usize], 9))
            }),
        );
        let sealed = keys(2, &[1, 2], 9).seal("mobile", "13812345678");
        // The file does not hold version 2 yet: still unknown, and the caller answers "try again".
        let missing = ring.open("mobile", &sealed).unwrap_err();
        assert!(matches!(unopenable(&missing), DomainError::Unavailable(_)));
        *file.lock().unwrap() = keys(2, &[1, 2], 9);
        assert_eq!(ring.open("mobile", &sealed).unwrap(), "13812345678");
        assert_eq!(ring.active_version(), 2);
    }

    #[test]
    fn a_reload_never_changes_the_blind_index_key() {
        let ring = KeyRing::reloading(keys(1, &[1], 9), Box::new(|| Ok(keys(2, &[1, 2], 7))));
        assert!(ring.reload().is_err());
        assert_eq!(ring.active_version(), 1);
    }
}
