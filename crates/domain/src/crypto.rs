//! Encryption at rest and blind indexes (R-PRV-3). C2/C3 values are sealed with AES-256-GCM
//! under a versioned data key; exact search goes through an HMAC-SHA256 blind index under a
//! key of its own. Keys come from the key file or the environment, never from the database.
//! Invariants: no key material in `Debug`; a sealed value is bound to its field (the field name
//! is the associated data), so a ciphertext moved to another column does not open; every
//! sealed value names its key version, so old rows stay readable while a rotation re-seals them.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("no data key with version {0}")]
    UnknownKeyVersion(u32),
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open (wrong key, wrong field or altered)")]
    Unauthentic,
    #[error("invalid key material: {0}")]
    BadKey(&'static str),
}

/// The data keys (by version, one active for new seals) and the blind-index key.
pub struct DataKeys {
    active: u32,
    keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
    blind: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys").field("active", &self.active).field("versions", &self.keys.keys()).finish()
    }
}

impl DataKeys {
    /// `keys` maps versions to 32-byte keys; `active` must be one of them; the blind-index
    /// key must have at least 32 bytes and differ from every data key.
    pub fn new(active: u32, keys: BTreeMap<u32, [u8; 32]>, blind: Vec<u8>) -> Result<DataKeys, CryptoError> {
        if !keys.contains_key(&active) {
            return Err(CryptoError::BadKey("the active version has no key"));
        }
        if blind.len() < 32 {
            return Err(CryptoError::BadKey("the blind-index key needs at least 32 bytes"));
        }
        if keys.values().any(|k| k.as_slice() == blind.as_slice()) {
            return Err(CryptoError::BadKey("the blind-index key must differ from the data keys"));
        }
        let keys = keys.into_iter().map(|(v, k)| (v, Zeroizing::new(k))).collect();
        Ok(DataKeys { active, keys, blind: Zeroizing::new(blind) })
    }

    pub fn active_version(&self) -> u32 {
        self.active
    }

    /// Seals a value of `field` under the active key: version (4 bytes, big-endian) ‖ nonce ‖
    /// ciphertext with tag. The nonce is random, so equal values seal differently.
    pub fn seal(&self, field: &str, plaintext: &str) -> Vec<u8> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.keys[&self.active].as_slice()));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: field.as_bytes() })
            .expect("AES-GCM encryption of an in-memory value cannot fail");
        let mut out = Vec::with_capacity(4 + NONCE_LEN + sealed.len());
        out.extend_from_slice(&self.active.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for `field` under any known key version.
    pub fn open(&self, field: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        let version = key_version(sealed).ok_or(CryptoError::Malformed)?;
        let key = self.keys.get(&version).ok_or(CryptoError::UnknownKeyVersion(version))?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice()));
        let nonce = Nonce::from_slice(&sealed[4..4 + NONCE_LEN]);
        let plain = cipher
            .decrypt(nonce, Payload { msg: &sealed[4 + NONCE_LEN..], aad: field.as_bytes() })
            .map_err(|_| CryptoError::Unauthentic)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    /// The blind index of a normalized value of `field`: HMAC-SHA256 under the blind-index
    /// key, with the field name in front so equal values of different fields do not match.
    pub fn blind_index(&self, field: &str, normalized: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.blind).expect("HMAC takes keys of any length");
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(normalized.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The key version a sealed value names (to find rows still under an old key).
pub fn key_version(sealed: &[u8]) -> Option<u32> {
    if sealed.len() < 4 + NONCE_LEN + 16 {
        return None;
    }
    Some(u32::from_be_bytes(sealed[..4].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(active: u32) -> DataKeys {
        let map = BTreeMap::from([(1, [1u8; 32]), (2, [2u8; 32])]);
        DataKeys::new(active, map, vec![9u8; 32]).unwrap()
    }

    #[test]
    fn seal_and_open_round_trip_without_plaintext() {
        let k = keys(1);
        let sealed = k.seal("customer.mobile", "13800138000");
        assert!(!sealed.windows(11).any(|w| w == b"13800138000"));
        assert_ne!(sealed, k.seal("customer.mobile", "13800138000"), "random nonces");
        assert_eq!(k.open("customer.mobile", &sealed).unwrap(), "13800138000");
        assert_eq!(key_version(&sealed), Some(1));
    }

    #[test]
    fn a_value_opens_only_for_its_field_and_unaltered() {
        let k = keys(1);
        let mut sealed = k.seal("customer.mobile", "13800138000");
        assert_eq!(k.open("customer.phone", &sealed), Err(CryptoError::Unauthentic));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(k.open("customer.mobile", &sealed), Err(CryptoError::Unauthentic));
        assert_eq!(k.open("customer.mobile", b"short"), Err(CryptoError::Malformed));
    }

    #[test]
    fn old_versions_stay_readable_after_rotation() {
        let old = keys(1).seal("customer.id_number", "11010519491231002X");
        let rotated = keys(2);
        assert_eq!(rotated.open("customer.id_number", &old).unwrap(), "11010519491231002X");
        assert_eq!(key_version(&rotated.seal("customer.id_number", "x")), Some(2));
        let retired = DataKeys::new(2, BTreeMap::from([(2, [2u8; 32])]), vec![9u8; 32]).unwrap();
        assert_eq!(retired.open("customer.id_number", &old), Err(CryptoError::UnknownKeyVersion(1)));
    }

    #[test]
    fn blind_indexes_match_equal_values_of_one_field_only() {
        let k = keys(1);
        assert_eq!(
            k.blind_index("customer.mobile", "13800138000"),
            k.blind_index("customer.mobile", "13800138000")
        );
        assert_ne!(
            k.blind_index("customer.mobile", "13800138000"),
            k.blind_index("customer.phone", "13800138000")
        );
        let other = DataKeys::new(1, BTreeMap::from([(1, [1u8; 32])]), vec![8u8; 32]).unwrap();
        assert_ne!(
            k.blind_index("customer.mobile", "13800138000"),
            other.blind_index("customer.mobile", "13800138000")
        );
    }

    #[test]
    fn bad_key_sets_are_refused_and_never_printed() {
        assert!(DataKeys::new(3, BTreeMap::from([(1, [1u8; 32])]), vec![9u8; 32]).is_err());
        assert!(DataKeys::new(1, BTreeMap::from([(1, [1u8; 32])]), vec![9u8; 16]).is_err());
        assert!(DataKeys::new(1, BTreeMap::from([(1, [9u8; 32])]), vec![9u8; 32]).is_err());
        let shown = format!("{:?}", keys(1));
        assert!(!shown.contains("1, 1, 1") && !shown.contains("9, 9"), "{shown}");
    }
}
