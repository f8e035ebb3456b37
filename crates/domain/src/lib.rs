//! PCIS domain: the words of SPEC §13 as types, the one policy module that decides every
//! permission, password rules and the audit chain. Nothing here does I/O, so all of it is
//! testable without a database or a clock.

pub mod audit;
pub mod audit_action;
pub mod code;
pub mod crypto;
pub mod customer;
pub mod error;
pub mod identity;
pub mod institution;
pub mod password;
pub mod policy;
pub mod proposal;
pub mod role;
pub mod suspect;
pub mod tier;
pub mod user;
pub mod workflow;

pub use error::{DomainError, DomainResult, FieldError, RowError};

/// China Standard Time: the bank's business dates and the times staff read are in it.
pub const CST: time::UtcOffset = time::macros::offset!(+8);
