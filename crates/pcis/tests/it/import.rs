//! `pcis gen` and `pcis import` through the real binary, on both backends (R-ETL-1..3): a
//! generated day loads; loading it again changes nothing; bad rows go to the rejects file with
//! their rule and every good row loads; a GB18030 folder loads like its UTF-8 twin; the tiers
//! are recomputed (the institution tree's rules: `import_tree.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcis_store::Db;

use crate::both_backends;
use crate::helpers::spawn_app;
use crate::helpers::{AUDIT_KEY_HEX, Backend, LOG_FILTER, fresh_database, keep_child_log, test_key_file};

both_backends!(
    a_day_loads_once_and_again_changes_nothing,
    bad_rows_are_rejected_and_gb18030_loads_alike,
    a_killed_import_rerun_ends_like_an_uninterrupted_one,
    tiers_follow_the_thresholds_at_their_boundaries,
    a_threshold_change_by_the_business_administrator_applies_at_the_next_load,
    the_nightly_job_runs_once_across_nodes,
    planted_shared_contacts_are_listed_and_nothing_else
);

/// A fresh database with its key file, and the `pcis` binary pointed at them.
pub(crate) struct Target {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
}

impl Target {
    pub(crate) async fn new(b: Backend) -> Option<Target> {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database(b, dir.path()).await?;
        std::fs::write(dir.path().join("keys.json"), test_key_file(AUDIT_KEY_HEX).to_string()).unwrap();
        Some(Target { dir, url })
    }

    pub(crate) fn pcis(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_pcis"))
            .args(["--database", &self.url, "--keys", self.dir.path().join("keys.json").to_str().unwrap()])
            .args(args)
            .env_remove("PCIS_KEYS")
            .env("PCIS_LOG", LOG_FILTER)
            .output()
            .expect("run pcis");
        keep_child_log("import", &out.stderr);
        out
    }

    pub(crate) fn import(&self, folder: &Path) -> String {
        let out = self.pcis(&["import", folder.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    pub(crate) async fn count(&self, sql: &str) -> i64 {
        self.try_count(sql).await.unwrap()
    }

    /// A count, or an error while the schema is not there yet.
    async fn try_count(&self, sql: &str) -> Result<i64, sqlx::Error> {
        let db = Db::connect(&self.url).await.unwrap();
        let n = match &db {
            Db::Sqlite { read, .. } => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(read).await
            }
            Db::Pg(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(p).await,
        };
        db.close().await;
        n
    }
}

impl Target {
    /// Every index of the schema but the implicit ones, and on PostgreSQL every foreign key:
    /// (table, name), sorted.
    async fn indexes(&self) -> Vec<(String, String)> {
        let sql = if self.url.starts_with("sqlite:") {
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1, 2"
        } else {
            "SELECT tablename::text, indexname::text FROM pg_indexes WHERE schemaname = current_schema()
             UNION ALL
             SELECT conrelid::regclass::text, conname::text FROM pg_constraint
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
             ORDER BY 1, 2"
        };
        self.pairs(sql).await
    }

    /// Two text columns of every row of a query.
    async fn pairs(&self, sql: &str) -> Vec<(String, String)> {
        pairs_at(&self.url, sql).await
    }
}

/// Two text columns of every row of a query on the database at `url`.
pub(crate) async fn pairs_at(url: &str, sql: &str) -> Vec<(String, String)> {
    let db = Db::connect(url).await.unwrap();
    let rows = match &db {
        Db::Sqlite { read, .. } => sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(read).await,
        Db::Pg(p) => sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(p).await,
    };
    db.close().await;
    rows.unwrap()
}

/// Writes a generated day of 60 customers into a new folder.
fn generate(into: &Path, name: &str, extra: &[&str]) -> PathBuf {
    generate_n(into, name, 60, extra)
}

fn generate_n(into: &Path, name: &str, customers: u64, extra: &[&str]) -> PathBuf {
    let folder = into.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args([
            "gen",
            "--customers",
            &customers.to_string(),
            "--business-date",
            "2026-11-23",
            "--out",
            folder.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    folder
}

/// The summary line of one file: [read, inserted, updated, unchanged, rejected].
pub(crate) fn counts(summary: &str, file: &str) -> Vec<u64> {
    let line =
        summary.lines().find(|l| l.starts_with(file)).unwrap_or_else(|| panic!("no {file} in {summary}"));
    line.split_whitespace().skip(1).take(5).map(|n| n.parse().unwrap()).collect()
}

fn csv_rows(path: &Path) -> u64 {
    csv::Reader::from_path(path).unwrap().records().count() as u64
}

async fn a_day_loads_once_and_again_changes_nothing(b: Backend) {
    let Some(t) = Target::new(b).await else { return };
    let folder = generate(t.dir.path(), "day", &["--shared-contact-share", "0.1"]);
    assert!(t.pcis(&["migrate"]).status.success());
    let schema = t.indexes().await;
    assert!(schema.contains(&("customer".into(), "customer_mobile_bidx".into())), "{schema:?}");
    if b == Backend::Postgres {
        assert!(schema.contains(&("txn".into(), "txn_account_id_fkey".into())), "{schema:?}");
    }
    let first = t.import(&folder);
    // The first load set the secondary indexes (and PostgreSQL's foreign keys) aside, since it
    // more than doubles every table, and made them again at the end of each file.
    assert_eq!(t.indexes().await, schema);
    assert_eq!(t.count("SELECT COUNT(*) FROM import_deferred_index").await, 0);
    for (file, n) in [("customers.csv", 60), ("institutions.csv", 89), ("products.csv", 8)] {
        assert_eq!(counts(&first, file), [n, n, 0, 0, 0], "{first}");
    }
    let accounts = csv_rows(&folder.join("accounts.csv"));
    let txns = csv_rows(&folder.join("transactions.csv"));
    assert_eq!(counts(&first, "accounts.csv"), [accounts, accounts, 0, 0, 0]);
    assert_eq!(counts(&first, "transactions.csv"), [txns, txns, 0, 0, 0]);
    assert_eq!(t.count("SELECT COUNT(*) FROM customer").await, 60);
    assert_eq!(t.count("SELECT COUNT(*) FROM txn").await as u64, txns);
    // Tiers follow the assets: every customer with assets over 50,000 yuan is at least gold.
    let misfiled = "SELECT COUNT(*) FROM customer c LEFT JOIN customer_aum h ON h.customer_id = c.id
        WHERE (COALESCE(h.aum, 0) >= 5000000) <> (c.tier <> 'ordinary')";
    assert_eq!(t.count(misfiled).await, 0);
    assert!(t.count("SELECT COUNT(*) FROM customer WHERE tier <> 'ordinary'").await > 0);
    // The demo outlet's customers went to the managers named in the extract, when they exist:
    // here no such staff, so no assignment, and nothing failed for it.
    assert_eq!(t.count("SELECT COUNT(*) FROM customer_assignment").await, 0);
    // Contacts are stored masked for display (and sealed beside).
    assert_eq!(t.count("SELECT COUNT(*) FROM customer WHERE mobile_masked NOT LIKE '%****%'").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM customer WHERE mobile_sealed IS NULL").await, 0);

    // The same day again: nothing inserted, nothing updated.
    let again = t.import(&folder);
    assert_eq!(counts(&again, "customers.csv"), [60, 0, 0, 60, 0], "{again}");
    assert_eq!(counts(&again, "accounts.csv"), [accounts, 0, 0, accounts, 0]);
    assert_eq!(counts(&again, "transactions.csv"), [txns, 0, 0, txns, 0]);
    assert!(again.contains("tiers: 0 customers' assets changed, 0 tiers changed"), "{again}");
    assert_eq!(t.count("SELECT COUNT(*) FROM txn").await as u64, txns);
    assert_eq!(t.count("SELECT COUNT(*) FROM import_run WHERE status = 'done'").await, 2);
}

async fn bad_rows_are_rejected_and_gb18030_loads_alike(b: Backend) {
    let Some(t) = Target::new(b).await else { return };
    let folder = generate(t.dir.path(), "bad", &["--invalid-share", "0.1"]);
    let summary = t.import(&folder);
    let rejects: Vec<csv::StringRecord> =
        csv::Reader::from_path(folder.join("rejects.csv")).unwrap().records().map(Result::unwrap).collect();
    let rejected: u64 =
        ["customers.csv", "accounts.csv", "transactions.csv"].iter().map(|f| counts(&summary, f)[4]).sum();
    assert!(rejected > 0, "{summary}");
    assert_eq!(rejects.len() as u64, rejected);
    for r in &rejects {
        // file, row, key, field, rule, message (in Chinese)
        assert!(r[1].parse::<u64>().unwrap() >= 2, "rows count from the header: {r:?}");
        assert!(r[4].starts_with("err."), "{r:?}");
        assert!(!r[5].is_empty() && !r[5].starts_with("err."), "a message in words: {r:?}");
    }
    // Every customer row that was not rejected is loaded.
    let customers = counts(&summary, "customers.csv");
    assert_eq!(customers[1] + customers[4], 60);
    assert_eq!(t.count("SELECT COUNT(*) FROM customer").await as u64, customers[1]);

    // The same day in GB18030, into another database: the same result.
    let Some(t2) = Target::new(b).await else { return };
    let gb = generate(t2.dir.path(), "gb", &["--invalid-share", "0.1", "--encoding", "gb18030"]);
    let gb_summary = t2.import(&gb);
    for file in ["customers.csv", "accounts.csv", "transactions.csv", "institutions.csv", "products.csv"] {
        assert_eq!(counts(&gb_summary, file), counts(&summary, file), "{file}");
    }
    let names = "SELECT COUNT(DISTINCT name) FROM customer";
    assert_eq!(t2.count(names).await, t.count(names).await);
    let same_rejects = std::fs::read_to_string(gb.join("rejects.csv")).unwrap();
    assert_eq!(same_rejects, std::fs::read_to_string(folder.join("rejects.csv")).unwrap());
}

/// What a load leaves in the database, to compare two loads of the same day.
async fn fingerprint(t: &Target) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM customer",
        "SELECT COUNT(*) FROM account",
        "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM account",
        "SELECT COUNT(*) FROM txn",
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM txn",
        "SELECT CAST(COALESCE(SUM(aum), 0) AS BIGINT) FROM customer_aum",
        "SELECT COUNT(*) FROM customer_aum",
        "SELECT COUNT(*) FROM customer WHERE tier = 'gold'",
        "SELECT COUNT(*) FROM tier_history",
        "SELECT COUNT(DISTINCT customer_no) FROM customer",
    ] {
        out.push(t.count(sql).await);
    }
    out
}

/// R-ETL-2 crash safety: `pcis import` killed mid-way (SIGKILL, no chance to clean up) and
/// run again resumes from its checkpoints and ends with exactly the rows and counts of an
/// uninterrupted load of the same day.
async fn a_killed_import_rerun_ends_like_an_uninterrupted_one(b: Backend) {
    let Some(killed) = Target::new(b).await else { return };
    let Some(whole) = Target::new(b).await else { return };
    let folder = generate_n(killed.dir.path(), "day", 1500, &["--invalid-share", "0.02"]);
    let keys = killed.dir.path().join("keys.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args([
            "--database",
            &killed.url,
            "--keys",
            keys.to_str().unwrap(),
            "import",
            folder.to_str().unwrap(),
        ])
        .env_remove("PCIS_KEYS")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(killed.dir.path().join("killed.log")).unwrap())
        .spawn()
        .unwrap();
    // Kill it once the first batch of customers is committed, well before the end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let started = "SELECT COUNT(*) FROM import_checkpoint WHERE file = 'customers.csv'";
    while killed.try_count(started).await.unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the import made no progress");
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(killed.dir.path().join("killed.log")).unwrap_or_default();
            panic!("the import ended ({status}) before it could be killed:\n{log}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(killed.count("SELECT COUNT(*) FROM import_run WHERE status = 'running'").await, 1);

    let resumed = killed.import(&folder);
    assert!(resumed.contains("(resumed)"), "{resumed}");
    let uninterrupted = whole.import(&folder);
    for file in ["institutions.csv", "products.csv", "customers.csv", "accounts.csv", "transactions.csv"] {
        assert_eq!(counts(&resumed, file), counts(&uninterrupted, file), "{file}");
    }
    assert_eq!(fingerprint(&killed).await, fingerprint(&whole).await);
    // Killed while the customers' secondary indexes were set aside: the rerun built them.
    assert_eq!(killed.indexes().await, whole.indexes().await);
    assert_eq!(killed.count("SELECT COUNT(*) FROM import_deferred_index").await, 0);
}

/// A hand-written day: one outlet, and customers whose assets sit just below, at and just
/// above each tier threshold (R-CUS-4), plus one whose loan must not count as an asset.
fn boundary_day(dir: &Path) -> PathBuf {
    let folder = dir.join("boundaries");
    std::fs::create_dir_all(&folder).unwrap();
    let institutions = "code,name,level,parent_code,kind,effective_from\n\
        HO,总行,1,,management,2020-01-01\nP1,江苏省分行,2,HO,management,2020-01-01\n\
        C1,南京分行,3,P1,management,2020-01-01\nS1,玄武支行,4,C1,management,2020-01-01\n\
        O1,中山路网点,5,S1,self_run,2020-01-01\n";
    let products = "product_code,product_type,product_name,currency\nD001,demand,活期储蓄,CNY\nL030,loan,个人住房贷款,CNY\n";
    // (assets in yuan, expected tier with the default thresholds 5万 / 50万 / 200万)
    let cases = [
        ("49999.99", "ordinary"),
        ("50000.00", "gold"),
        ("50000.01", "gold"),
        ("499999.99", "gold"),
        ("500000.00", "platinum"),
        ("1999999.99", "platinum"),
        ("2000000.00", "diamond"),
    ];
    let mut customers = String::from(
        "customer_no,name,gender,birth_date,id_type,id_number,mobile,address,institution_code\n",
    );
    let mut accounts = String::from(
        "account_no,customer_no,product_code,currency,balance,opened_on,status,institution_code\n",
    );
    let mut all = cases.iter().map(|(b, _)| *b).collect::<Vec<_>>();
    all.push("100.00");
    for (i, balance) in all.iter().enumerate() {
        let first17 = format!("32010219800101{:03}", 100 + i * 2 + 1);
        let id =
            format!("{first17}{}", char::from(pcis_domain::identity::check_character(first17.as_bytes())));
        customers.push_str(&format!(
            "B{i:03},王小{i},1,1980-01-01,resident_id,{id},1380000{i:04},南京市玄武区中山路{i}号,O1\n"
        ));
        accounts.push_str(&format!("{},B{i:03},D001,CNY,{balance},2020-01-01,active,O1\n", card(i as u64)));
    }
    // The last customer also owes 9,000,000 on a mortgage: still ordinary.
    accounts.push_str(&format!(
        "{},B{:03},L030,CNY,9000000.00,2020-01-01,active,O1\n",
        card(99),
        cases.len()
    ));
    write_day(
        &folder,
        [
            ("institutions.csv", institutions.to_owned()),
            ("products.csv", products.to_owned()),
            ("customers.csv", customers),
            ("accounts.csv", accounts),
            ("transactions.csv", "txn_no,account_no,posted_at,amount,currency,channel,summary\n".to_owned()),
        ],
    );
    folder
}

/// Writes a day's files (header first, LF-ended lines) and the manifest counting them.
pub(crate) fn write_day(folder: &Path, files: [(&str, String); 5]) {
    let mut manifest = String::from("business_date,file,rows,encoding\n");
    for (name, text) in &files {
        std::fs::write(folder.join(name), text).unwrap();
        manifest.push_str(&format!("2026-11-23,{name},{},UTF-8\n", text.lines().count() - 1));
    }
    std::fs::write(folder.join("manifest.csv"), manifest).unwrap();
}

/// A Luhn-valid card number of the test bank.
fn card(n: u64) -> String {
    let body = format!("622202{n:012}");
    (0..10).map(|d| format!("{body}{d}")).find(|c| pcis_domain::identity::luhn_valid(c)).unwrap()
}

async fn tiers_follow_the_thresholds_at_their_boundaries(b: Backend) {
    let Some(t) = Target::new(b).await else { return };
    let folder = boundary_day(t.dir.path());
    let summary = t.import(&folder);
    assert_eq!(counts(&summary, "customers.csv"), [8, 8, 0, 0, 0], "{summary}");
    let tiers = |t: &Target| {
        let t = t.url.clone();
        async move {
            let db = Db::connect(&t).await.unwrap();
            let sql = "SELECT tier FROM customer ORDER BY customer_no";
            let rows: Vec<String> = match &db {
                Db::Sqlite { read, .. } => sqlx::query_scalar(sql).fetch_all(read).await,
                Db::Pg(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            }
            .unwrap();
            db.close().await;
            rows
        }
    };
    assert_eq!(
        tiers(&t).await,
        ["ordinary", "gold", "gold", "gold", "platinum", "platinum", "diamond", "ordinary"]
    );
    let changes = "SELECT COUNT(*) FROM tier_history WHERE reason = 'tier.reason.recompute'";
    assert_eq!(t.count(changes).await, 6, "one history row per customer whose tier changed");
}

/// The groups of different customers sharing a value in the extract itself, computed from the
/// plaintext: (kind, sorted customer numbers). Mobiles and fixed lines are one kind.
fn shared_in_extract(customers: &Path) -> BTreeSet<(String, Vec<String>)> {
    let mut by_value: BTreeMap<(&str, String), BTreeSet<String>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(customers).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (no, mobile, phone, settlement) =
        (col("customer_no"), col("mobile"), col("phone"), col("settlement_account"));
    for r in reader.records() {
        let r = r.unwrap();
        for (kind, c) in [("contact", mobile), ("contact", phone), ("account", settlement)] {
            if !r[c].is_empty() {
                by_value.entry((kind, r[c].to_owned())).or_default().insert(r[no].to_owned());
            }
        }
    }
    by_value
        .into_iter()
        .filter(|(_, who)| who.len() > 1)
        .map(|((kind, _), who)| (kind.to_owned(), who.into_iter().collect()))
        .collect()
}

/// R-ETL-4: every planted shared mobile, fixed line and settlement account is listed, as one
/// item naming exactly its customers, and nothing else is; a second load lists nothing new.
async fn planted_shared_contacts_are_listed_and_nothing_else(b: Backend) {
    let Some(t) = Target::new(b).await else { return };
    let folder = generate_n(t.dir.path(), "day", 1500, &["--shared-contact-share", "0.08", "--seed", "11"]);
    let want = shared_in_extract(&folder.join("customers.csv"));
    let kinds: BTreeSet<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(["account", "contact"]), "the generator plants both kinds");
    assert!(want.len() > 60, "{} planted groups", want.len());

    let first = t.import(&folder);
    let listed = format!("{} groups sharing a contact or account, {} newly listed", want.len(), want.len());
    assert!(first.contains(&listed), "{first}");
    let rows = t
        .pairs(
            "SELECT s.kind || ':' || CAST(s.id AS TEXT), c.customer_no FROM suspect_item s
             JOIN suspect_member m ON m.item_id = s.id JOIN customer c ON c.id = m.customer_id",
        )
        .await;
    let mut items: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (item, no) in rows {
        items.entry(item).or_default().push(no);
    }
    let got: BTreeSet<(String, Vec<String>)> = items
        .into_iter()
        .map(|(item, mut who)| {
            who.sort();
            (item.split(':').next().unwrap().to_owned(), who)
        })
        .collect();
    assert_eq!(got, want);
    // Listed today, due three working days later, open, with a masked value only.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM suspect_item WHERE status <> 'open' OR due_on <= listed_on").await,
        0
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM suspect_item WHERE value_masked NOT LIKE '%***%'").await, 0);

    let again = t.import(&folder);
    assert!(
        again.contains(&format!("{} groups sharing a contact or account, 0 newly listed", want.len())),
        "{again}"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM suspect_item").await as usize, want.len());
}

/// R-CUS-4: the business administrator raises the gold threshold to 50,000.01 and the VIP
/// standard to 2,000,000.01 through the API (refused first while out of order, audited with
/// before and after); nobody moves until the next load, whose recomputation moves exactly the
/// customer at 50,000.00 back, with its history, and takes the customer at 2,000,000.00 out of
/// the VIP specialist's prospects. Nobody else may change the thresholds.
async fn a_threshold_change_by_the_business_administrator_applies_at_the_next_load(b: Backend) {
    use pcis_domain::role::Role;
    use reqwest::StatusCode;
    use serde_json::json;

    let Some(app) = spawn_app(b).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = boundary_day(dir.path());
    let load = || {
        let out = app.cli(&["import", folder.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    load();
    let tier_of = |no: &'static str| {
        let app = &app;
        async move {
            let mut tx = app.app.db.begin_read().await.unwrap();
            let tier: String = pcis_store::on_tx!(&mut tx, c => sqlx::query_scalar(
                "SELECT tier FROM customer WHERE customer_no = $1").bind(no).fetch_one(c).await)
            .unwrap();
            tier
        }
    };
    assert_eq!(tier_of("B001").await, "gold", "50,000.00 is gold by default");
    // The VIP specialist of the city branch sees the customers meeting the VIP standard.
    let specialist = app.api_as(Role::VipSpecialist).await;
    let prospects = || {
        let specialist = &specialist;
        async move {
            let r = specialist.get("/api/v1/customers").await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let items = r.body["items"].as_array().unwrap().iter();
            items.map(|c| c["customer_no"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(prospects().await, ["B006"], "2,000,000.00 meets the VIP standard, 1,999,999.99 does not");

    let admin = app.api_as(Role::BizAdmin).await;
    let now = admin.get("/api/v1/parameters").await;
    assert_eq!(now.body["yuan"]["gold"].as_str(), Some("50000.00"), "{:?}", now.body);
    let raised =
        json!({ "gold": "50000.01", "platinum": "500000.00", "diamond": "2000000.00", "vip": "2000000.01" });
    let mut wrong = raised.clone();
    wrong["platinum"] = json!("40000");
    let r = admin.put("/api/v1/parameters", wrong).await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("platinum"))
    );
    let r = admin.put("/api/v1/parameters", raised.clone()).await;
    assert_eq!((r.status, r.body["fen"]["gold"].as_i64()), (StatusCode::OK, Some(5_000_001)), "{:?}", r.body);
    let audit = app.audit_actions("parameter.update").await;
    let detail: serde_json::Value = serde_json::from_str(&audit[0].entry.detail).unwrap();
    assert_eq!(
        (detail["before"]["gold"].as_i64(), detail["after"]["gold"].as_i64()),
        (Some(5_000_000), Some(5_000_001))
    );
    // Staff type amounts with separators or in 万 on the page; the form shows them grouped.
    let (web, token) = crate::helpers::ui_login(&app, Role::BizAdmin).await;
    let typed = [
        ("_csrf", token.as_str()),
        ("gold", "50,000.01"),
        ("platinum", "50万"),
        ("diamond", "200万元"),
        ("vip", "2,000,000.01"),
    ];
    let res = web.post(format!("{}/parameters", app.base)).form(&typed).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = web.get(format!("{}/parameters", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(r#"value="500,000.00""#) && page.contains("= 50 万元"),
        "grouped, with the 万 hint"
    );
    let bad = [
        ("_csrf", token.as_str()),
        ("gold", "5,00"),
        ("platinum", "50万"),
        ("diamond", "200万"),
        ("vip", "1"),
    ];
    let res = web.post(format!("{}/parameters", app.base)).form(&bad).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("可带千位分隔符"), "the rule is named");
    let r = app.api_as(Role::DeptHead).await.put("/api/v1/parameters", raised).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(tier_of("B001").await, "gold", "nobody moves before the recomputation");
    assert_eq!(prospects().await, ["B006"]);

    let again = load();
    assert!(again.contains("0 customers' assets changed, 1 tiers changed"), "{again}");
    assert_eq!(tier_of("B001").await, "ordinary");
    assert_eq!(tier_of("B002").await, "gold", "50,000.01 stays gold");
    assert_eq!(prospects().await, Vec::<String>::new(), "2,000,000.00 is below the new standard");
}

/// R-OPS-4: two nodes start the nightly job for the same day at once; exactly one loads the
/// inbox's new folder, the other stands aside, and a third attempt finds the day done. A
/// day without a new folder still rebuilds the list; a failed day is recorded with its
/// error and can be run again. Administrators see the runs.
async fn the_nightly_job_runs_once_across_nodes(b: Backend) {
    use pcis_domain::role::Role;

    let Some(app) = spawn_app(b).await else { return };
    let inbox = tempfile::tempdir().unwrap();
    let folder = generate(inbox.path(), "2026-11-23", &["--shared-contact-share", "0.1"]);
    // The core's head office is the one the deployment was bootstrapped with.
    head_office_named(&folder, "HO");
    let nightly = |day: &str| {
        Command::new(env!("CARGO_BIN_EXE_pcis"))
            .args(["--database", &app.db_url, "--keys", app.key_file.to_str().unwrap()])
            .args(["nightly", "--inbox", inbox.path().to_str().unwrap(), "--date", day])
            .env_remove("PCIS_KEYS")
            .env("PCIS_LOG", LOG_FILTER)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let finish = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        keep_child_log("nightly", &out.stderr);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (one, two) = (nightly("2026-11-24"), nightly("2026-11-24"));
    let mut outs = [finish(one), finish(two)];
    outs.sort_by_key(|(_, out)| out.contains("already"));
    assert!(outs.iter().all(|(ok, _)| *ok), "{outs:?}");
    assert!(outs[0].1.contains("nightly 2026-11-24: done"), "{outs:?}");
    assert!(outs[1].1.contains("already done, or running on another node"), "{outs:?}");
    let (ok, third) = finish(nightly("2026-11-24"));
    assert!(ok && third.contains("already done"), "{third}");

    let count = |sql: &'static str| {
        let app = &app;
        async move {
            let mut tx = app.app.db.begin_read().await.unwrap();
            let n: i64 =
                pcis_store::on_tx!(&mut tx, c => sqlx::query_scalar(sql).fetch_one(c).await).unwrap();
            n
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM import_run").await, 1, "loaded once");
    assert_eq!(count("SELECT COUNT(*) FROM customer").await, 60);
    assert!(count("SELECT COUNT(*) FROM suspect_item").await > 0, "the list was built");

    // The next day brings no folder: the list is rebuilt all the same.
    let (ok, next) = finish(nightly("2026-11-25"));
    assert!(ok && next.contains("suspects_without_load"), "{next}");
    // A broken folder fails the day, with the reason; without it, the day runs again.
    let broken = inbox.path().join("2026-11-25");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("manifest.csv"), "business_date,file,rows,encoding\n").unwrap();
    let (ok, _) = finish(nightly("2026-11-26"));
    assert!(!ok, "a day with a broken folder fails");
    assert_eq!(count("SELECT COUNT(*) FROM job_run WHERE status = 'failed'").await, 1);
    std::fs::remove_dir_all(&broken).unwrap();
    let (ok, retried) = finish(nightly("2026-11-26"));
    assert!(ok && retried.contains("nightly 2026-11-26: done"), "{retried}");

    let admin = app.api_as(Role::SysAdmin).await;
    let runs = admin.get("/api/v1/job-runs").await;
    let items = runs.body["items"].as_array().unwrap();
    let days: Vec<(&str, &str)> =
        items.iter().map(|r| (r["run_key"].as_str().unwrap(), r["status"].as_str().unwrap())).collect();
    assert_eq!(days, [("2026-11-26", "done"), ("2026-11-25", "done"), ("2026-11-24", "done")]);
    let detail: serde_json::Value = serde_json::from_str(items[2]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["loads"][0]["business_date"].as_str(), Some("2026-11-23"));
    let page = crate::helpers::ui_login(&app, Role::SysAdmin).await.0;
    let html = page.get(format!("{}/imports", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("装载业务日期 2026-11-23 的数据"), "the runs page tells what the night did");
    let r = app.api_as(Role::AccountManager).await.get("/api/v1/job-runs").await;
    assert_eq!(r.status, reqwest::StatusCode::FORBIDDEN);
}

/// In production the application role may read and write rows but not alter the schema
/// (docs/OPERATIONS.md §1; its rights are what `pcis grants` gives). A first load run as that
/// role (the nightly job) keeps the tables' indexes instead of setting them aside, and loads
/// the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_loads_without_setting_indexes_aside() {
    let Some(owner) = Target::new(Backend::Postgres).await else { return };
    assert!(owner.pcis(&["migrate"]).status.success());
    let schema_indexes = owner.indexes().await;
    let schema = owner.url.rsplit_once("search_path]=").map(|(_, s)| s.to_owned()).unwrap();
    let role = format!("app_{schema}");
    let db = Db::connect(&owner.url).await.unwrap();
    let Db::Pg(pool) = &db else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN"))).execute(pool).await.unwrap();
    db.close().await;
    let granted = owner.pcis(&["grants", "--app-role", &role, "--apply"]);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let as_app = owner.url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(as_app, owner.url, "the test URL names the postgres user");
    let app = Target { dir: tempfile::tempdir().unwrap(), url: as_app };
    std::fs::copy(owner.dir.path().join("keys.json"), app.dir.path().join("keys.json")).unwrap();
    let folder = generate(app.dir.path(), "day", &[]);
    let summary = app.import(&folder);
    assert_eq!(counts(&summary, "customers.csv"), [60, 60, 0, 0, 0], "{summary}");
    assert_eq!(owner.indexes().await, schema_indexes);
    assert_eq!(owner.count("SELECT COUNT(*) FROM import_deferred_index").await, 0);
    let db = Db::connect(&owner.url).await.unwrap();
    let Db::Pg(pool) = &db else { unreachable!() };
    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
    }
    db.close().await;
}

/// Renames a generated folder's head office (the generator's is `000000`) to `code`.
fn head_office_named(folder: &Path, code: &str) {
    let path = folder.join("institutions.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let renamed = text.replace("\n000000,", &format!("\n{code},")).replace(",000000,", &format!(",{code},"));
    assert_ne!(renamed, text, "the generated tree has its head office");
    std::fs::write(path, renamed).unwrap();
}
