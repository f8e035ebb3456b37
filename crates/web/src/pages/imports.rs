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

#[derive(Template)]
#[template(path = "imports.html")]
struct RunsPage {
    ctx: Ctx,
    rows: Vec<RunRow>,
}

async fn runs(State(st): State<AppState>, lang: Lang, Meta(meta): Meta, UiAuth(auth): UiAuth) -> PageResult {
    let runs = st.app.import_runs(&auth.session.actor, &meta).await.map_err(err(lang))?;
    let rows = runs
        .into_iter()
        .map(|r| RunRow {
            id: r.id,
            status: label(lang, "import.status", &r.status),
            status_class: match r.status.as_str() {
                "done" => "success",
                "failed" => "danger",
                _ => "warning",
            },
            business_date: r.business_date,
            source: r.source,
            started: minute(r.started_us),
            finished: r.finished_us.map(minute).unwrap_or_default(),
            message: r.message,
            files: serde_json::from_str(&r.counts).unwrap_or_default(),
        })
        .collect();
    Ok(render(&RunsPage { ctx: ctx(&st, lang, &auth, "/imports").crumb("import.title", ""), rows }))
}
