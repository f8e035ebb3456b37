//! `pcis check-config` reports every setting it finds wrong, one a line naming the setting,
//! exits 2, and changes nothing; a good configuration prints as TOML without its secrets.
//! And the binary's logs on a pipe are JSON lines without colour codes, a request's lines
//! carrying its id.

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::both_backends;
use crate::helpers::{AUDIT_KEY_HEX, Backend, fresh_database, keep_child_log, test_key_file};

both_backends!(an_unmigrated_database_is_refused_until_migrated, a_good_configuration_prints_as_toml);

/// A directory with a key file of mode 0600, an inbox, and a configuration naming them.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys.json");
        std::fs::write(&keys, test_key_file(AUDIT_KEY_HEX).to_string()).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir(dir.path().join("inbox")).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sqlite(&self) -> String {
        format!("sqlite:{}", self.path("pcis.db").display())
    }

    /// Writes the configuration: the given lines over good defaults for everything else.
    fn config(&self, database: &str, lines: &str) -> PathBuf {
        let mut text = format!("database_url = {database:?}\nkey_file = {:?}\n", self.path("keys.json"));
        if !lines.contains("trusted_proxies") {
            text.push_str("trusted_proxies = [\"127.0.0.1\"]\n");
        }
        text.push_str(lines);
        text.push('\n');
        if !lines.contains("[nightly]") {
            text.push_str(&format!("[nightly]\nat = \"02:30\"\ninbox = {:?}\n", self.path("inbox")));
        }
        let path = self.path("pcis.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `pcis` in this directory, nothing from the environment.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pcis"));
        command
            .current_dir(self.dir.path())
            .env_remove("PCIS_KEYS")
            .env_remove("PCIS_DATABASE_URL")
            .env_remove("PCIS_CONFIG")
            .env_remove("PCIS_KEY_FILE");
        command
    }

    fn pcis(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("run pcis");
        keep_child_log("check_config", &out.stderr);
        out
    }

    fn check(&self, config: &Path) -> Checked {
        Checked::of(self.pcis(&["--config", config.to_str().unwrap(), "check-config"]))
    }
}

struct Checked {
    code: Option<i32>,
    stdout: String,
    /// The problem lines, without the closing count.
    problems: Vec<String>,
}

impl Checked {
    fn of(out: Output) -> Checked {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Checked {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            problems: stderr.lines().filter(|l| !l.starts_with("pcis: ")).map(str::to_owned).collect(),
        }
    }

    /// Refused with exactly one problem, on `setting`; returns its line.
    fn refused_for(&self, setting: &str) -> String {
        assert_eq!(self.code, Some(2), "{:?}\n{}", self.problems, self.stdout);
        assert_eq!(self.problems.len(), 1, "{:?}", self.problems);
        let line = &self.problems[0];
        assert!(line.starts_with(&format!("{setting}: ")), "{line}");
        assert!(!self.stdout.contains("configuration OK"));
        line.clone()
    }

    /// The settings printed, parsed back as TOML.
    fn settings(&self) -> toml::Table {
        let text = self.stdout.strip_suffix("configuration OK\n").unwrap_or(&self.stdout);
        toml::from_str(text).unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
    }
}

fn migrate(s: &Setup, database: &str) {
    let out = s.pcis(&["--database", database, "migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_listen_address_that_is_not_one_is_refused() {
    let s = Setup::new();
    migrate(&s, &s.sqlite());
    let line = s.check(&s.config(&s.sqlite(), "listen = \"notanaddr\"")).refused_for("listen");
    assert!(line.contains("notanaddr") && line.contains("127.0.0.1:8080"), "{line}");
    // Off loopback without a proxy to terminate TLS, `serve` would refuse it: so does this.
    let config = s.config(&s.sqlite(), "listen = \"0.0.0.0:8080\"\ntrusted_proxies = []");
    assert!(s.check(&config).refused_for("listen").contains("trusted_proxies"));
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_is_refused() {
    let s = Setup::new();
    let path = s.path("pcis.toml");
    std::fs::write(&path, "trusted_proxies = [\"proxy.internal\"]\n").unwrap();
    let out = s.pcis(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trusted_proxies"));
}

#[test]
fn an_unreachable_database_is_refused_without_its_password() {
    let s = Setup::new();
    let check = s.check(&s.config("postgres://postgres:s3cret@127.0.0.1:1/x", ""));
    let line = check.refused_for("database_url");
    assert!(line.contains("127.0.0.1:1"), "{line}");
    // The settings still print, as TOML, the password masked.
    assert!(!line.contains("s3cret") && !check.stdout.contains("s3cret"), "{line}\n{}", check.stdout);
    assert_eq!(check.settings()["database_url"].as_str(), Some("postgres://postgres:***@127.0.0.1:1/x"));
}

#[test]
fn a_missing_inbox_is_refused() {
    let s = Setup::new();
    migrate(&s, &s.sqlite());
    let missing = s.path("no-such-inbox");
    let config = s.config(&s.sqlite(), &format!("[nightly]\nat = \"02:30\"\ninbox = {missing:?}"));
    let line = s.check(&config).refused_for("nightly.inbox");
    assert!(line.contains("does not exist"), "{line}");
    std::fs::write(&missing, "").unwrap();
    assert!(s.check(&config).refused_for("nightly.inbox").contains("not a directory"));
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let s = Setup::new();
    migrate(&s, &s.sqlite());
    let config = s.config(&s.sqlite(), "");
    let keys = s.path("keys.json");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = s.check(&config).refused_for("key_file");
    assert!(line.contains("0644") && line.contains("chmod 600"), "{line}");
    std::fs::remove_file(&keys).unwrap();
    assert!(s.check(&config).refused_for("key_file").contains("does not exist"));
    // Keys from the environment: no file to check, the keys themselves still are.
    let out = s
        .command()
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .env("PCIS_KEYS", test_key_file(AUDIT_KEY_HEX).to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = s
        .command()
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .env("PCIS_KEYS", "{}")
        .output()
        .unwrap();
    assert!(Checked::of(out).refused_for("PCIS_KEYS").contains("invalid keys"));
}

#[test]
fn a_sqlite_database_others_can_read_is_refused() {
    let s = Setup::new();
    migrate(&s, &s.sqlite());
    std::fs::set_permissions(s.path("pcis.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = s.check(&s.config(&s.sqlite(), "")).refused_for("database_url");
    assert!(line.contains("0644") && line.contains("chmod 600"), "{line}");
}

#[test]
fn a_missing_sqlite_database_is_refused_and_not_created() {
    let s = Setup::new();
    let line = s.check(&s.config(&s.sqlite(), "")).refused_for("database_url");
    assert!(line.contains("does not exist") && line.contains("pcis migrate"), "{line}");
    assert!(!s.path("pcis.db").exists(), "check-config creates no database");
}

#[test]
fn every_problem_is_reported_at_once() {
    let s = Setup::new();
    std::fs::set_permissions(s.path("keys.json"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = s.config(
        "postgres://postgres@127.0.0.1:1/x",
        "listen = \"notanaddr\"\n[security]\nsession_idle_minutes = 120\nlockout_failures = 0\n\
         [nightly]\nat = \"02:30\"\ninbox = \"/nonexistent/inbox\"",
    );
    let check = s.check(&config);
    assert_eq!(check.code, Some(2));
    let settings: Vec<&str> = check.problems.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        settings,
        ["security", "security", "listen", "database_url", "key_file", "nightly.inbox"],
        "{:#?}",
        check.problems
    );
}

async fn an_unmigrated_database_is_refused_until_migrated(b: Backend) {
    let s = Setup::new();
    let Some(database) = fresh_database(b, s.dir.path()).await else { return };
    if b == Backend::Sqlite {
        // The file exists (as after a restore of an older copy) but holds no schema.
        let db = pcis_store::Db::connect(&database).await.unwrap();
        db.close().await;
    }
    let config = s.config(&database, "");
    let line = s.check(&config).refused_for("database_url");
    assert!(line.contains("not fully migrated") && line.contains("pcis migrate"), "{line}");
    // Nothing was migrated by the check.
    assert!(s.check(&config).refused_for("database_url").contains("not fully migrated"));
    migrate(&s, &database);
    let check = s.check(&config);
    assert_eq!(check.code, Some(0), "{:?}", check.problems);
}

async fn a_good_configuration_prints_as_toml(b: Backend) {
    let s = Setup::new();
    let Some(database) = fresh_database(b, s.dir.path()).await else { return };
    migrate(&s, &database);
    let config = s.config(&database, "listen = \"127.0.0.1:9090\"\n[security]\nlockout_failures = 3");
    let check = s.check(&config);
    assert_eq!(check.code, Some(0), "{:?}", check.problems);
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert!(check.stdout.ends_with("configuration OK\n"), "{}", check.stdout);
    let settings = check.settings();
    assert_eq!(settings["listen"].as_str(), Some("127.0.0.1:9090"));
    assert_eq!(settings["trusted_proxies"].as_array().unwrap()[0].as_str(), Some("127.0.0.1"));
    assert_eq!(settings["security"]["lockout_failures"].as_integer(), Some(3));
    assert_eq!(settings["security"]["password"]["min_length"].as_integer(), Some(8));
    assert_eq!(settings["nightly"]["inbox"].as_str(), s.path("inbox").to_str());
    // The database URL as given, but for a password, which never prints.
    let shown = settings["database_url"].as_str().unwrap();
    assert_eq!(shown.replace(":***@", "@"), strip_password(&database));
    assert!(!check.stdout.contains(&std::fs::read_to_string(s.path("keys.json")).unwrap()[20..40]));
}

/// The URL without the password between `user:` and `@`, if it has one.
fn strip_password(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) => match url[scheme + 3..at].find(':') {
            Some(colon) => format!("{}{}", &url[..scheme + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// Every line of `stderr` is a JSON object, and none carries a colour code.
fn json_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(stderr);
    assert!(!text.contains("\x1b["), "colour codes in the log:\n{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn logs_to_a_pipe_are_json_lines() {
    let s = Setup::new();
    let out = s
        .command()
        .args(["--database", &s.sqlite(), "migrate"])
        .env("PCIS_LOG", "debug")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out.stderr);
    assert!(!lines.is_empty(), "nothing logged at debug");
    assert!(lines.iter().all(|l| l["level"].is_string() && l["target"].is_string()), "{lines:?}");
}

#[tokio::test]
async fn a_served_request_logs_a_json_line_with_its_request_id() {
    let s = Setup::new();
    let mut child = s
        .command()
        .args(["--database", &s.sqlite(), "--keys", s.path("keys.json").to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PCIS_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let Some(base) = ready.trim().strip_prefix("PCIS listening on ") else {
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        panic!("serve did not start: {ready}{}", String::from_utf8_lossy(&out.stderr));
    };
    let res = reqwest::get(format!("{base}/login")).await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    drop(res);
    // The access line is written before the answer leaves; the kill cannot cut it off.
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    keep_child_log("check_config-serve", &out.stderr);
    let lines = json_lines(&out.stderr);
    let access = lines
        .iter()
        .find(|l| l["target"] == "pcis::access")
        .unwrap_or_else(|| panic!("no access line in {lines:#?}"));
    assert_eq!(access["fields"]["path"], "/login");
    assert_eq!(access["span"]["id"], id.as_str(), "{access}");
    assert!(access["spans"].as_array().unwrap().iter().any(|s| s["id"] == id.as_str()), "{access}");
}
