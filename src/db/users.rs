//! Users and the facts the access rules need about them.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, FromRow, Row, Transaction};

use super::scope::{AuthorisedCompany, CompanyRecord, Scope};
use super::{Backend, Binds, Db, DbError, DbResult, TextRows, instant, is_unique_violation, secs};
use crate::domain::{
    CompanyFacts, CompanyId, Department, Email, PartnerId, PersonName, Role, UserFacts, UserId,
};

#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub first_name: &'a PersonName,
    pub last_name: &'a PersonName,
    pub department: Option<&'a Department>,
    pub password_hash: Option<&'a str>,
    pub role: Role,
}

/// A user with everything `domain::access` needs to decide about them, read in one query.
#[derive(Clone, Debug)]
pub struct UserAccess {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub facts: UserFacts,
    /// A company user's own company, which they may see.
    pub company: Option<AuthorisedCompany>,
}

/// A unique violation on writing users is an address already in use.
fn email_taken(e: sqlx::Error) -> DbError {
    if is_unique_violation(&e) {
        DbError::EmailTaken
    } else {
        e.into()
    }
}

pub async fn create(
    tx: &mut Transaction<'static, Any>,
    user: &NewUser<'_>,
    now: Timestamp,
) -> DbResult<UserId> {
    let (kind, partner, admin, company, manager, learner) = match user.role {
        Role::Operator => ("operator", None, false, None, false, false),
        Role::Partner { partner, admin } => ("partner", Some(partner.0), admin, None, false, false),
        Role::Company {
            company,
            manager,
            learner,
        } => ("company", None, false, Some(company.0), manager, learner),
    };
    let id = sqlx::query_scalar(
        "INSERT INTO users (email, first_name, last_name, department, password_hash, kind, \
         partner_id, partner_admin, company_id, is_manager, is_learner, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(user.email.as_str())
    .bind(user.first_name.as_str())
    .bind(user.last_name.as_str())
    .bind(user.department.map(Department::as_str))
    .bind(user.password_hash)
    .bind(kind)
    .bind(partner)
    .bind(i64::from(admin))
    .bind(company)
    .bind(i64::from(manager))
    .bind(i64::from(learner))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(email_taken)?;
    Ok(UserId(id))
}

/// A learner to import: the file's values, already valid.
#[derive(Clone, Debug)]
pub struct NewLearner<'a> {
    pub email: &'a Email,
    pub first_name: &'a PersonName,
    pub last_name: &'a PersonName,
    pub department: Option<&'a Department>,
}

/// Creates `learners` in `company` with one statement; their ids, in the same order. An address
/// taken meanwhile is `EmailTaken`, and none of them is created.
pub async fn create_learners(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    company: CompanyId,
    learners: &[NewLearner<'_>],
    now: Timestamp,
) -> DbResult<Vec<UserId>> {
    if learners.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = TextRows::new(&["email", "first_name", "last_name", "department"]);
    for learner in learners {
        rows.push(vec![
            Some(learner.email.to_string()),
            Some(learner.first_name.as_str().to_owned()),
            Some(learner.last_name.as_str().to_owned()),
            learner.department.map(|d| d.as_str().to_owned()),
        ]);
    }
    let mut binds = Binds::default();
    let source = rows.source(backend, &mut binds);
    let sql = format!(
        "INSERT INTO users (email, first_name, last_name, department, kind, company_id, \
         is_manager, is_learner, created_at) \
         SELECT r.email, r.first_name, r.last_name, r.department, 'company', {}, 0, 1, {} \
         FROM {source} ORDER BY r.n RETURNING id, email",
        binds.int(company.0),
        binds.int(secs(now)),
    );
    let created: Vec<(i64, String)> = binds
        .apply(sqlx::query_as(&sql))
        .fetch_all(&mut **tx)
        .await
        .map_err(email_taken)?;
    let ids: HashMap<String, i64> = created.into_iter().map(|(id, e)| (e, id)).collect();
    learners
        .iter()
        .map(|learner| {
            ids.get(learner.email.as_str())
                .map(|id| UserId(*id))
                .ok_or_else(|| DbError::Corrupt(format!("{} was not created", learner.email)))
        })
        .collect()
}

/// The columns `company_user_facts` reads about company user `u`: what `domain::access` needs.
pub(crate) const FACTS_COLUMNS: &str = "u.company_id, u.is_manager, u.is_learner, u.created_at, \
    u.deactivated_at, \
    (SELECT b.expires_at FROM seats s JOIN licence_batches b ON b.id = s.batch_id \
      WHERE s.user_id = u.id AND s.ended_at IS NULL) AS seat_expires_at, \
    (SELECT MAX(s.ended_at) FROM seats s WHERE s.user_id = u.id AND s.ended_at IS NOT NULL) \
      AS last_seat_ended_at";

/// The `FACTS_COLUMNS` that say when and how a user may use the product.
#[derive(sqlx::FromRow)]
pub(crate) struct FactsRecord {
    created_at: i64,
    deactivated_at: Option<i64>,
    seat_expires_at: Option<i64>,
    last_seat_ended_at: Option<i64>,
}

impl FactsRecord {
    fn facts(self, role: Role) -> UserFacts {
        UserFacts {
            role,
            created_at: instant(self.created_at),
            deactivated: self.deactivated_at.is_some(),
            seat_expires_at: self.seat_expires_at.map(instant),
            last_seat_ended_at: self.last_seat_ended_at.map(instant),
        }
    }
}

/// The `FACTS_COLUMNS` that give a company user's role.
#[derive(sqlx::FromRow)]
pub(crate) struct CompanyRoleRecord {
    company_id: i64,
    is_manager: i64,
    is_learner: i64,
}

impl CompanyRoleRecord {
    fn role(&self) -> Role {
        Role::Company {
            company: CompanyId(self.company_id),
            manager: self.is_manager != 0,
            learner: self.is_learner != 0,
        }
    }
}

/// A user's facts from a row selected with `FACTS_COLUMNS`, in `role`.
fn facts_from_row(r: &AnyRow, role: Role) -> Result<UserFacts, sqlx::Error> {
    Ok(FactsRecord::from_row(r)?.facts(role))
}

/// The facts of the company user of a row selected with `FACTS_COLUMNS`.
pub(crate) fn company_user_facts(r: &AnyRow) -> Result<UserFacts, sqlx::Error> {
    facts_from_row(r, CompanyRoleRecord::from_row(r)?.role())
}

/// A company user's id, email and `FACTS_COLUMNS`, in that order, as one flat JSON array: what
/// a read answering many users as one JSON value (`db::json_rows`) gives for each. Flat, as
/// building a nested array per record cost PostgreSQL half as much again over 100,000 users.
#[derive(serde::Deserialize)]
pub(crate) struct NamedFactsArray(
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

impl NamedFactsArray {
    /// The values `json_rows` puts in each array, over users `alias` selected with
    /// `FACTS_COLUMNS`.
    pub(crate) fn values(alias: &str) -> String {
        [
            "id",
            "email",
            "company_id",
            "is_manager",
            "is_learner",
            "created_at",
            "deactivated_at",
            "seat_expires_at",
            "last_seat_ended_at",
        ]
        .map(|column| format!("{alias}.{column}"))
        .join(", ")
    }

    pub(crate) fn into_parts(self) -> (UserId, String, UserFacts) {
        let Self(
            id,
            email,
            company_id,
            is_manager,
            is_learner,
            created_at,
            deactivated_at,
            seat_expires_at,
            last_seat_ended_at,
        ) = self;
        let role = CompanyRoleRecord {
            company_id,
            is_manager,
            is_learner,
        };
        let facts = FactsRecord {
            created_at,
            deactivated_at,
            seat_expires_at,
            last_seat_ended_at,
        };
        (UserId(id), email, facts.facts(role.role()))
    }
}

fn access_select() -> String {
    format!(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.password_hash, u.kind, u.partner_id, \
         u.partner_admin, {FACTS_COLUMNS}, {COMPANY_COLUMNS_AS} \
         FROM users u LEFT JOIN companies c ON c.id = u.company_id"
    )
}

/// The company columns of `access_select`, renamed apart from the user's.
const COMPANY_COLUMNS_AS: &str = "c.partner_id AS c_partner_id, c.name AS c_name, \
    c.country AS c_country, c.time_zone AS c_time_zone, c.account_manager_id AS c_account_manager_id, \
    c.trial_ends_at AS c_trial_ends_at, c.licensed_until AS c_licensed_until, \
    c.managed_until AS c_managed_until, c.internal AS c_internal";

/// The user who signs in with `email`, if any.
pub async fn access_by_email(db: &Db, email: &Email) -> DbResult<Option<UserAccess>> {
    let row = sqlx::query(&format!("{} WHERE u.email = $1", access_select()))
        .bind(email.as_str())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| access_from_row(&r)).transpose()
}

/// The user `id`, for re-deciding a session's access on every request.
pub async fn access_by_id(db: &Db, id: UserId) -> DbResult<Option<UserAccess>> {
    let row = sqlx::query(&format!("{} WHERE u.id = $1", access_select()))
        .bind(id.0)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| access_from_row(&r)).transpose()
}

fn access_from_row(r: &AnyRow) -> DbResult<UserAccess> {
    let kind: String = r.try_get("kind")?;
    let (facts, company) = match kind.as_str() {
        "operator" => (facts_from_row(r, Role::Operator)?, None),
        "partner" => {
            let role = Role::Partner {
                partner: PartnerId(r.try_get("partner_id")?),
                admin: r.try_get::<i64, _>("partner_admin")? != 0,
            };
            (facts_from_row(r, role)?, None)
        }
        "company" => {
            let facts = company_user_facts(r)?;
            // A company user may always see their own company.
            let company = CompanyRecord {
                id: r.try_get("company_id")?,
                partner_id: r.try_get("c_partner_id")?,
                name: r.try_get("c_name")?,
                country: r.try_get("c_country")?,
                time_zone: r.try_get("c_time_zone")?,
                account_manager_id: r.try_get("c_account_manager_id")?,
                trial_ends_at: r.try_get("c_trial_ends_at")?,
                licensed_until: r.try_get("c_licensed_until")?,
                managed_until: r.try_get("c_managed_until")?,
                internal: r.try_get("c_internal")?,
            };
            (facts, Some(company.authorised()))
        }
        other => return Err(DbError::Corrupt(format!("users.kind holds {other:?}"))),
    };
    let first: String = r.try_get("first_name")?;
    let last: String = r.try_get("last_name")?;
    let email: String = r.try_get("email")?;
    let display_name = match format!("{first} {last}").trim() {
        "" => email.clone(),
        name => name.to_owned(),
    };
    Ok(UserAccess {
        id: UserId(r.try_get("id")?),
        email,
        display_name,
        password_hash: r.try_get("password_hash")?,
        role: facts.role,
        facts,
        company,
    })
}

/// "Name <email>" of user `user`, as emails name the person who did something.
pub async fn label(tx: &mut Transaction<'static, Any>, user: UserId) -> DbResult<String> {
    let label: Option<String> = sqlx::query_scalar(
        "SELECT TRIM(first_name || ' ' || last_name) || ' <' || email || '>' FROM users WHERE id = $1",
    )
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await?;
    label.ok_or(DbError::NotFound)
}

/// A company user as the access check sees them: their facts and their company's.
#[derive(Clone, Debug)]
pub struct ProductUser {
    pub facts: UserFacts,
    pub company: CompanyId,
    pub company_name: String,
    pub company_facts: CompanyFacts,
}

/// The row `product_user` reads.
#[derive(sqlx::FromRow)]
struct ProductUserRecord {
    #[sqlx(flatten)]
    facts: FactsRecord,
    #[sqlx(flatten)]
    role: CompanyRoleRecord,
    c_name: String,
    c_trial_ends_at: i64,
    c_licensed_until: Option<i64>,
    c_managed_until: Option<i64>,
}

impl ProductUserRecord {
    /// The same row read by SQLite's same-thread reader.
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            facts: FactsRecord {
                created_at: r.get("created_at")?,
                deactivated_at: r.get("deactivated_at")?,
                seat_expires_at: r.get("seat_expires_at")?,
                last_seat_ended_at: r.get("last_seat_ended_at")?,
            },
            role: CompanyRoleRecord {
                company_id: r.get("company_id")?,
                is_manager: r.get("is_manager")?,
                is_learner: r.get("is_learner")?,
            },
            c_name: r.get("c_name")?,
            c_trial_ends_at: r.get("c_trial_ends_at")?,
            c_licensed_until: r.get("c_licensed_until")?,
            c_managed_until: r.get("c_managed_until")?,
        })
    }

    fn into_user(self) -> ProductUser {
        let role = self.role.role();
        ProductUser {
            company: CompanyId(self.role.company_id),
            company_name: self.c_name,
            company_facts: CompanyFacts {
                trial_ends_at: instant(self.c_trial_ends_at),
                licensed_until: self.c_licensed_until.map(instant),
                managed_until: self.c_managed_until.map(instant),
            },
            facts: self.facts.facts(role),
        }
    }
}

/// The company user with `email` in a company `scope` sees, if any: one read by the unique email
/// index, for the hottest path of the system (on SQLite, on the request's own thread).
pub async fn product_user(db: &Db, scope: &Scope, email: &Email) -> DbResult<Option<ProductUser>> {
    let (condition, value) = scope.companies_condition(2);
    let sql = format!(
        "SELECT {FACTS_COLUMNS}, c.name AS c_name, c.trial_ends_at AS c_trial_ends_at, \
         c.licensed_until AS c_licensed_until, c.managed_until AS c_managed_until \
         FROM users u JOIN companies c ON c.id = u.company_id \
         WHERE u.email = $1 AND {condition}"
    );
    let record = match db.reader() {
        Some(reader) => reader.one(
            &sql,
            (email.as_str(), value),
            ProductUserRecord::from_sqlite,
        )?,
        None => {
            sqlx::query_as::<_, ProductUserRecord>(&sql)
                .bind(email.as_str())
                .bind(value)
                .fetch_optional(db.pool())
                .await?
        }
    };
    Ok(record.map(ProductUserRecord::into_user))
}
