//! The audit trail (R-AUD-1, R-AUD-2). Each record is chained to the previous one by
//! HMAC-SHA256 under a key that never lives in the database: whoever edits, deletes or
//! reorders a row without the key breaks the chain at that row, and `pcis audit verify`
//! names it. Invariant: no plaintext personal data goes into a record; callers pass masked
//! values only.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use time::OffsetDateTime;

crate::coded! {
    pub enum Outcome {
        Success,
        Denied,
        Failed,
    }
}

/// Who did it and from where.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AuditWho {
    pub user_id: Option<i64>,
    pub username: String,
    pub roles: String,
    pub institution_id: Option<i64>,
    pub ip: String,
    pub user_agent: String,
}

/// What is recorded; `detail` is a short JSON text with masked values only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub who: AuditWho,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub detail: String,
    pub reason: String,
    pub outcome: Outcome,
}

/// A stored record: the entry plus its place in the chain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub entry: AuditEntry,
    #[serde(skip)]
    pub prev_hash: String,
    #[serde(skip)]
    pub hash: String,
}

/// The chain's anchor before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The keyed hash of a record: every field, length-prefixed so no two records encode alike.
pub fn chain_hash(key: &[u8], prev_hash: &str, seq: i64, at: OffsetDateTime, e: &AuditEntry) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    let at_micros = (at.unix_timestamp_nanos() / 1000).to_string();
    let user_id = e.who.user_id.map(|v| v.to_string()).unwrap_or_default();
    let inst_id = e.who.institution_id.map(|v| v.to_string()).unwrap_or_default();
    let fields: [&str; 15] = [
        prev_hash,
        &seq.to_string(),
        &at_micros,
        &user_id,
        &e.who.username,
        &e.who.roles,
        &inst_id,
        &e.who.ip,
        &e.who.user_agent,
        &e.action,
        &e.target_type,
        &e.target_id,
        &e.detail,
        &e.reason,
        e.outcome.code(),
    ];
    for f in fields {
        mac.update(&(f.len() as u64).to_be_bytes());
        mac.update(f.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Why verification stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The record's hash does not match its content (edited).
    Altered { seq: i64 },
    /// The record does not follow the one before it (deleted, inserted or reordered).
    Unlinked { seq: i64 },
    /// The key is not the one the chain was written with: nothing is known of tampering.
    WrongKey,
}

/// The check value of an audit key, stored with the chain: a wrong key is told from a
/// tampered chain without revealing anything of the key.
pub fn key_check(key: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(b"PCIS audit key check");
    hex::encode(mac.finalize().into_bytes())
}

/// Checks records in order, continuing from `prev` (the previous record's seq and hash).
pub fn verify_chain<'a>(
    key: &[u8],
    prev: &mut (i64, String),
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<(), ChainBreak> {
    for r in records {
        if r.seq != prev.0 + 1 || r.prev_hash != prev.1 {
            return Err(ChainBreak::Unlinked { seq: r.seq });
        }
        if chain_hash(key, &r.prev_hash, r.seq, r.at, &r.entry) != r.hash {
            return Err(ChainBreak::Altered { seq: r.seq });
        }
        *prev = (r.seq, r.hash.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(key: &[u8], n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    who: AuditWho { username: format!("u{seq}"), ..Default::default() },
                    action: "session.login".into(),
                    target_type: String::new(),
                    target_id: String::new(),
                    detail: "{}".into(),
                    reason: String::new(),
                    outcome: Outcome::Success,
                };
                let at = OffsetDateTime::from_unix_timestamp(1_700_000_000 + seq).unwrap();
                let hash = chain_hash(key, &prev, seq, at, &entry);
                let r = AuditRecord { seq, at, entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let records = chain(b"k", 5);
        assert_eq!(verify_chain(b"k", &mut (0, GENESIS.into()), &records), Ok(()));
        assert!(verify_chain(b"other key", &mut (0, GENESIS.into()), &records).is_err());
    }

    #[test]
    fn edits_and_deletions_are_named() {
        let mut records = chain(b"k", 5);
        records[2].entry.outcome = Outcome::Denied;
        assert_eq!(
            verify_chain(b"k", &mut (0, GENESIS.into()), &records),
            Err(ChainBreak::Altered { seq: 3 })
        );
        let mut records = chain(b"k", 5);
        records.remove(1);
        assert_eq!(
            verify_chain(b"k", &mut (0, GENESIS.into()), &records),
            Err(ChainBreak::Unlinked { seq: 3 })
        );
    }
}
