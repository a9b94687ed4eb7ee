//! `seatledger backup`: a consistent snapshot of a live SQLite database, taken by SQLite itself
//! (`VACUUM INTO`, one read transaction) while `serve` keeps writing, and kept only once it has
//! been verified. A copy of the database file would tear: it misses the WAL, or catches pages of
//! two different commits. PostgreSQL is backed up with `pg_dump`, which knows its own schema
//! (identities, constraints, ownership) better than a dump through the pool could.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use super::check::{self, CheckReport};
use super::{Backend, Db, DbError, migrations};

/// How many of `check`'s problems a refused backup names.
const LISTED_PROBLEMS: usize = 5;

/// A verified snapshot, kept at `path`.
#[derive(Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub bytes: u64,
    /// The migration the snapshot (and the live database) is at.
    pub migration: i64,
    /// What `check` found on the snapshot: nothing broken, or it would not have been kept.
    pub check: CheckReport,
    pub copy_took: Duration,
    pub verify_took: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; a backup never overwrites a file, so choose a new name")]
    TargetExists(PathBuf),
    #[error("{0} is not a UTF-8 path; choose another")]
    NotUtf8(PathBuf),
    #[error(
        "`seatledger backup` snapshots SQLite databases; back up PostgreSQL with its own tool, \
         which takes a consistent snapshot while serve runs:\n  \
         pg_dump --format=custom --file={0} \"$SEATLEDGER_DATABASE\"\n\
         and restore it into an empty database with pg_restore (see docs/operations.md)"
    )]
    Postgres(String),
    #[error(
        "the database is at migration {database} but this seatledger is at {binary}; back it up \
         with the seatledger that serves it, or run `seatledger migrate` first"
    )]
    NotCurrent { database: i64, binary: i64 },
    #[error("the snapshot failed verification and was deleted: {0}")]
    Unverified(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Snapshots the database behind `db` into the new file `to` and verifies the snapshot: it opens
/// and its pages are sound, its migrations are this seatledger's, and `check` holds on it. Until
/// then it lives at `TO.partial`; only a verified snapshot takes the name `to`.
pub async fn to_file(db: &Db, to: &Path) -> Result<Snapshot, BackupError> {
    let status = migrations::status(db).await?;
    if db.backend() == Backend::Postgres {
        return Err(BackupError::Postgres(to.display().to_string()));
    }
    if !status.pending.is_empty() {
        return Err(BackupError::NotCurrent {
            database: status.version,
            binary: migrations::latest().version,
        });
    }
    let partial = partial_path(to);
    for path in [to, &partial] {
        if path.exists() {
            return Err(BackupError::TargetExists(path.to_owned()));
        }
    }
    let partial_text = partial
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(to.to_owned()))?;

    let started = Instant::now();
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(partial_text)
        .execute(db.pool())
        .await;
    let copy_took = started.elapsed();
    let started = Instant::now();
    let verified = match copied {
        Ok(_) => verify(partial_text).await,
        Err(e) => Err(DbError::from(e).into()),
    };
    let verify_took = started.elapsed();
    let check = match verified {
        Ok(check) => check,
        Err(e) => {
            // Ours: it did not exist before; a half-written or unverified snapshot is no backup.
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let bytes = keep(&partial, to).await?;
    Ok(Snapshot {
        path: to.to_owned(),
        bytes,
        migration: status.version,
        check,
        copy_took,
        verify_took,
    })
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Opens the snapshot read-only and proves it can be served: sound pages, current migrations,
/// a ledger that replays to the stored counts.
async fn verify(path: &str) -> Result<CheckReport, BackupError> {
    // Not `Db::connect`: its connections switch the file to WAL, which is a write.
    let options = AnyConnectOptions::from_str(&read_only_url(path)?).map_err(DbError::from)?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(DbError::from)?;
    let snapshot = Db {
        pool,
        backend: Backend::Sqlite,
        reader: None,
    };
    let verdict = verify_open(&snapshot).await;
    snapshot.close().await;
    verdict
}

/// A read-only SQLite URL for `path`, percent-encoded: the file name is the operator's and may
/// hold spaces, `#`, `?` or `%`.
fn read_only_url(path: &str) -> Result<String, BackupError> {
    let absolute = std::path::absolute(path).map_err(|source| BackupError::Io {
        path: PathBuf::from(path),
        source,
    })?;
    let absolute = absolute
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(absolute.clone()))?;
    let mut url = String::from("sqlite://");
    for byte in absolute.bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=ro");
    Ok(url)
}

async fn verify_open(snapshot: &Db) -> Result<CheckReport, BackupError> {
    let pages: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(snapshot.pool())
        .await
        .map_err(DbError::from)?;
    if pages != "ok" {
        return Err(BackupError::Unverified(format!(
            "SQLite's quick_check says: {pages}"
        )));
    }
    let status = migrations::status(snapshot).await?;
    if !status.pending.is_empty() {
        return Err(BackupError::Unverified(format!(
            "it is at migration {} instead of {}",
            status.version,
            migrations::latest().version
        )));
    }
    let report = check::run(snapshot).await?;
    if !report.is_clean() {
        let listed = report.problems.iter().take(LISTED_PROBLEMS);
        let more = report.problems.len() as u64 + report.unlisted_problems;
        let more = more.saturating_sub(LISTED_PROBLEMS as u64);
        let mut problems = listed.cloned().collect::<Vec<_>>().join("; ");
        if more > 0 {
            problems.push_str(&format!("; and {more} more"));
        }
        return Err(BackupError::Unverified(format!(
            "`check` fails on it, so it fails on the live database too (run `seatledger check`): \
             {problems}"
        )));
    }
    Ok(report)
}

/// Makes the snapshot durable under its final name: SQLite does not sync the file `VACUUM INTO`
/// writes, and a rename is durable only once its directory is synced.
async fn keep(partial: &Path, to: &Path) -> Result<u64, BackupError> {
    let (partial, to) = (partial.to_owned(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| BackupError::Io { path, source }
        };
        let file = std::fs::File::open(&partial).map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        let bytes = file.metadata().map_err(io(&partial))?.len();
        // A link, unlike a rename, refuses to replace a file that appeared meanwhile.
        std::fs::hard_link(&partial, &to).map_err(io(&to))?;
        std::fs::remove_file(&partial).map_err(io(&partial))?;
        let dir = match to.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))?;
        Ok(bytes)
    })
    .await
    .expect("the sync task does not panic")
}
