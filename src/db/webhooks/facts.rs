//! The facts webhook payloads carry, read inside the transaction of the change, so a payload
//! says what that transaction made true.

use jiff::Timestamp;
use sqlx::{Any, Transaction};

use crate::db::{DbError, DbResult, instant, parse_stored, placeholders};
use crate::domain::{BatchId, CompanyId, OrderId, OrderKind, OrderState, PartnerId, UserId};

/// A company as payloads name it.
#[derive(Clone, Debug)]
pub struct CompanyFact {
    pub id: CompanyId,
    pub name: String,
    pub partner: PartnerId,
    pub trial_ends_at: Timestamp,
}

pub async fn company_fact(
    tx: &mut Transaction<'static, Any>,
    id: CompanyId,
) -> DbResult<CompanyFact> {
    let (name, partner, trial_ends_at): (String, i64, i64) =
        sqlx::query_as("SELECT name, partner_id, trial_ends_at FROM companies WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(DbError::NotFound)?;
    Ok(CompanyFact {
        id,
        name,
        partner: PartnerId(partner),
        trial_ends_at: instant(trial_ends_at),
    })
}

#[derive(Clone, Debug)]
pub struct OrderFact {
    pub id: OrderId,
    pub kind: OrderKind,
    pub quantity: i64,
    pub state: OrderState,
    pub requested_at: Timestamp,
    /// The email of whoever asked (gone if they were deleted).
    pub requested_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub reject_reason: Option<String>,
}

type OrderRow = (
    i64,
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

pub async fn order_fact(tx: &mut Transaction<'static, Any>, id: OrderId) -> DbResult<OrderFact> {
    let row: OrderRow = sqlx::query_as(
        "SELECT o.id, o.kind, o.quantity, o.state, o.requested_at, u.email, o.decided_at, \
         o.reject_reason FROM orders o LEFT JOIN users u ON u.id = o.requested_by WHERE o.id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound)?;
    let (id, kind, quantity, state, requested_at, requested_by, decided_at, reject_reason) = row;
    Ok(OrderFact {
        id: OrderId(id),
        kind: parse_stored("orders.kind", &kind)?,
        quantity,
        state: parse_stored("orders.state", &state)?,
        requested_at: instant(requested_at),
        requested_by,
        decided_at: decided_at.map(instant),
        reject_reason,
    })
}

#[derive(Clone, Debug)]
pub struct BatchFact {
    pub id: BatchId,
    pub company: CompanyId,
    pub order: Option<OrderId>,
    pub kind: OrderKind,
    pub quantity: i64,
    pub allocated: i64,
    pub assigned_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn batch_fact(tx: &mut Transaction<'static, Any>, id: BatchId) -> DbResult<BatchFact> {
    let row: (i64, Option<i64>, String, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT company_id, order_id, kind, quantity, allocated, assigned_at, expires_at \
         FROM licence_batches WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DbError::NotFound)?;
    let (company, order, kind, quantity, allocated, assigned_at, expires_at) = row;
    Ok(BatchFact {
        id,
        company: CompanyId(company),
        order: order.map(OrderId),
        kind: parse_stored("licence_batches.kind", &kind)?,
        quantity,
        allocated,
        assigned_at: instant(assigned_at),
        expires_at: instant(expires_at),
    })
}

#[derive(Clone, Debug)]
pub struct UserFact {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub manager: bool,
    pub learner: bool,
    pub deactivated_at: Option<Timestamp>,
}

type UserRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

/// The users among `ids` (at most a few hundred), in id order.
pub async fn user_facts(
    tx: &mut Transaction<'static, Any>,
    ids: &[UserId],
) -> DbResult<Vec<UserFact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, email, first_name, last_name, department, is_manager, is_learner, \
         deactivated_at FROM users WHERE id IN ({}) ORDER BY id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as::<_, UserRow>(&sql);
    for id in ids {
        query = query.bind(id.0);
    }
    Ok(query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(
            |(id, email, first_name, last_name, department, manager, learner, deactivated)| {
                UserFact {
                    id: UserId(id),
                    email,
                    first_name,
                    last_name,
                    department,
                    manager: manager == 1,
                    learner: learner == 1,
                    deactivated_at: deactivated.map(instant),
                }
            },
        )
        .collect())
}

/// A learner's seat as payloads name it.
#[derive(Clone, Debug)]
pub struct SeatFact {
    pub user: UserId,
    pub email: String,
    pub batch: BatchId,
    pub expires_at: Timestamp,
}

/// The open seats of the users among `ids` (at most a few hundred), in user order.
pub async fn open_seats(
    tx: &mut Transaction<'static, Any>,
    ids: &[UserId],
) -> DbResult<Vec<SeatFact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT u.id, u.email, b.id, b.expires_at FROM seats s JOIN users u ON u.id = s.user_id \
         JOIN licence_batches b ON b.id = s.batch_id \
         WHERE s.ended_at IS NULL AND s.user_id IN ({}) ORDER BY u.id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String, i64, i64)>(&sql);
    for id in ids {
        query = query.bind(id.0);
    }
    Ok(query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|(user, email, batch, expires_at)| SeatFact {
            user: UserId(user),
            email,
            batch: BatchId(batch),
            expires_at: instant(expires_at),
        })
        .collect())
}
