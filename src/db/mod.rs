//! Storage: one SQL layer over SQLite (the default, a file) and PostgreSQL (production).
//!
//! Queries are plain SQL text shared by both databases (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), run through sqlx's `Any` driver; a per-database branch exists only where the
//! databases truly differ. Instants are stored as Unix seconds. Every function that reads company
//! data takes the `Scope` it may see. No domain rule is decided here: functions load facts, ask
//! `crate::domain`, and write the outcome.

pub mod activity;
pub mod api_keys;
pub mod backup;
pub mod check;
pub mod companies;
pub mod expiry;
pub mod idempotency;
pub mod instance;
pub mod keyset;
pub mod licences;
pub mod limits;
pub mod locks;
pub mod migrations;
pub mod orders;
pub mod outbox;
pub mod overview;
pub mod partners;
pub mod passwords;
pub mod people;
pub mod reader;
pub mod scope;
pub mod seats;
pub mod seed;
pub mod sessions;
pub mod uploads;
pub mod users;
pub mod webhooks;

use std::str::FromStr;

use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::domain::{CompanyId, Email, UserId};

pub use scope::Scope;

/// Which database a `Db` talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Failures of storage operations: facts, not sentences. The operations layer turns them into
/// its typed errors; the edges write the words.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("the email address is already in use")]
    EmailTaken,
    #[error("user {0} already holds an active seat")]
    SeatHeld(UserId),
    #[error("the order is already {}", .0.as_str())]
    OrderDecided(crate::domain::OrderState),
    #[error(transparent)]
    NoFreeSeats(#[from] crate::domain::NotEnoughSeats),
    #[error(transparent)]
    LinkRefused(#[from] passwords::LinkError),
    #[error("the instance already has another operator")]
    OperatorExists,
    #[error("too many concurrent changes to the same seats")]
    Busy,
    #[error("a stored value is not valid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error(transparent)]
    NewerDatabase(#[from] migrations::NewerDatabase),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Reader(#[from] rusqlite::Error),
}

pub type DbResult<T> = Result<T, DbError>;

/// A stored text that must parse (an order's kind, a user's role); one that does not is corrupt.
pub(crate) fn parse_stored<T: std::str::FromStr>(column: &str, raw: &str) -> DbResult<T> {
    raw.parse()
        .map_err(|_| DbError::Corrupt(format!("{column} holds {raw:?}")))
}

/// Who made a change, recorded with every seat event and activity entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The person; `None` for the scheduler or the seeder.
    pub user: Option<UserId>,
    /// The company a partner user acted for in manage mode.
    pub on_behalf_of: Option<CompanyId>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        user: None,
        on_behalf_of: None,
    };

    pub fn user(user: UserId) -> Self {
        Actor {
            user: Some(user),
            on_behalf_of: None,
        }
    }
}

/// How many times a write that lost a race for the same rows is planned again before giving up.
pub(crate) const WRITE_ATTEMPTS: usize = 32;

/// `write_retrying!(db, |tx| { ... })`: runs the block in a write transaction on `db` and commits
/// what it gives (`DbResult<Option<T>>`). `Ok(None)` means a row changed under its plan
/// (PostgreSQL lets both racers read first): it runs again on fresh data, up to a bound, then
/// the caller hears `Busy`. Evaluates to a future of `DbResult<T>`.
macro_rules! write_retrying {
    ($db:expr, |$tx:ident| $body:block) => {
        async {
            for _ in 0..$crate::db::WRITE_ATTEMPTS {
                let mut $tx = $db.begin_write().await?;
                let attempt: $crate::db::DbResult<Option<_>> = async { $body }.await;
                match attempt? {
                    Some(done) => {
                        $tx.commit().await?;
                        return Ok(done);
                    }
                    None => $tx.rollback().await?,
                }
            }
            Err::<_, $crate::db::DbError>($crate::db::DbError::Busy)
        }
    };
}
pub(crate) use write_retrying;

/// Connections to a SQLite file. It takes one writer at a time and each page reads a few
/// pages of the file by index, so a handful of connections keeps two cores busy; more would
/// only queue on the write lock and hold more page cache.
const SQLITE_CONNECTIONS: u32 = 4;

/// Each SQLite connection's page cache, in KiB (SQLite's default is about 2 MiB). It bounds
/// the server's memory whatever the size of the file: 4 connections x 2 MiB at most, reached as
/// soon as the file is bigger than that. Pages beyond it come from the operating system's file
/// cache, which is shared and not the server's (memory-mapped reads stay off for the same
/// reason: they would count the mapped file as the server's memory).
const SQLITE_CACHE_KIB: u32 = 2048;

/// Connections to PostgreSQL per instance; keep instances x 16 under the server's
/// `max_connections`.
const POSTGRES_CONNECTIONS: u32 = 16;

/// A pool of connections to one database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's reads on the request's own thread, for the hottest path (a file, not memory).
    reader: Option<std::sync::Arc<reader::Reader>>,
}

impl Db {
    /// Connects to `url` (`sqlite://PATH`, created if missing, or `postgres://...`).
    pub async fn connect(url: &str) -> DbResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let reader = match backend {
            Backend::Sqlite if !url.contains("mode=memory") => {
                let file = sqlx::sqlite::SqliteConnectOptions::from_str(&url)?;
                Some(std::sync::Arc::new(reader::Reader::new(
                    file.get_filename(),
                )))
            }
            _ => None,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => SQLITE_CONNECTIONS,
                Backend::Postgres => POSTGRES_CONNECTIONS,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Writers queue on the lock instead of failing; WAL lets readers go on.
                        conn.execute(
                            format!(
                                "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; \
                                 PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA cache_size = -{SQLITE_CACHE_KIB}; PRAGMA mmap_size = 0;"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            backend,
            reader,
        })
    }

    /// Connects and brings the schema up to date.
    pub async fn connect_and_migrate(url: &str) -> DbResult<Self> {
        let db = Self::connect(url).await?;
        migrations::run(&db).await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The same-thread reader, on SQLite.
    pub(crate) fn reader(&self) -> Option<&reader::Reader> {
        self.reader.as_deref()
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction waits its turn instead of failing
    /// when another writer commits first.
    pub async fn begin_write(&self) -> DbResult<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// `FOR UPDATE` on PostgreSQL, where readers must lock the rows they will change; nothing on
    /// SQLite, whose write transaction already excludes other writers.
    pub(crate) fn for_update(&self) -> &'static str {
        self.backend.for_update()
    }

    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            reader.close();
        }
        self.pool.close().await;
    }
}

impl Backend {
    /// See `Db::for_update`.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// `for_update` of the rows of `alias` only: a join's other tables are read, not locked.
    pub(crate) fn for_update_of(self, alias: &str) -> String {
        match self {
            Backend::Postgres => format!(" FOR UPDATE OF {alias}"),
            Backend::Sqlite => String::new(),
        }
    }
}

/// `$first, $first+1, ...`: `n` placeholders for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(SELECT ...)` of the ids bound as the one text parameter `$n` (made by `id_list`), for
/// `IN`: a whole list in one statement, however long, where a placeholder per id would cost
/// more with every id. SQLite reads a JSON array, PostgreSQL a bigint array.
pub(crate) fn in_id_list(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("(SELECT unnest(CAST(${n} AS BIGINT[])))"),
    }
}

/// `FROM` text reading the ids bound as `$n` (made by `id_list`) as rows `u` of one column,
/// `id`.
pub(crate) fn id_rows(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value AS id FROM json_each(${n})) u"),
        Backend::Postgres => format!("unnest(CAST(${n} AS BIGINT[])) AS u (id)"),
    }
}

/// The parameter `in_id_list` reads.
pub(crate) fn id_list(backend: Backend, ids: impl IntoIterator<Item = i64>) -> String {
    let joined = ids
        .into_iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    match backend {
        Backend::Sqlite => format!("[{joined}]"),
        Backend::Postgres => format!("{{{joined}}}"),
    }
}

/// `email {in_email_list}`: whether an email is among those bound as the one parameter `$n`
/// (made by `email_list`). PostgreSQL splits the text at spaces, which no email holds: the
/// split is immutable, so the planner sees the list itself, knows its length, and hashes it
/// when it filters. A cast to `TEXT[]` is not folded: given 16,000 emails that way, the planner
/// chose a scan comparing every row with every email (over 30 s on 100,000 learners). SQLite
/// reads a JSON array.
pub(crate) fn in_email_list(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("IN (SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("= ANY(string_to_array(${n}, ' '))"),
    }
}

/// The parameter `in_email_list` reads.
pub(crate) fn email_list<'a>(
    backend: Backend,
    emails: impl IntoIterator<Item = &'a Email>,
) -> String {
    let emails = emails.into_iter().map(Email::as_str);
    match backend {
        Backend::Sqlite => {
            serde_json::to_string(&emails.collect::<Vec<_>>()).expect("text always serialises")
        }
        Backend::Postgres => emails.collect::<Vec<_>>().join(" "),
    }
}

/// The rows of `FROM` text `rows` as one JSON array of arrays of `values` (an SQL list): one
/// value to fetch where a row per learner cost the driver more than the database (a renewal
/// reads 100,000). NULL when there are no rows on PostgreSQL, `[]` on SQLite.
pub(crate) fn json_rows(backend: Backend, values: &str, rows: &str) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT json_group_array(json_array({values})) FROM {rows}"),
        Backend::Postgres => {
            format!("SELECT CAST(json_agg(json_build_array({values})) AS TEXT) FROM {rows}")
        }
    }
}

/// Rows of text columns bound as whole columns, for one `INSERT ... SELECT ... FROM` over them
/// instead of a statement per row: PostgreSQL unnests one text array per column, SQLite reads
/// one JSON array of rows. The rows read as `r` with the named columns and `r.n`, their place
/// from 1.
pub(crate) struct TextRows {
    columns: &'static [&'static str],
    rows: Vec<Vec<Option<String>>>,
}

impl TextRows {
    pub(crate) fn new(columns: &'static [&'static str]) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row of one value per column (`None` is NULL).
    pub(crate) fn push(&mut self, row: Vec<Option<String>>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// `FROM` text reading the rows, its values bound in `binds`.
    pub(crate) fn source(&self, backend: Backend, binds: &mut Binds) -> String {
        match backend {
            Backend::Postgres => {
                let arrays: Vec<String> = (0..self.columns.len())
                    .map(|c| {
                        let values = self.rows.iter().map(|row| row[c].as_deref());
                        format!("CAST({} AS TEXT[])", binds.text(text_array(values)))
                    })
                    .collect();
                format!(
                    "unnest({}) WITH ORDINALITY AS r ({}, n)",
                    arrays.join(", "),
                    self.columns.join(", ")
                )
            }
            Backend::Sqlite => {
                let json = serde_json::to_string(&self.rows).expect("text always serialises");
                let columns: Vec<String> = self
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(c, name)| format!("json_extract(j.value, '$[{c}]') AS {name}"))
                    .collect();
                format!(
                    "(SELECT j.key + 1 AS n, {} FROM json_each({}) j) r",
                    columns.join(", "),
                    binds.text(json)
                )
            }
        }
    }
}

/// A PostgreSQL text array literal: every value quoted, `"` and `\` escaped, NULL bare.
fn text_array<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    let quoted: Vec<String> = values
        .map(|value| match value {
            Some(text) => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "NULL".to_owned(),
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// How many ids one `in_id_list` statement takes: big enough that a statement's round trip is
/// small beside its work, small enough to keep each statement's memory modest.
pub(crate) const ID_LIST_CHUNK: usize = 10_000;

/// How many values one `IN (...)` list carries: well within both databases' bind limits, and
/// small, since the cost of binding grows faster than the number of parameters.
pub(crate) const CHUNK: usize = 250;

/// Bind values of a query built piece by piece: each `$n` is handed out as it is used, so the
/// text never names a parameter it does not bind (PostgreSQL refuses both ways).
#[derive(Default)]
pub(crate) struct Binds {
    values: Vec<Value>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl Binds {
    pub(crate) fn int(&mut self, v: i64) -> String {
        self.values.push(Value::Int(v));
        format!("${}", self.values.len())
    }

    /// The number the next value will take.
    pub(crate) fn next(&self) -> usize {
        self.values.len() + 1
    }

    /// How many values are bound so far.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// `int`, answering the parameter's number (for SQL builders that take one).
    pub(crate) fn int_at(&mut self, v: i64) -> usize {
        self.int(v);
        self.values.len()
    }

    pub(crate) fn text(&mut self, v: String) -> String {
        self.values.push(Value::Text(v));
        format!("${}", self.values.len())
    }

    pub(crate) fn apply<'q, O>(
        &self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}

impl Binds {
    /// `apply` for a query read by column name.
    pub(crate) fn apply_rows<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}

/// An instant as stored: Unix seconds.
pub(crate) fn secs(t: Timestamp) -> i64 {
    t.as_second()
}

/// An instant read back from a seconds column.
pub(crate) fn instant(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// True when `err` is a unique-constraint violation (on either database).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// One page of a list read by index, and where the next page starts.
#[derive(Clone, Debug)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only proves a next page exists.
    pub(crate) fn from_rows(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Self {
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(cursor)
        } else {
            None
        };
        Self { items, next }
    }
}
