//! The core's institution tree and the bootstrap's agree on one head office, and a folder
//! moves no institution (issue 17), through the real `pcis import` on both backends.

use std::path::{Path, PathBuf};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
use crate::import::{Target, counts, pairs_at, write_day};

both_backends!(
    a_second_head_office_from_the_core_is_refused,
    a_moved_parent_is_refused_not_counted_unchanged,
    the_first_load_into_an_empty_tree_makes_its_head_office
);

/// A day bringing only these institution rows (the other files empty).
fn institutions_day(dir: &Path, name: &str, rows: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    write_day(
        &folder,
        [
            ("institutions.csv", format!("code,name,level,parent_code,kind,effective_from\n{rows}")),
            ("products.csv", "product_code,product_type,product_name,currency\n".into()),
            (
                "customers.csv",
                "customer_no,name,gender,birth_date,id_type,id_number,mobile,address,institution_code\n"
                    .into(),
            ),
            (
                "accounts.csv",
                "account_no,customer_no,product_code,currency,balance,opened_on,status,institution_code\n"
                    .into(),
            ),
            ("transactions.csv", "txn_no,account_no,posted_at,amount,currency,channel,summary\n".into()),
        ],
    );
    folder
}

/// The rejects file of a folder: [file, row, key, field, rule] per row, each checked to carry
/// its message in words.
fn rejects_of(folder: &Path) -> Vec<[String; 5]> {
    let mut reader = csv::Reader::from_path(folder.join("rejects.csv")).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert!(!r[5].is_empty() && !r[5].starts_with("err."), "a message in words: {r:?}");
            std::array::from_fn(|i| r[i].to_owned())
        })
        .collect()
}

fn reject(row: &str, code: &str, rule: &str) -> [String; 5] {
    ["institutions.csv", row, code, "parent_code", rule].map(str::to_owned)
}

/// The institution tree: (code, "parent-code level path"), by code.
async fn tree_at(url: &str) -> Vec<(String, String)> {
    pairs_at(
        url,
        "SELECT i.code, COALESCE(p.code, '-') || ' ' || CAST(i.level AS TEXT) || ' ' || i.path
         FROM institution i LEFT JOIN institution p ON p.id = i.parent_id ORDER BY i.code",
    )
    .await
}

/// The head offices: (code, path).
async fn head_offices_at(url: &str) -> Vec<(String, String)> {
    pairs_at(url, "SELECT code, path FROM institution WHERE parent_id IS NULL ORDER BY code").await
}

/// Issue 17 (4): a deployment bootstrapped with head office HO loads a core folder naming
/// another head office, ZH. ZH is refused by rule (the API refuses a second root too), its
/// children with it as their parent is unknown, the rows of the stored tree stay unchanged;
/// the tree is as before, and a second load does the same.
async fn a_second_head_office_from_the_core_is_refused(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = institutions_day(
        dir.path(),
        "two-roots",
        "ZH,总行,1,,management,2020-01-01\n\
         ZH01,安徽省分行,2,ZH,management,2020-01-01\n\
         HO,总行,1,,management,2020-01-01\n\
         P1,江苏省分行,2,HO,management,2020-01-01\n",
    );
    let before = tree_at(&app.db_url).await;
    for _ in 0..2 {
        let out = app.cli(&["import", folder.to_str().unwrap()]);
        let summary = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(counts(&summary, "institutions.csv"), [4, 0, 0, 2, 2], "{summary}");
        assert_eq!(
            rejects_of(&folder),
            [reject("2", "ZH", "err.inst_root_exists"), reject("3", "ZH01", "err.inst_parent_unknown")]
        );
        assert_eq!(tree_at(&app.db_url).await, before);
    }
    let roots = head_offices_at(&app.db_url).await;
    assert_eq!(roots.iter().map(|(code, _)| code.as_str()).collect::<Vec<_>>(), ["HO"]);
}

/// Issue 17 (4): a folder whose row names another parent than the stored one (a sub-branch
/// and an outlet under another branch, a province branch as a head office) does not count it
/// unchanged: nothing moves an institution with its subtree yet, so the row is refused with
/// the rule saying where to move it; its neighbours load, and the stored tree keeps its
/// parents, levels and paths.
async fn a_moved_parent_is_refused_not_counted_unchanged(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = institutions_day(
        dir.path(),
        "moved",
        "HO,总行,1,,management,2020-01-01\n\
         S2,西湖支行,4,C1,management,2020-01-01\n\
         O3,湖滨路网点,5,S1,self_run,2020-01-01\n\
         O2,人民路代理网点,5,S1,agency,2020-01-01\n\
         O4,新街口网点,5,S1,self_run,2020-01-01\n\
         P2,浙江省分行,1,,management,2020-01-01\n",
    );
    let before = tree_at(&app.db_url).await;
    let out = app.cli(&["import", folder.to_str().unwrap()]);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(counts(&summary, "institutions.csv"), [6, 1, 0, 2, 3], "{summary}");
    assert_eq!(
        rejects_of(&folder),
        [
            reject("3", "S2", "err.inst_parent_differs"),
            reject("4", "O3", "err.inst_parent_differs"),
            reject("7", "P2", "err.inst_parent_differs")
        ]
    );
    let after = tree_at(&app.db_url).await;
    let s1 = app.institution_id("S1").await;
    let o4 = app.institution_id("O4").await;
    let added = after.iter().find(|(code, _)| code == "O4").unwrap();
    assert!(added.1.starts_with("S1 5 ") && added.1.ends_with(&format!("/{s1}/{o4}/")), "{added:?}");
    assert_eq!(after.into_iter().filter(|(code, _)| code != "O4").collect::<Vec<_>>(), before);
}

/// Issue 17 (4): a database without institutions takes the core's tree, head office first
/// (the first root row of the folder); another root row in the same folder is refused. The
/// bootstrap then agrees with it: with another head-office code it refuses and writes
/// nothing, with the core's code it adds the administrator there.
async fn the_first_load_into_an_empty_tree_makes_its_head_office(b: Backend) {
    let Some(t) = Target::new(b).await else { return };
    let folder = institutions_day(
        t.dir.path(),
        "empty",
        "ZH,总行,1,,management,2020-01-01\n\
         HO,总行,1,,management,2020-01-01\n\
         ZH01,安徽省分行,2,ZH,management,2020-01-01\n",
    );
    let summary = t.import(&folder);
    assert_eq!(counts(&summary, "institutions.csv"), [3, 2, 0, 0, 1], "{summary}");
    assert_eq!(rejects_of(&folder), [reject("3", "HO", "err.inst_root_exists")]);
    let roots = head_offices_at(&t.url).await;
    assert_eq!(roots.iter().map(|(code, _)| code.as_str()).collect::<Vec<_>>(), ["ZH"]);
    let tree = tree_at(&t.url).await;
    assert_eq!(
        tree.iter().map(|(c, p)| (c.as_str(), &p[..5])).collect::<Vec<_>>(),
        [("ZH", "- 1 /"), ("ZH01", "ZH 2 ")]
    );

    let bootstrap = |code: &str| t.pcis(&crate::helpers::bootstrap_args(code));
    let refused = bootstrap("HO");
    assert!(!refused.status.success(), "{}", String::from_utf8_lossy(&refused.stdout));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("err.inst_root_exists"));
    assert_eq!(tree_at(&t.url).await, tree);
    assert_eq!(t.count("SELECT COUNT(*) FROM app_user").await, 0);
    let agreed = bootstrap("ZH");
    assert!(agreed.status.success(), "{}", String::from_utf8_lossy(&agreed.stderr));
    assert_eq!(tree_at(&t.url).await, tree);
    let at = "SELECT COUNT(*) FROM app_user u JOIN institution i ON i.id = u.institution_id
        WHERE u.username = 'admin' AND i.code = 'ZH'";
    assert_eq!(t.count(at).await, 1);
}
