//! Import runs (数据装载记录, R-ETL-2): each load of the core-banking extracts with its status
//! and its counts per file, for the administrators.

use pcis_service::import::FileCounts;

use super::*;
use crate::views::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/imports", get(runs))
}

struct RunRow {
    id: i64,
    business_date: String,
    source: String,
    status: String,
    status_class: &'static str,
    started: String,
    finished: String,
    message: String,
    files: Vec<FileCounts>,
}

/// One run of the nightly job (R-OPS-4).
struct JobRow {
    day: String,
    node: String,
    status: String,
    status_class: &'static str,
    started: String,
    finished: String,
    /// What it did, a line per loaded folder (or the list rebuilt without a load).
    lines: Vec<String>,
    message: String,
}

#[derive(Template)]
#[template(path = "imports.html")]
struct RunsPage {
    ctx: Ctx,
    jobs: Vec<JobRow>,
    rows: Vec<RunRow>,
}

fn status_class(status: &str) -> &'static str {
    match status {
        "done" => "success",
        "failed" => "danger",
        _ => "warning",
    }
}

/// The job's detail (JSON) in words.
fn job_lines(lang: Lang, detail: &str) -> Vec<String> {
    let d: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0).to_string();
    let mut lines: Vec<String> = d["loads"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            crate::translate(
                lang,
                "job.load_line",
                &[
                    ("date", l["business_date"].as_str().unwrap_or("")),
                    ("rejected", &n(&l["rejected"])),
                    ("listed", &n(&l["suspects"]["listed"])),
                    ("escalated", &n(&l["suspects"]["escalated"])),
                ],
            )
        })
        .collect();
    let s = &d["suspects_without_load"];
    if s.is_object() {
        lines.push(crate::translate(
            lang,
            "job.no_load_line",
            &[
                ("tiers", &n(&d["tiers_without_load"]["tier_changed"])),
                ("listed", &n(&s["listed"])),
                ("escalated", &n(&s["escalated"])),
            ],
        ));
    }
    lines
}

async fn runs(Req { st, lang, meta, auth }: Req) -> PageResult {
    let jobs = st.app.job_runs(&auth.session.actor, &meta).await?;
    let jobs = jobs
        .into_iter()
        .map(|j| JobRow {
            status: label(lang, "import.status", &j.status),
            status_class: status_class(&j.status),
            day: j.run_key,
            node: j.node,
            started: minute(j.started_us),
            finished: j.finished_us.map(minute).unwrap_or_default(),
            lines: job_lines(lang, &j.detail),
            message: j.message,
        })
        .collect();
    let runs = st.app.import_runs(&auth.session.actor, &meta).await?;
    let rows = runs
        .into_iter()
        .map(|r| RunRow {
            id: r.id,
            status: label(lang, "import.status", &r.status),
            status_class: status_class(&r.status),
            business_date: r.business_date,
            source: r.source,
            started: minute(r.started_us),
            finished: r.finished_us.map(minute).unwrap_or_default(),
            message: r.message,
            files: serde_json::from_str(&r.counts).unwrap_or_default(),
        })
        .collect();
    Ok(render(&RunsPage { ctx: ctx(&st, lang, &auth, "/imports").crumb("import.title", ""), jobs, rows }))
}
