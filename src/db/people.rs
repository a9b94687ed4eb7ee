//! The company's users as its Users section sees them: the list with licence status, and the
//! storage steps of adding, deactivating and deleting a user.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::scope::AuthorisedCompany;
use super::users::{self, FACTS_COLUMNS};
use super::{CHUNK, Db, DbError, DbResult, Page, placeholders, secs};
use crate::domain::access::{LicenceStatus, Role, licence_status};
use crate::domain::{CompanyId, Email, UserId};

/// A user as the Users section lists them.
#[derive(Clone, Debug)]
pub struct UserLine {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub department: Option<String>,
    pub manager: bool,
    pub learner: bool,
    pub deactivated: bool,
    pub licence: LicenceStatus,
}

/// The Users section's columns of users `u`.
fn line_columns() -> String {
    format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, \
           u.department, {FACTS_COLUMNS} FROM users u"
    )
}

fn line(r: &sqlx::any::AnyRow, company: &AuthorisedCompany, now: Timestamp) -> DbResult<UserLine> {
    let user = users::company_user_facts(r)?;
    let Role::Company {
        manager, learner, ..
    } = user.role
    else {
        unreachable!("company_user_facts gives company roles");
    };
    Ok(UserLine {
        id: UserId(r.try_get("id")?),
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        department: r.try_get("department")?,
        manager,
        learner,
        deactivated: user.deactivated,
        licence: licence_status(&user, &company.facts, now),
    })
}

/// The columns the Users section sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserSort {
    /// In the order they were added.
    #[default]
    Added,
    /// By last name.
    Name,
    Email,
}

impl Sort for UserSort {
    const ALL: &'static [Self] = &[UserSort::Added, UserSort::Name, UserSort::Email];

    fn as_str(self) -> &'static str {
        match self {
            UserSort::Added => "added",
            UserSort::Name => "name",
            UserSort::Email => "email",
        }
    }

    /// Served by the users' primary key within `users_company_name`, `users_company_last_name`
    /// and `users_company_email` (company, key, id).
    fn key(self) -> (&'static str, bool) {
        match self {
            UserSort::Added => ("u.id", false),
            UserSort::Name => ("u.last_name", true),
            UserSort::Email => ("u.email", true),
        }
    }
}

/// The query of one page of the company's users.
pub fn page_query(
    company: CompanyId,
    (sort, descending): (UserSort, bool),
    seek: &Seek,
    limit: u32,
) -> Planned {
    let mut binds = Binds::default();
    let company = binds.int(company.0);
    let walk = Walk {
        key: sort.key().0,
        id: "u.id",
        descending,
    };
    let (keyset, order) = walk.sql(seek, limit, &mut binds);
    let sql = format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.last_name, u.email, \
           u.department, {FACTS_COLUMNS} FROM users u WHERE u.company_id = {company} \
           AND {keyset} {order}"
    );
    Planned { sql, binds }
}

/// One page of the company's users, sorted by `sort`.
pub async fn page(
    db: &Db,
    company: &AuthorisedCompany,
    sort: (UserSort, bool),
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<KeysetPage<UserLine>> {
    let query = page_query(company.id(), sort, seek, limit);
    let rows = query
        .binds
        .apply_rows(sqlx::query(&query.sql))
        .fetch_all(db.pool())
        .await?;
    let lines = rows
        .iter()
        .map(|r| {
            let line = line(r, company, now)?;
            let key = match sort.0 {
                UserSort::Added => SortKey::Number(line.id.0),
                UserSort::Name => SortKey::Text(r.try_get("last_name")?),
                UserSort::Email => SortKey::Text(line.email.clone()),
            };
            Ok((line, key))
        })
        .collect::<DbResult<Vec<_>>>()?;
    let page = keyset::page(seek, lines, limit, |(line, key)| Cursor {
        key: key.clone(),
        id: line.id.0,
    });
    Ok(KeysetPage {
        rows: page.rows.into_iter().map(|(line, _)| line).collect(),
        previous: page.previous,
        next: page.next,
    })
}

/// How many users the company has: the N of "1–50 of N".
pub async fn count(db: &Db, company: &AuthorisedCompany) -> DbResult<i64> {
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM users u WHERE u.company_id = $1")
        .bind(company.id().0)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The company's users by id, one page after `after`.
pub async fn list(
    db: &Db,
    company: &AuthorisedCompany,
    after: Option<UserId>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<UserLine, UserId>> {
    let seek = after.map_or(Seek::First, |u| {
        Seek::After(Cursor {
            key: SortKey::Number(u.0),
            id: u.0,
        })
    });
    let page = page(db, company, (UserSort::Added, false), &seek, limit, now).await?;
    Ok(Page {
        next: page.next.map(|c| UserId(c.id)),
        items: page.rows,
    })
}

/// User `user` of the company as the Users section lists them; another company's is not found.
pub async fn one(
    db: &Db,
    company: &AuthorisedCompany,
    user: UserId,
    now: Timestamp,
) -> DbResult<UserLine> {
    let row = sqlx::query(&format!(
        "{} WHERE u.company_id = $1 AND u.id = $2",
        line_columns()
    ))
    .bind(company.id().0)
    .bind(user.0)
    .fetch_optional(db.pool())
    .await?
    .ok_or(DbError::NotFound)?;
    line(&row, company, now)
}

/// Which of `emails` already belong to a user (of any tenant: an email signs in to one account).
pub async fn taken_emails(
    tx: &mut Transaction<'static, Any>,
    emails: &[&Email],
) -> DbResult<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in emails.chunks(CHUNK) {
        let sql = format!(
            "SELECT email FROM users WHERE email IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for email in chunk {
            query = query.bind(email.as_str());
        }
        taken.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(taken)
}

/// How many of `emails` belong to accounts outside `company` (other tenants, partners, the
/// operator): what Add User and Import Users must not reveal in bulk.
pub async fn in_use_elsewhere(db: &Db, company: CompanyId, emails: &[&Email]) -> DbResult<u64> {
    let mut count = 0;
    for chunk in emails.chunks(CHUNK) {
        let sql = format!(
            "SELECT COUNT(*) FROM users WHERE email IN ({}) \
             AND (company_id IS NULL OR company_id <> $1)",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(company.0);
        for email in chunk {
            query = query.bind(email.as_str());
        }
        count += u64::try_from(query.fetch_one(db.pool()).await?).unwrap_or(0);
    }
    Ok(count)
}

/// A user of the company, read (and on PostgreSQL locked) before changing them.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: UserId,
    pub email: String,
    pub manager: bool,
    pub deactivated: bool,
}

/// User `user` of `company`; a user of another company is not found.
pub async fn member(
    tx: &mut Transaction<'static, Any>,
    for_update: &str,
    company: CompanyId,
    user: UserId,
) -> DbResult<Member> {
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT email, is_manager, deactivated_at FROM users WHERE id = $1 AND company_id = $2{for_update}"
    ))
    .bind(user.0)
    .bind(company.0)
    .fetch_optional(&mut **tx)
    .await?;
    let (email, manager, deactivated) = row.ok_or(DbError::NotFound)?;
    Ok(Member {
        id: user,
        email,
        manager: manager != 0,
        deactivated: deactivated.is_some(),
    })
}

/// How many active managers the company has.
pub async fn active_managers(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE company_id = $1 AND is_manager = 1 \
         AND deactivated_at IS NULL",
    )
    .bind(company.0)
    .fetch_one(&mut **tx)
    .await?)
}

/// Marks the user deactivated (their row and history stay); ends their sessions.
pub async fn deactivate(
    tx: &mut Transaction<'static, Any>,
    user: UserId,
    now: Timestamp,
) -> DbResult<()> {
    sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2 AND deactivated_at IS NULL")
        .bind(secs(now))
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Removes the user's row; orders keep no link to them, the ledger keeps its events.
pub async fn delete(tx: &mut Transaction<'static, Any>, user: UserId) -> DbResult<()> {
    for sql in [
        "UPDATE orders SET requested_by = NULL WHERE requested_by = $1",
        "UPDATE orders SET decided_by = NULL WHERE decided_by = $1",
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM password_tokens WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(sql).bind(user.0).execute(&mut **tx).await?;
    }
    Ok(())
}
