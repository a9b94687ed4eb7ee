//! Reads for the hottest path on SQLite (the access check and the API key of every request),
//! run on the request's own thread over read-only connections to the same file.
//!
//! sqlx runs each SQLite connection on a thread of its own, and every statement travels there
//! and back: for a read by index that touches a handful of pages (about 15 µs), the two thread
//! hand-offs cost several times the read. These statements are the same SQL text as the rest
//! of the layer, and see what is committed as any other connection does (WAL snapshots).
//! PostgreSQL has no such hand-off to save, so it keeps the pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row};

use super::{DbResult, SQLITE_CACHE_KIB};

/// Connections kept open between reads. A read never waits inside, so each runtime thread uses
/// at most one at a time; a burst beyond this opens more and closes them after.
const KEPT: usize = 8;

/// How much of the file each reader maps into memory. A read by index touches a few pages at
/// random; mapped, they are read in place instead of copied by a system call each (that copy
/// and the page cache's bookkeeping were a fifth of the access check's time). The mapped pages
/// are the operating system's file cache, clean and shared: they show in the server's resident
/// memory as file pages (`RssFile`), not as its own (`RssAnon`), and a container is charged for
/// them whether they are mapped or read. The pool's connections keep `mmap_size = 0`.
const MAPPED_BYTES: u64 = 1 << 30;

/// How long a read waits for a lock: only WAL recovery after a crash takes one.
const BUSY_TIMEOUT_MS: u32 = 1000;

/// Read-only connections to one SQLite file.
#[derive(Debug)]
pub struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Reader {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
        connection.execute_batch(&format!(
            "PRAGMA cache_size = -{SQLITE_CACHE_KIB}; PRAGMA mmap_size = {MAPPED_BYTES};"
        ))?;
        connection.set_prepared_statement_cache_capacity(16);
        Ok(connection)
    }

    /// The first row `sql` returns for `params`, made by `row`, or `None`.
    pub(crate) fn one<T>(
        &self,
        sql: &str,
        params: impl Params,
        row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> DbResult<Option<T>> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let connection = match taken {
            Some(connection) => connection,
            None => self.open()?,
        };
        let found = connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row(params, row).optional());
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEPT {
            idle.push(connection);
        }
        Ok(found?)
    }

    /// Closes the kept connections (the pool is closing).
    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
