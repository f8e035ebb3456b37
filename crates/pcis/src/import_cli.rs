//! `pcis import DIR` on a terminal: a progress bar per file, the rejects file (with the rule
//! in Chinese beside its key), and the summary at the end.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use pcis_domain::DomainResult;
use pcis_service::App;
use pcis_service::import::{ImportReport, ImportSink, Reject};
use pcis_web::{Lang, translate};

struct Terminal {
    bar: indicatif::ProgressBar,
    rejects: csv::Writer<std::fs::File>,
    rejected: u64,
}

impl ImportSink for Terminal {
    fn progress(&mut self, file: &str, rows_done: u64, _expected: u64) {
        self.bar.set_message(file.to_owned());
        self.bar.set_position(rows_done);
    }

    fn reject(&mut self, r: Reject) -> std::io::Result<()> {
        self.rejected += 1;
        let message = translate(Lang::Zh, r.rule, &[]);
        self.rejects
            .write_record([r.file, &r.row.to_string(), &r.key, r.field, r.rule, &message])
            .map_err(std::io::Error::other)
    }
}

/// Loads the folder, writing rejected rows (with the rule in Chinese) to `rejects_path`;
/// `bar` shows the progress (hidden for background runs). Returns the load's outcome and the
/// number of rows rejected.
pub async fn load(
    app: &App,
    dir: &Path,
    rejects_path: &Path,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<(DomainResult<ImportReport>, u64)> {
    let file = std::fs::File::create(rejects_path)
        .with_context(|| format!("cannot write the rejects file {}", rejects_path.display()))?;
    let mut writer = csv::Writer::from_writer(file);
    writer.write_record(["file", "row", "key", "field", "rule", "message"])?;
    let mut sink = Terminal { bar, rejects: writer, rejected: 0 };
    let result = app.import_extract(dir, &mut sink).await;
    sink.bar.finish_and_clear();
    sink.rejects.flush()?;
    Ok((result, sink.rejected))
}

/// Loads the folder; rejects go to `rejects` (default `DIR/rejects.csv`).
pub async fn run(app: &App, dir: &Path, rejects: Option<PathBuf>) -> anyhow::Result<bool> {
    let rejects_path = rejects.unwrap_or_else(|| dir.join("rejects.csv"));
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg:18} {pos} rows ({per_sec})")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let (result, rejected) = load(app, dir, &rejects_path, bar).await?;
    let report = match result {
        Ok(r) => r,
        Err(pcis_domain::DomainError::Invalid(f)) => {
            eprintln!("import failed: {}: {}", f[0].field, translate(Lang::Zh, f[0].rule, &[]));
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "business date {} · run {}{}",
        report.business_date,
        report.run,
        if report.resumed { " (resumed)" } else { "" }
    )?;
    writeln!(
        out,
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "file", "read", "inserted", "updated", "unchanged", "rejected", "seconds"
    )?;
    for f in &report.files {
        writeln!(
            out,
            "{:<18} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
            f.file,
            f.read,
            f.inserted,
            f.updated,
            f.unchanged,
            f.rejected,
            f.seconds()
        )?;
    }
    writeln!(
        out,
        "tiers: {} customers' assets changed, {} tiers changed ({:.1} s)",
        report.aum_changed,
        report.tier_changed,
        report.tiering.as_secs_f64()
    )?;
    writeln!(
        out,
        "indexes set aside made again, statistics refreshed ({:.1} s)",
        report.finishing.as_secs_f64()
    )?;
    writeln!(
        out,
        "suspicious list: {} groups sharing a contact or account, {} newly listed, {} overdue escalated ({:.1} s)",
        report.suspects.groups,
        report.suspects.listed,
        report.suspects.escalated,
        report.suspect_listing.as_secs_f64()
    )?;
    if rejected > 0 {
        writeln!(out, "rejected rows: {}", rejects_path.display())?;
    }
    writeln!(out, "{:.1} s", started.elapsed().as_secs_f64())?;
    Ok(true)
}
