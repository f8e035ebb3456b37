//! Behaviour tests through the real HTTP server and the real CLI, each on SQLite and on
//! PostgreSQL (`PCIS_TEST_POSTGRES_URL`). With `PCIS_TEST_REQUIRE_ALL=1` (CI) a part that
//! would be skipped fails instead.

mod helpers;

mod api_admin;
mod api_auth;
mod api_document;
mod api_requests;
mod backup;
mod browser;
mod check_config;
mod cli;
mod customers;
mod import;
mod import_tree;
mod log_scan;
mod matrix;
mod metrics;
mod operator;
mod operator_path;
mod pg_tls;
mod reveal;
mod suspects;
mod workflow;
