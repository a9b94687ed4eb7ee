//! Partners and their tree.

use sqlx::{Any, FromRow, Transaction};

use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::{Actor, Db, DbError, DbResult, companies, seats, secs};
use crate::domain::company::NFR_SEATS;
use crate::domain::{Email, OrgName, PartnerId, SeatCount, TimeZoneName, TrialDays, UserId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    pub id: PartnerId,
    pub parent_id: Option<PartnerId>,
    pub name: String,
    pub trial_days: TrialDays,
}

/// Creates a partner under `parent` (a distributor when `None`), records its place in the tree,
/// and gives it its internal company with its NFR seats: every way a partner is made comes here.
pub async fn create(
    tx: &mut Transaction<'static, Any>,
    parent: Option<PartnerId>,
    name: &OrgName,
    trial_days: TrialDays,
    now: jiff::Timestamp,
) -> DbResult<PartnerId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO partners (parent_id, name, trial_days, nfr_seats, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(parent.map(|p| p.0))
    .bind(name.as_str())
    .bind(i64::from(trial_days.get()))
    .bind(i64::from(NFR_SEATS))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO partner_ancestors (ancestor_id, descendant_id, depth) \
         SELECT ancestor_id, $1, depth + 1 FROM partner_ancestors WHERE descendant_id = $2 \
         UNION ALL SELECT $1, $1, 0",
    )
    .bind(id)
    .bind(parent.map_or(-1, |p| p.0))
    .execute(&mut **tx)
    .await?;
    let partner = PartnerId(id);
    let internal = companies::create_internal(tx, partner, name, now).await?;
    let nfr = SeatCount::new(i64::from(NFR_SEATS)).expect("NFR_SEATS is a valid seat count");
    seats::assign_nfr(tx, internal, nfr, Actor::SYSTEM, now).await?;
    Ok(partner)
}

/// The partner `id` if `viewer` is that partner or one of its ancestors.
pub async fn get_within(db: &Db, viewer: PartnerId, id: PartnerId) -> DbResult<Partner> {
    let row: Option<(i64, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT p.id, p.parent_id, p.name, p.trial_days FROM partners p \
         JOIN partner_ancestors a ON a.descendant_id = p.id AND a.ancestor_id = $1 WHERE p.id = $2",
    )
    .bind(viewer.0)
    .bind(id.0)
    .fetch_optional(db.pool())
    .await?;
    let (id, parent_id, name, trial_days) = row.ok_or(DbError::NotFound)?;
    Ok(Partner {
        id: PartnerId(id),
        parent_id: parent_id.map(PartnerId),
        name,
        trial_days: TrialDays::new(trial_days)
            .map_err(|_| DbError::Corrupt(format!("partners.trial_days holds {trial_days}")))?,
    })
}

/// A direct sub-partner, as the Sub-partners page lists it.
#[derive(Clone, Debug)]
pub struct SubPartnerRow {
    pub id: PartnerId,
    pub name: String,
    pub trial_days: i64,
    pub companies: i64,
}

/// The column Sub-partners sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubPartnerSort {
    #[default]
    Name,
}

impl Sort for SubPartnerSort {
    const ALL: &'static [Self] = &[SubPartnerSort::Name];

    fn as_str(self) -> &'static str {
        "name"
    }

    /// Served by `partners_parent_name` (parent, name, id).
    fn key(self) -> (&'static str, bool) {
        ("p.name", true)
    }
}

/// The query of one page of `parent`'s direct sub-partners.
pub fn children_query(parent: PartnerId, descending: bool, seek: &Seek, limit: u32) -> Planned {
    let mut binds = Binds::default();
    let parent = binds.int(parent.0);
    let walk = Walk {
        key: "p.name",
        id: "p.id",
        descending,
    };
    let (keyset, order) = walk.sql(seek, limit, &mut binds);
    let sql = format!(
        "SELECT p.id, p.name, p.trial_days, \
           (SELECT COUNT(*) FROM companies c WHERE c.partner_id = p.id AND c.internal = 0) \
           AS companies \
         FROM partners p WHERE p.parent_id = {parent} AND {keyset} {order}"
    );
    Planned { sql, binds }
}

/// One page of the direct sub-partners of `parent`, by name.
pub async fn children(
    db: &Db,
    parent: PartnerId,
    descending: bool,
    seek: &Seek,
    limit: u32,
) -> DbResult<KeysetPage<SubPartnerRow>> {
    let query = children_query(parent, descending, seek, limit);
    let rows: Vec<(i64, String, i64, i64)> = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_all(db.pool())
        .await?;
    let page = keyset::page(seek, rows, limit, |(id, name, _, _)| Cursor {
        key: SortKey::Text(name.clone()),
        id: *id,
    });
    Ok(KeysetPage {
        rows: page
            .rows
            .into_iter()
            .map(|(id, name, trial_days, companies)| SubPartnerRow {
                id: PartnerId(id),
                name,
                trial_days,
                companies,
            })
            .collect(),
        previous: page.previous,
        next: page.next,
    })
}

/// How many direct sub-partners `parent` has.
pub async fn children_count(db: &Db, parent: PartnerId) -> DbResult<i64> {
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM partners p WHERE p.parent_id = $1")
        .bind(parent.0)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The active users of `partner`, for choosing an account manager.
pub async fn users(db: &Db, partner: PartnerId) -> DbResult<Vec<(UserId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, TRIM(first_name || ' ' || last_name) || ' <' || email || '>' FROM users \
         WHERE partner_id = $1 AND deactivated_at IS NULL ORDER BY last_name, first_name, id LIMIT 500",
    )
    .bind(partner.0)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (UserId(id), name))
        .collect())
}

/// The time zone `partner`'s pages show dates in.
pub async fn time_zone(db: &Db, partner: PartnerId) -> DbResult<String> {
    let zone = sqlx::query_scalar("SELECT time_zone FROM partners WHERE id = $1")
        .bind(partner.0)
        .fetch_one(db.pool())
        .await?;
    Ok(zone)
}

/// Sets the time zone `partner`'s pages show dates in; answers the zone it had (read under the
/// write lock, so two changes at once each name the zone they replaced).
pub async fn set_time_zone(
    tx: &mut Transaction<'static, Any>,
    backend: super::Backend,
    partner: PartnerId,
    zone: &TimeZoneName,
) -> DbResult<String> {
    let before: String = sqlx::query_scalar(&format!(
        "SELECT time_zone FROM partners WHERE id = $1{}",
        backend.for_update()
    ))
    .bind(partner.0)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE partners SET time_zone = $1 WHERE id = $2")
        .bind(zone.as_str())
        .bind(partner.0)
        .execute(&mut **tx)
        .await?;
    Ok(before)
}

/// A partner as the operator's console lists it: where it sits, its own customer companies and
/// their seats, its NFR seats, and its admins still to accept their invitation.
#[derive(Clone, Debug, FromRow)]
pub struct PartnerRow {
    pub id: i64,
    pub name: String,
    pub parent_name: Option<String>,
    pub trial_days: i64,
    pub companies: i64,
    pub seats_used: i64,
    pub seats_total: i64,
    pub nfr_used: i64,
    pub nfr_total: i64,
    pub invitations_pending: i64,
}

/// Every partner in name order, one page after `after` (a name and id), with its seats at `now`.
pub async fn all(
    db: &Db,
    after: Option<(&str, PartnerId)>,
    limit: u32,
    now: jiff::Timestamp,
) -> DbResult<super::Page<PartnerRow, (String, PartnerId)>> {
    let valid = seats::valid_batch("b", 1);
    let seats = |what: &str, internal: i64| {
        format!(
            "(SELECT COALESCE(SUM(b.{what}), 0) FROM licence_batches b \
              JOIN companies c ON c.id = b.company_id \
              WHERE c.partner_id = p.id AND c.internal = {internal} AND b.nfr = {internal} \
              AND {valid})"
        )
    };
    let rows: Vec<PartnerRow> = sqlx::query_as(&format!(
        "SELECT p.id, p.name, pp.name AS parent_name, p.trial_days, \
           (SELECT COUNT(*) FROM companies c WHERE c.partner_id = p.id AND c.internal = 0) \
             AS companies, \
           {} AS seats_used, {} AS seats_total, {} AS nfr_used, {} AS nfr_total, \
           (SELECT COUNT(*) FROM users u WHERE u.partner_id = p.id AND u.partner_admin = 1 \
             AND u.password_hash IS NULL AND u.deactivated_at IS NULL) AS invitations_pending \
         FROM partners p LEFT JOIN partners pp ON pp.id = p.parent_id \
         WHERE p.name > $2 OR (p.name = $2 AND p.id > $3) ORDER BY p.name, p.id LIMIT $4",
        seats("allocated", 0),
        seats("quantity", 0),
        seats("allocated", 1),
        seats("quantity", 1),
    ))
    .bind(secs(now))
    .bind(after.map_or("", |a| a.0))
    .bind(after.map_or(0, |a| a.1.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    Ok(super::Page::from_rows(rows, limit, |p| {
        (p.name.clone(), PartnerId(p.id))
    }))
}

/// A partner user as the operator sees them, for resending an invitation.
#[derive(Clone, Debug, FromRow)]
pub struct PartnerPerson {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub admin: i64,
    /// No password yet: the welcome link has not been used.
    pub invited: i64,
    pub deactivated: i64,
}

/// Partner `partner` (the operator sees every one) and its users, admins first (at most 500).
pub async fn with_people(db: &Db, partner: PartnerId) -> DbResult<(Partner, Vec<PartnerPerson>)> {
    let row: Option<(Option<i64>, String, i64)> =
        sqlx::query_as("SELECT parent_id, name, trial_days FROM partners WHERE id = $1")
            .bind(partner.0)
            .fetch_optional(db.pool())
            .await?;
    let (parent_id, name, trial_days) = row.ok_or(DbError::NotFound)?;
    let found = Partner {
        id: partner,
        parent_id: parent_id.map(PartnerId),
        name,
        trial_days: TrialDays::new(trial_days)
            .map_err(|_| DbError::Corrupt(format!("partners.trial_days holds {trial_days}")))?,
    };
    let people = sqlx::query_as(
        "SELECT id, TRIM(first_name || ' ' || last_name) AS name, email, partner_admin AS admin, \
           CASE WHEN password_hash IS NULL THEN 1 ELSE 0 END AS invited, \
           CASE WHEN deactivated_at IS NULL THEN 0 ELSE 1 END AS deactivated \
         FROM users WHERE partner_id = $1 \
         ORDER BY partner_admin DESC, last_name, first_name, id LIMIT 500",
    )
    .bind(partner.0)
    .fetch_all(db.pool())
    .await?;
    Ok((found, people))
}

/// A partner user whose invitation may be sent again.
#[derive(Clone, Debug)]
pub struct Invitee {
    pub partner: PartnerId,
    pub partner_name: String,
    pub email: Email,
    pub first_name: String,
    /// They set a password already: the invitation was accepted.
    pub accepted: bool,
    pub deactivated: bool,
}

/// Partner user `user`, locked (PostgreSQL) while their invitation is replaced; any other user
/// is not found.
pub async fn invitee(
    tx: &mut Transaction<'static, Any>,
    for_update: &str,
    user: UserId,
) -> DbResult<Invitee> {
    let row: Option<InviteeRecord> = sqlx::query_as(&format!(
        "SELECT u.partner_id, p.name AS partner_name, u.email, u.first_name, u.password_hash, \
           u.deactivated_at FROM users u JOIN partners p ON p.id = u.partner_id \
         WHERE u.id = $1 AND u.kind = 'partner'{for_update}"
    ))
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await?;
    let r = row.ok_or(DbError::NotFound)?;
    Ok(Invitee {
        partner: PartnerId(r.partner_id),
        partner_name: r.partner_name,
        email: Email::parse(&r.email)
            .map_err(|_| DbError::Corrupt(format!("users.email holds {:?}", r.email)))?,
        first_name: r.first_name,
        accepted: r.password_hash.is_some(),
        deactivated: r.deactivated_at.is_some(),
    })
}

#[derive(FromRow)]
struct InviteeRecord {
    partner_id: i64,
    partner_name: String,
    email: String,
    first_name: String,
    password_hash: Option<String>,
    deactivated_at: Option<i64>,
}
