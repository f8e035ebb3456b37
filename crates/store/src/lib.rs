//! PCIS storage. One implementation serves SQLite (embedded default) and PostgreSQL
//! (production): queries are written once in the SQL both accept, with `$n` placeholders,
//! and [`on_tx!`] runs the same code against whichever connection the transaction holds.
//! Only what truly differs (bulk paths, later) is written per backend.
//!
//! Every function takes the caller's transaction, so a service's change and its audit
//! record commit or roll back together.

pub mod audit;
pub mod backup;
pub mod bulk;
pub mod customers;
pub mod db;
pub mod deferred_index;
pub mod extract;
pub mod grants;
pub mod institutions;
pub mod jobs;
pub mod listing;
pub mod matrix;
pub mod migrations;
pub mod monitoring;
pub mod proposals;
pub mod schema_check;
pub mod sealed;
pub mod sessions;
pub mod suspects;
pub mod users;
pub mod workflow;

pub use db::{Backend, Db, Tx, from_micros, is_unique_violation, micros};
pub use sqlx::Error as DbError;

pub type DbResult<T> = Result<T, DbError>;

/// One page of a list, with the total for "共 N 条".
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    /// The items with their number in the whole list ("序号"), counting from 1.
    pub fn numbered(self) -> impl Iterator<Item = (i64, T)> {
        let offset = (self.page - 1) * self.per_page;
        (offset + 1..).zip(self.items)
    }
}
