//! PostgreSQL's client programs for `pcis backup` and `pcis restore`: `pg_dump` in the
//! snapshot the backup counted in, and `pg_restore`'s script moved into the target's schema
//! and applied by `psql` in one transaction that ends with the row check.
//!
//! Invariant: the database password reaches these programs through their environment
//! (`PGPASSWORD`), never their command line; a restore that fails or counts other rows than
//! the manifest leaves the target schema as empty as it was.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use pcis_store::backup as store;

/// Runs `pg_dump` of `schema` in the snapshot `id` into `out`; its progress to the spinner.
pub(super) fn run_pg_dump(
    pg_dump: &Path,
    env: &[(&'static str, String)],
    schema: &str,
    id: &str,
    out: File,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut child = Command::new(pg_dump)
        .args(["--format=custom", "--no-password", "--verbose", "--snapshot", id, "--schema"])
        // A pattern: quoted, so the name is taken as it is (case, dots, wildcards).
        .arg(store::quote(schema))
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", pg_dump.display()))?;
    let mut errors = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line?;
        if let Some(table) = line.split("dumping contents of table ").nth(1) {
            bar.set_message(format!("pg_dump: {}", table.trim_matches('"')));
        } else if !line.starts_with("pg_dump: ") || line.contains("error") || line.contains("warning") {
            errors.push(line);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("pg_dump failed ({status}): {}", errors.join(" | "));
    }
    Ok(())
}

/// The marker of the row check's exception, told apart from other failures.
const COUNT_MISMATCH: &str = "pcis restore row check";

/// `pg_restore -f - BACKUP | (moved into the target schema) | psql --single-transaction`,
/// ending with a check of every table's rows. `Some(reason)` when the rows differ.
pub(super) fn run_pg_restore(
    pg_restore: &Path,
    psql: &Path,
    env: &[(&'static str, String)],
    from: &Path,
    mut moved: SchemaMove,
    check: &str,
    bar: &ProgressBar,
) -> anyhow::Result<Option<String>> {
    let mut restore = Command::new(pg_restore)
        // Owners and rights are the target's: `pcis grants` gives them again.
        .args(["--no-owner", "--no-privileges", "--file=-"])
        .arg(from)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", pg_restore.display()))?;
    let mut apply = Command::new(psql)
        .args(["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"])
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", psql.display()))?;
    let restore_errors = collect(restore.stderr.take().expect("piped"));
    let apply_errors = collect(apply.stderr.take().expect("piped"));
    let script = restore.stdout.take().expect("piped");
    let stdin = apply.stdin.take().expect("piped");
    let fed = (|| -> std::io::Result<std::process::ExitStatus> {
        let mut out = BufWriter::new(stdin);
        let mut input = BufReader::new(script);
        let mut line = Vec::new();
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if let Some(table) = moved.copying(&line) {
                bar.set_message(format!("restoring {table}"));
            }
            if let Some(l) = moved.line(&line) {
                out.write_all(&l)?;
            }
        }
        let status = restore.wait()?;
        if moved.in_copy {
            out.write_all(b"\\.\n")?;
        }
        if status.success() {
            bar.set_message("checking the row counts");
            out.write_all(check.as_bytes())?;
        } else {
            // psql rolls the whole restore back.
            out.write_all(b"DO $$ BEGIN RAISE EXCEPTION 'pg_restore stopped before the end'; END $$;\n")?;
        }
        out.flush()?;
        Ok(status)
    })();
    let applied = apply.wait()?;
    let restore_errors = restore_errors.join().unwrap_or_default();
    let apply_errors = apply_errors.join().unwrap_or_default();
    match fed {
        // pg_restore's own failure (psql was then made to roll back).
        Ok(restored) if !restored.success() => {
            bail!("pg_restore failed ({restored}), nothing was restored: {}", one_line(&restore_errors));
        }
        Ok(_) => {}
        Err(e) if applied.success() => return Err(e).context("cannot pass the backup to psql"),
        // psql stopped reading: its own error below says why.
        Err(_) => {
            let _ = restore.wait();
        }
    }
    if !applied.success() {
        if let Some(at) = apply_errors.find(COUNT_MISMATCH) {
            let reason = apply_errors[at..].lines().next().unwrap_or_default();
            return Ok(Some(reason.to_owned()));
        }
        bail!("psql failed ({applied}), nothing was restored: {}", one_line(&apply_errors));
    }
    Ok(None)
}

/// A `DO` block that fails (rolling the restore back) unless every table holds the rows the
/// manifest counted.
pub(super) fn row_check(schema: &str, tables: &BTreeMap<String, i64>) -> String {
    let mut sql = String::from("DO $pcis$\nDECLARE n bigint;\nBEGIN\n");
    for (table, rows) in tables {
        let literal = table.replace('\'', "''");
        sql.push_str(&format!(
            "  SELECT COUNT(*) INTO n FROM {}.{};\n  IF n <> {rows} THEN RAISE EXCEPTION \
             '{COUNT_MISMATCH}: % holds % rows, the manifest counted %', '{literal}', n, {rows}; END IF;\n",
            store::quote(schema),
            store::quote(table)
        ));
    }
    sql.push_str("END $pcis$;\n");
    sql
}

/// Moves a `pg_restore` script from the schema it was dumped from into the target schema:
/// schema-qualified names (`src.table`, `"src".table`, also inside `'src.seq'::regclass`),
/// a function's `SET search_path TO 'src'`, and the schema's own statements dropped (the
/// target exists). `COPY` data passes untouched.
pub(super) struct SchemaMove {
    plain: Option<String>,
    quoted: String,
    literal: String,
    to_ident: String,
    to_literal: String,
    same: bool,
    in_copy: bool,
}

impl SchemaMove {
    pub(super) fn new(from: &str, to: &str) -> SchemaMove {
        let simple = from.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && from.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
        SchemaMove {
            plain: simple.then(|| format!("{from}.")),
            quoted: format!("{}.", store::quote(from)),
            literal: format!("'{}'", from.replace('\'', "''")),
            to_ident: format!("{}.", store::quote(to)),
            to_literal: format!("'{}'", to.replace('\'', "''")),
            same: from == to,
            in_copy: false,
        }
    }

    /// The table a `COPY … FROM stdin;` line starts loading.
    fn copying<'a>(&self, line: &'a [u8]) -> Option<&'a str> {
        if self.in_copy {
            return None;
        }
        let text = std::str::from_utf8(line).ok()?;
        text.strip_prefix("COPY ")?.split(' ').next()
    }

    /// The line to pass on, or `None` to drop it.
    fn line<'a>(&mut self, line: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        if self.in_copy {
            if line == b"\\.\n" || line == b"\\." {
                self.in_copy = false;
            }
            return Some(Cow::Borrowed(line));
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Some(Cow::Borrowed(line));
        };
        if ["CREATE SCHEMA ", "ALTER SCHEMA ", "COMMENT ON SCHEMA "].iter().any(|p| text.starts_with(p)) {
            return None;
        }
        if text.starts_with("COPY ") && text.trim_end().ends_with("FROM stdin;") {
            self.in_copy = true;
        }
        if self.same {
            return Some(Cow::Borrowed(line));
        }
        let mut moved = self.qualifiers(text);
        if moved.contains("search_path") {
            moved = moved.replace(&self.literal, &self.to_literal);
        }
        Some(Cow::Owned(moved.into_bytes()))
    }

    fn qualifiers(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut prev: Option<char> = None;
        while let Some(c) = rest.chars().next() {
            let boundary = !prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '$' || p == '"');
            let hit = if rest.starts_with(&self.quoted) {
                Some(self.quoted.len())
            } else {
                self.plain.as_deref().filter(|p| boundary && rest.starts_with(p)).map(str::len)
            };
            match hit {
                Some(n) => {
                    out.push_str(&self.to_ident);
                    rest = &rest[n..];
                    prev = Some('.');
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                    prev = Some(c);
                }
            }
        }
        out
    }
}

/// A PostgreSQL client program: from `PCIS_PG_BIN` if set, else `PATH`, else the newest of
/// Debian's `/usr/lib/postgresql/*/bin`.
pub(super) fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PCIS_PG_BIN") {
        let p = Path::new(&dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "{name} not found in PCIS_PG_BIN={}: point it at the folder of PostgreSQL's client programs \
             (e.g. /usr/lib/postgresql/15/bin)",
            Path::new(&dir).display()
        );
    }
    if let Some(path) = std::env::var_os("PATH")
        && let Some(p) = std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
    {
        return Ok(p);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name().to_str()?.parse::<u32>().ok().map(|v| (v, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .max_by_key(|(v, _)| *v);
    match newest {
        Some((_, p)) => Ok(p),
        None => bail!(
            "{name} not found: install PostgreSQL's client programs, the server's major version or newer \
             (Debian: apt install postgresql-client-15), or set PCIS_PG_BIN to the folder that holds {name}"
        ),
    }
}

pub(super) fn tool_version(tool: &Path) -> anyhow::Result<String> {
    let out = Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Reads a child's stderr to its end on a thread of its own (so a full pipe never stalls it).
fn collect(mut stderr: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    })
}

/// A tool's error output on one line.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(from: &str, to: &str, script: &str) -> String {
        let mut m = SchemaMove::new(from, to);
        let mut out = String::new();
        for line in script.split_inclusive('\n') {
            if let Some(l) = m.line(line.as_bytes()) {
                out.push_str(std::str::from_utf8(&l).unwrap());
            }
        }
        out
    }

    #[test]
    fn a_script_moves_into_the_target_schema_and_its_data_does_not_change() {
        let script = "CREATE SCHEMA t_src;\n\
            CREATE FUNCTION t_src.f() RETURNS void\n    SET search_path TO 't_src'\n    AS $$ SELECT 1 $$;\n\
            CREATE TABLE t_src.customer (id bigint);\n\
            ALTER TABLE t_src.x ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (\n    SEQUENCE NAME t_src.x_id_seq\n);\n\
            CREATE TABLE t_src.abc_t_src (id bigint);\n\
            COPY t_src.customer (id, name) FROM stdin;\n1\tt_src.customer 't_src'\n\\.\n\
            SELECT pg_catalog.setval('t_src.x_id_seq', 5, true);\n\
            CREATE TRIGGER g BEFORE UPDATE ON t_src.audit_log FOR EACH ROW EXECUTE FUNCTION t_src.f();\n";
        let out = moved("t_src", "t_dst", script);
        assert!(!out.contains("CREATE SCHEMA"), "{out}");
        assert!(out.contains("CREATE FUNCTION \"t_dst\".f()"), "{out}");
        assert!(out.contains("SET search_path TO 't_dst'"), "{out}");
        assert!(out.contains("SEQUENCE NAME \"t_dst\".x_id_seq"), "{out}");
        assert!(out.contains("CREATE TABLE \"t_dst\".abc_t_src"), "{out}");
        assert!(
            out.contains("COPY \"t_dst\".customer (id, name) FROM stdin;\n1\tt_src.customer 't_src'\n\\.\n"),
            "{out}"
        );
        assert!(out.contains("setval('\"t_dst\".x_id_seq'"), "{out}");
        assert!(out.contains("ON \"t_dst\".audit_log FOR EACH ROW EXECUTE FUNCTION \"t_dst\".f()"), "{out}");
    }

    #[test]
    fn a_script_for_the_same_schema_only_loses_its_create_schema() {
        let script = "CREATE SCHEMA public;\nCREATE TABLE public.customer (id bigint);\n";
        assert_eq!(moved("public", "public", script), "CREATE TABLE public.customer (id bigint);\n");
    }

    #[test]
    fn the_row_check_names_every_table() {
        let sql =
            row_check("t_dst", &BTreeMap::from([("customer".to_owned(), 3), ("audit_log".to_owned(), 9)]));
        assert!(sql.contains("FROM \"t_dst\".\"customer\";\n  IF n <> 3 THEN"), "{sql}");
        assert!(sql.contains("FROM \"t_dst\".\"audit_log\";\n  IF n <> 9 THEN"), "{sql}");
    }
}
