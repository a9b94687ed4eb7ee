//! The company's Users section: listing users with their licence status, adding one, importing
//! many, deactivating and deleting. New learners get a free seat automatically; every new user
//! gets a welcome email with a set-password link valid 7 days.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::outbox::{self, NewEmail};
use super::users::{Membership, NewUser};
use super::{
    Actor, Db, DbError, DbResult, Page, Scope, activity, companies, passwords, seats, sessions,
    users,
};
use crate::domain::access::{LicenceStatus, Role, licence_status};
use crate::domain::allocation::{SeatOccasion, allocates_automatically};
use crate::domain::{CompanyId, Email, UserId};
use crate::email::messages;
use crate::imports::users::{RejectedRow, UserRow};

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

/// The company's users by id, one page after `after`.
pub async fn list(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    after: Option<UserId>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<UserLine, UserId>> {
    let facts = companies::facts(db, scope, company).await?;
    let rows = sqlx::query(&format!(
        "SELECT u.id, TRIM(u.first_name || ' ' || u.last_name) AS name, u.email, \
               u.department, {} FROM users u WHERE u.company_id = $1 AND u.id > $2 \
             ORDER BY u.id LIMIT $3",
        users::FACTS_COLUMNS
    ))
    .bind(company.0)
    .bind(after.map_or(0, |u| u.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            let (manager, learner) = users::company_role(r)?;
            let user = users::facts_from_row(r, Role::Company { manager, learner })?;
            Ok(UserLine {
                id: UserId(r.try_get("id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                department: r.try_get("department")?,
                manager,
                learner,
                deactivated: user.deactivated,
                licence: licence_status(&user, &facts, now),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Page::from_rows(items, limit, |u| u.id))
}

/// A person to add to a company.
pub struct NewPerson<'a> {
    pub email: &'a Email,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub department: Option<&'a str>,
    pub manager: bool,
    pub learner: bool,
}

/// Creates the user and queues their welcome email, inside `tx`.
async fn create_with_welcome(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    company_name: &str,
    person: &NewPerson<'_>,
    public_url: &str,
    now: Timestamp,
) -> DbResult<UserId> {
    let user = users::create(
        tx,
        &NewUser {
            email: person.email,
            first_name: person.first_name,
            last_name: person.last_name,
            department: person.department,
            password_hash: None,
            membership: Membership::Company {
                company,
                manager: person.manager,
                learner: person.learner,
            },
        },
        now,
    )
    .await?;
    let token = passwords::issue(tx, user, "welcome", passwords::WELCOME_LIFETIME, now).await?;
    let greeting = if person.first_name.is_empty() {
        person.email.as_str()
    } else {
        person.first_name
    };
    let email = messages::welcome(
        greeting,
        company_name,
        &format!("{public_url}/set-password?token={token}"),
    )
    .render();
    outbox::queue(
        tx,
        &NewEmail {
            idempotency_key: format!("welcome:user:{user}:{}", &token[..16]),
            kind: "welcome",
            company: Some(company),
            recipient: person.email.as_str(),
            email,
        },
        now,
    )
    .await?;
    Ok(user)
}

/// Gives new learners a free seat each while seats last (never expired users: they are renewed
/// by a person). Returns how many got one.
async fn seat_new_learners(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    learners: &[UserId],
    actor: Actor,
    now: Timestamp,
) -> DbResult<usize> {
    if learners.is_empty() || !allocates_automatically(SeatOccasion::NewUser) {
        return Ok(0);
    }
    if companies::facts(db, scope, company).await?.on_trial(now) {
        // On trial everyone has access; seats come with the first licences.
        return Ok(0);
    }
    let free = seats::counts(db, scope, company, now).await?.free();
    let take = learners.len().min(usize::try_from(free).unwrap_or(0));
    if take == 0 {
        return Ok(0);
    }
    match seats::allocate(db, scope, company, &learners[..take], actor, now).await {
        Ok(()) => Ok(take),
        // Someone took the seats meanwhile: the new learners wait for a licence.
        Err(DbError::NoFreeSeats(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Add User: creates the user, emails them, and seats a new learner if a seat is free.
pub async fn add(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    person: &NewPerson<'_>,
    actor: Actor,
    public_url: &str,
    now: Timestamp,
) -> DbResult<UserId> {
    let details = companies::details(db, scope, company).await?;
    let mut tx = db.begin_write().await?;
    let user =
        create_with_welcome(&mut tx, company, &details.name, person, public_url, now).await?;
    activity::record(
        &mut tx,
        company,
        "user_added",
        &format!("Added {}", person.email),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    if person.learner {
        seat_new_learners(db, scope, company, &[user], actor, now).await?;
    }
    Ok(user)
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportOutcome {
    pub imported: usize,
    pub seated: usize,
    /// Rows storage refused (the email already belongs to someone).
    pub rejected: Vec<RejectedRow>,
}

/// Import Users: every good row becomes a learner (rows whose email exists are reported);
/// then new learners are seated while free seats last, in file order.
pub async fn import(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    rows: &[UserRow],
    actor: Actor,
    public_url: &str,
    now: Timestamp,
) -> DbResult<ImportOutcome> {
    let details = companies::details(db, scope, company).await?;
    let mut outcome = ImportOutcome::default();
    let mut created = Vec::new();
    for chunk in rows.chunks(500) {
        let mut tx = db.begin_write().await?;
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT email FROM users WHERE email IN ({})",
            list.join(", ")
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for row in chunk {
            query = query.bind(row.email.as_str());
        }
        let existing: std::collections::HashSet<String> =
            query.fetch_all(&mut *tx).await?.into_iter().collect();
        for row in chunk {
            if existing.contains(row.email.as_str()) {
                outcome.rejected.push(RejectedRow {
                    line: row.line,
                    value: row.email.to_string(),
                    reason: "a user with this email already exists".into(),
                });
                continue;
            }
            let person = NewPerson {
                email: &row.email,
                first_name: &row.first_name,
                last_name: &row.last_name,
                department: row.department.as_deref(),
                manager: false,
                learner: true,
            };
            created.push(
                create_with_welcome(&mut tx, company, &details.name, &person, public_url, now)
                    .await?,
            );
        }
        tx.commit().await?;
    }
    outcome.imported = created.len();
    if !created.is_empty() {
        let mut tx = db.begin_write().await?;
        activity::record(
            &mut tx,
            company,
            "users_imported",
            &format!("Imported {} users", created.len()),
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
    }
    outcome.seated = seat_new_learners(db, scope, company, &created, actor, now).await?;
    Ok(outcome)
}

async fn user_in_company(
    tx: &mut Transaction<'static, Any>,
    company: CompanyId,
    user: UserId,
) -> DbResult<String> {
    sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND company_id = $2")
        .bind(user.0)
        .bind(company.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DbError::NotFound)
}

/// Deactivate: the user keeps their row and history, cannot sign in, and their seat returns to
/// its batch with the batch's remaining validity.
pub async fn deactivate(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    companies::facts(db, scope, company).await?;
    let mut tx = db.begin_write().await?;
    let email = user_in_company(&mut tx, company, user).await?;
    sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2 AND deactivated_at IS NULL")
        .bind(super::secs(now))
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
    seats::release_in(&mut tx, company, user, actor, now).await?;
    activity::record(
        &mut tx,
        company,
        "user_deactivated",
        &format!("Deactivated {email}"),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    sessions::revoke_all(db, user).await
}

/// Delete: the seat returns to its batch and the user's row goes; the ledger keeps its events.
pub async fn delete(
    db: &Db,
    scope: &Scope,
    company: CompanyId,
    user: UserId,
    actor: Actor,
    now: Timestamp,
) -> DbResult<()> {
    companies::facts(db, scope, company).await?;
    let mut tx = db.begin_write().await?;
    let email = user_in_company(&mut tx, company, user).await?;
    seats::release_in(&mut tx, company, user, actor, now).await?;
    for sql in [
        "UPDATE orders SET requested_by = NULL WHERE requested_by = $1",
        "UPDATE orders SET decided_by = NULL WHERE decided_by = $1",
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM password_tokens WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(sql).bind(user.0).execute(&mut *tx).await?;
    }
    activity::record(
        &mut tx,
        company,
        "user_deleted",
        &format!("Deleted {email}"),
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
