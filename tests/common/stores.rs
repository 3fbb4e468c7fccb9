//! Fresh stores for tests, one per backend: a temporary SQLite file, and a new PostgreSQL
//! database on the server CI runs (127.0.0.1:5432, user postgres, trust auth; another with
//! `BAOCAO_TEST_POSTGRES`), dropped when the test ends.

use baocao_sync::store::{self, AnyStore};

/// The PostgreSQL server tests create their databases on.
pub fn postgres_server() -> String {
    std::env::var("BAOCAO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists while this value lives.
pub enum TestDb {
    Sqlite(tempfile::TempDir, String),
    Postgres { name: String, url: String },
}

impl TestDb {
    /// `sqlite` or `postgres`.
    pub fn new(backend: &str) -> TestDb {
        match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("store.db").display());
                TestDb::Sqlite(dir, url)
            }
            "postgres" => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "baocao_test_{}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed),
                    chrono::Utc::now().timestamp_subsec_nanos()
                );
                admin(&format!("CREATE DATABASE {name}"));
                let server = postgres_server();
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                TestDb::Postgres { name, url }
            }
            other => panic!("no backend `{other}`"),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite(_, url) => url,
            TestDb::Postgres { url, .. } => url,
        }
    }

    pub async fn open(&self) -> AnyStore {
        store::open(self.url()).await.expect("the store opens")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name, .. } = self {
            admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs one statement on the server's maintenance database, on a thread of its own (callers may
/// be inside an async runtime, or dropping).
fn admin(sql: &str) {
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&postgres_server())
                .await
                .expect("PostgreSQL answers on 127.0.0.1:5432 (see .ci/run)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        });
    })
    .join()
    .unwrap();
}

/// Both backends, for tests that must hold on each.
pub const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// Runs `sql` (one statement or many) on the database `url` names, creating a SQLite file.
pub async fn execute(url: &str, sql: String) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut c = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
}

/// The one integer `query` answers on the database `url` names.
pub async fn scalar(url: &str, query: &str) -> i64 {
    use sqlx::Connection;
    let q = sqlx::AssertSqlSafe(query.to_owned());
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(q).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(q).fetch_one(&mut c).await.unwrap()
    }
}
