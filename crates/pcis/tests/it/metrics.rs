//! Readiness and metrics (issue 17): `/readyz` follows the database while `/healthz` does not
//! touch it; `/metrics` exists only with a configured token, refuses any other bearer with a
//! bare 401, and counts requests by route template, audit records, job runs and extract rows
//! without a path's ids, a query or anyone's data in it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pcis_domain::role::Role;
use pcis_service::import::{ImportSink, Reject};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with_metrics, username_of};

both_backends!(
    readiness_follows_the_database,
    metrics_are_not_served_without_a_token,
    metrics_need_the_token_and_count_by_route_template
);

const TOKEN: &str = "test-metrics-token-0123456789abcdef0123456789";

async fn readiness_follows_the_database(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let get = |path: &str| reqwest::get(format!("{}{path}", app.base));
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
    app.app.db.close().await;
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A short reason for the load balancer, nothing of the database's own message.
    assert_eq!(res.text().await.unwrap(), "not ready: database unavailable");
    let res = get("/healthz").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
}

async fn metrics_are_not_served_without_a_token(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let http = reqwest::Client::new();
    for bearer in [None, Some(TOKEN)] {
        let mut req = http.get(format!("{}/metrics", app.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    }
}

/// Discards what an import reports.
struct Quiet;

impl ImportSink for Quiet {
    fn progress(&mut self, _: &str, _: u64, _: u64) {}

    fn reject(&mut self, _: Reject) -> std::io::Result<()> {
        Ok(())
    }
}

/// A generated day of 20 customers, a fifth of the rows invalid, under the test tree's head
/// office; returns the folder and the personal values it holds.
fn generated_day(into: &Path) -> (std::path::PathBuf, Vec<String>) {
    let folder = into.join("2026-11-23");
    let out = Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["gen", "--customers", "20", "--business-date", "2026-11-23", "--invalid-share", "0.2"])
        .args(["--out", folder.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = folder.join("institutions.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\n000000,", "\nHO,").replace(",000000,", ",HO,")).unwrap();
    let mut personal = Vec::new();
    let mut customers = csv::Reader::from_path(folder.join("customers.csv")).unwrap();
    let header = customers.headers().unwrap().clone();
    for row in customers.records() {
        let row = row.unwrap();
        for (column, value) in header.iter().zip(row.iter()) {
            if ["name", "id_number", "mobile", "address"].contains(&column) && value.chars().count() >= 2 {
                personal.push(value.to_owned());
            }
        }
    }
    assert!(personal.len() > 20, "{personal:?}");
    (folder, personal)
}

/// One sample of the text format: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format (`name{label="value",…} value`), quotes and escapes
/// in label values included.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, mut rest) = match series.split_once('{') {
            Some((n, r)) => (n, r),
            None => (series, "}"),
        };
        let mut labels = BTreeMap::new();
        while !rest.starts_with('}') {
            let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad labels: {line}"));
            let mut chars = after.char_indices();
            let mut v = String::new();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => v.push('\n'),
                        Some((_, c)) => v.push(c),
                        None => panic!("bad escape: {line}"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => v.push(c),
                    None => panic!("unterminated value: {line}"),
                }
            };
            labels.insert(key.to_owned(), v);
            rest = after[end + 1..].trim_start_matches(',');
        }
        assert_eq!(rest, "}", "{line}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

/// The value of the series `name` whose labels include `want`, 0 when there is none.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && want.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

async fn metrics_need_the_token_and_count_by_route_template(b: Backend) {
    let Some(app) = spawn_app_with_metrics(b, TOKEN).await else { return };
    let url = format!("{}/metrics", app.base);
    let http = reqwest::Client::new();

    // Without the token, with another one or with a session's: 401 and nothing else.
    let api = app.api_as(Role::SysAdmin).await;
    let session = api.token.clone().unwrap();
    let wrong = TOKEN.replace('0', "1");
    for bearer in [None, Some(wrong.as_str()), Some(session.as_str()), Some("")] {
        let mut req = http.get(&url);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert_eq!(res.text().await.unwrap(), "", "{bearer:?}");
    }
    let res = http.get(&url).header("authorization", format!("Basic {TOKEN}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Something to count: requests naming ids and personal values, a load, a job run.
    let inbox = tempfile::tempdir().unwrap();
    let (folder, personal) = generated_day(inbox.path());
    app.app.import_extract(&folder, &mut Quiet).await.expect("the day loads");
    let job = app.app.claim_job("nightly", "2026-11-24", "metrics-test").await.unwrap().expect("claimed");
    app.app.finish_job(job, Ok(serde_json::json!({}))).await.unwrap();
    assert_eq!(app.app.claim_job("nightly", "2026-11-24", "metrics-test").await.unwrap(), None);
    let user_id = app.user_id(&username_of(Role::AccountManager)).await;
    assert_eq!(api.get(&format!("/api/v1/users/{user_id}")).await.status, StatusCode::OK);
    let searched =
        personal.iter().find(|v| v.len() == 18 && v.bytes().all(|b| b.is_ascii_alphanumeric())).unwrap();
    let search = api.get(&format!("/api/v1/customers?q={searched}")).await;
    assert!(search.status.is_success() || search.status.is_client_error(), "{:?}", search.status);
    let res = http.get(format!("{}/no-such-page/424242", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let body = res.text().await.unwrap();
    let samples = parse(&body);

    // Requests by route template, method and status class, and their latency.
    let requests = "pcis_http_requests_total";
    let login = [("route", "/api/v1/session"), ("method", "POST"), ("status", "2xx")];
    assert!(value(&samples, requests, &login) >= 1.0, "{body}");
    let user = [("route", "/api/v1/users/{id}"), ("method", "GET"), ("status", "2xx")];
    assert_eq!(value(&samples, requests, &user), 1.0, "{body}");
    assert!(value(&samples, requests, &[("route", "/api/v1/customers"), ("method", "GET")]) >= 1.0, "{body}");
    assert!(value(&samples, requests, &[("route", "unmatched"), ("status", "4xx")]) >= 1.0, "{body}");
    assert!(value(&samples, requests, &[("route", "/metrics"), ("status", "4xx")]) >= 5.0, "{body}");
    let login_latency = [("route", "/api/v1/session"), ("method", "POST")];
    assert!(value(&samples, "pcis_http_request_duration_seconds_count", &login_latency) >= 1.0, "{body}");
    assert!(
        value(
            &samples,
            "pcis_http_request_duration_seconds_bucket",
            &[("route", "/api/v1/session"), ("le", "+Inf")]
        ) >= 1.0,
        "{body}"
    );
    for (name, labels, _) in samples.iter().filter(|(n, ..)| n.starts_with("pcis_http_")) {
        let route = &labels["route"];
        assert!(
            route == "unmatched" || !route.split('/').any(|seg| seg.parse::<i64>().is_ok()),
            "{name} {labels:?}"
        );
    }

    // What the services count.
    assert!(value(&samples, "pcis_audit_records_appended_total", &[("outcome", "success")]) > 0.0, "{body}");
    let job_runs = "pcis_job_runs_total";
    assert_eq!(value(&samples, job_runs, &[("job", "nightly"), ("outcome", "done")]), 1.0, "{body}");
    assert_eq!(value(&samples, job_runs, &[("job", "nightly"), ("outcome", "skipped")]), 1.0, "{body}");
    let rows = "pcis_import_rows_total";
    assert!(value(&samples, rows, &[("file", "customers.csv"), ("result", "loaded")]) > 0.0, "{body}");
    assert!(value(&samples, rows, &[("result", "rejected")]) > 0.0, "{body}");
    let pools: &[&str] = if b == Backend::Sqlite { &["read", "write"] } else { &["main"] };
    for pool in pools {
        let open = value(&samples, "pcis_db_pool_connections", &[("pool", pool)]);
        let idle = value(&samples, "pcis_db_pool_idle_connections", &[("pool", pool)]);
        assert!(open >= 1.0 && idle <= open, "{pool}: {open} {idle}\n{body}");
    }

    // Nobody's data, no credential, no id a request named.
    let users = app.passwords.keys().cloned();
    let secrets = [TOKEN.to_owned(), session, PASSWORD.to_owned(), "424242".to_owned()];
    for s in personal.iter().cloned().chain(users).chain(secrets) {
        assert!(!body.contains(&s), "{s:?} in\n{body}");
    }
}
