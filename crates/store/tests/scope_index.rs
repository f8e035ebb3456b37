//! A subtree is an index range scan on both backends, not a walk of the tree (R-ORG-2):
//! the query the scope filter produces must be able to use the unique index on `path`.

use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::policy::ScopeFilter;
use pcis_store::Db;
use pcis_store::db::{Arg, SqlBuilder};

fn subtree_query() -> SqlBuilder {
    let mut q = SqlBuilder::new("SELECT id FROM institution WHERE 1 = 1");
    q.scope("path", &ScopeFilter::Subtree(InstPath::root(InstitutionId(1)).child(InstitutionId(5))));
    q
}

fn literal(sql: &str, args: &[Arg]) -> String {
    // EXPLAIN cannot take bind parameters everywhere; inline the (trusted, test-only) values.
    let mut sql = sql.to_owned();
    for (i, a) in args.iter().enumerate().rev() {
        let v = match a {
            Arg::I64(n) | Arg::OptI64(Some(n)) => n.to_string(),
            Arg::Text(s) | Arg::OptText(Some(s)) => format!("'{}'", s.replace('\'', "''")),
            Arg::Bool(b) => b.to_string(),
            Arg::OptText(None) | Arg::OptI64(None) | Arg::Bytes(_) => {
                unreachable!("scope queries bind ids and text")
            }
        };
        sql = sql.replace(&format!("${}", i + 1), &v);
    }
    sql
}

#[tokio::test]
async fn sqlite_subtree_uses_the_path_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    db.migrate().await.unwrap();
    let Db::Sqlite { read: pool, .. } = &db else { unreachable!() };
    let q = subtree_query();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", literal(&q.sql, &q.args))))
            .fetch_all(pool)
            .await
            .unwrap();
    let text: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
    assert!(
        text.iter().any(|d| d.contains("USING") && d.contains("INDEX") && d.contains("path")),
        "{text:?}"
    );
}

#[tokio::test]
async fn postgres_subtree_uses_the_path_index() {
    let Ok(base) = std::env::var("PCIS_TEST_POSTGRES_URL") else {
        assert!(std::env::var("PCIS_TEST_REQUIRE_ALL").as_deref() != Ok("1"), "PostgreSQL is required");
        eprintln!("SKIPPED: PostgreSQL index test (PCIS_TEST_POSTGRES_URL unset)");
        return;
    };
    let schema = format!("scope_{}", std::process::id());
    let admin = Db::connect(&base).await.unwrap();
    let Db::Pg(admin_pool) = &admin else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(admin_pool)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(admin_pool).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let db = Db::connect(&format!("{base}{sep}options[search_path]={schema}")).await.unwrap();
    db.migrate().await.unwrap();
    let Db::Pg(pool) = &db else { unreachable!() };
    let mut conn = pool.acquire().await.unwrap();
    // The table is empty; forbid the sequential scan so the planner shows whether the index
    // serves the range. (The column is COLLATE "C" so that the range is also *correct*: under
    // a linguistic collation '/' does not sort byte-wise.)
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    let q = subtree_query();
    let plan: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {}", literal(&q.sql, &q.args))))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert!(plan.iter().any(|l| l.contains("Index Cond") && l.contains("path >=")), "{plan:?}");
    assert!(plan.iter().any(|l| l.contains("institution_path")), "{plan:?}");
    drop(conn);
    db.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(admin_pool)
        .await
        .unwrap();
}

/// The auditor's search by customer reads the partial index of records that name a target
/// (migration 0020): its `target_id <> ''` term is what lets SQLite use it.
#[tokio::test]
async fn sqlite_audit_search_by_target_uses_the_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite:{}", dir.path().join("a.db").display())).await.unwrap();
    db.migrate().await.unwrap();
    let Db::Sqlite { read: pool, .. } = &db else { unreachable!() };
    let sql = "EXPLAIN QUERY PLAN SELECT a.seq FROM audit_log a WHERE a.target_id <> '' \
               AND a.target_type = 'customer' AND a.target_id = '42' ORDER BY a.seq DESC";
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sql).fetch_all(pool).await.unwrap();
    let text: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
    assert!(text.iter().any(|d| d.contains("audit_log_target")), "{text:?}");
}
