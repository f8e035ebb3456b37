//! Passwords (R-AUTH-1): the composition rule, Argon2id hashing and one-time passwords.
//! Invariant: a plaintext password is never stored, logged or returned except the one-time
//! password handed once to the administrator who set it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Configurable password rules; the defaults are the bank's minimum.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// How many previous passwords may not be reused.
    pub history: usize,
    pub max_age_days: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8, history: 5, max_age_days: 90 }
    }
}

impl PasswordPolicy {
    /// Checks composition only; reuse is checked against the stored history by the caller.
    pub fn check(&self, password: &str, field: &'static str) -> Result<(), FieldError> {
        if password.chars().count() < self.min_length.max(8) {
            return Err(FieldError::new(field, "err.password_too_short"));
        }
        let letters = password.chars().any(|c| c.is_ascii_alphabetic());
        let digits = password.chars().any(|c| c.is_ascii_digit());
        if !(letters && digits) {
            return Err(FieldError::new(field, "err.password_letters_digits"));
        }
        if password.chars().count() > 128 {
            return Err(FieldError::new(field, "err.password_too_long"));
        }
        Ok(())
    }
}

/// Argon2id with the crate's recommended parameters (19 MiB, 2 passes).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// False for a wrong password and for a malformed stored hash alike.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Spends the same time as a real verification, so a login for an unknown user name cannot
/// be told apart by its timing (R-AUTH-2).
pub fn verify_against_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("dummy-password-1"));
    let _ = verify(password, dummy);
}

/// A one-time initial password: 12 characters from an alphabet without look-alikes,
/// always with letters and digits.
pub fn generate_one_time() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = OsRng;
    loop {
        let s: String = (0..12)
            .map(|_| {
                let pool = if rng.gen_bool(0.3) { DIGITS } else { LETTERS };
                pool[rng.gen_range(0..pool.len())] as char
            })
            .collect();
        if PasswordPolicy::default().check(&s, "password").is_ok() {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_rules() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("abc123", "f").unwrap_err().rule, "err.password_too_short");
        assert_eq!(p.check("abcdefghij", "f").unwrap_err().rule, "err.password_letters_digits");
        assert_eq!(p.check("1234567890", "f").unwrap_err().rule, "err.password_letters_digits");
        assert!(p.check("abcd1234", "f").is_ok());
        let strict = PasswordPolicy { min_length: 12, ..Default::default() };
        assert!(strict.check("abcd1234", "f").is_err());
    }

    #[test]
    fn hash_verifies_only_its_password() {
        let h = hash("Secret123");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Secret123", &h));
        assert!(!verify("Secret124", &h));
        assert!(!verify("Secret123", "not a hash"));
    }

    #[test]
    fn one_time_passwords_pass_the_policy() {
        for _ in 0..50 {
            assert!(PasswordPolicy::default().check(&generate_one_time(), "p").is_ok());
        }
    }
}
