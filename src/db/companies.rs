//! Customer companies: creating and editing them, and the partner's Company section list.

use jiff::Timestamp;
use sqlx::{Any, FromRow, Transaction};

use super::keyset::{
    self, Binds, COUNTED_UP_TO, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Total, Walk,
};
use super::scope::{AuthorisedCompany, Subtree, keyset_arms};
use super::{Backend, Db, DbResult, Page, Scope, instant, seats, secs};
use crate::domain::schedule;
use crate::domain::{
    CompanyFacts, CompanyId, CompanyStatus, Country, NameSearch, OrgName, PartnerId, TimeZoneName,
    TrialDays, UserId,
};

#[derive(Clone, Debug)]
pub struct NewCompany<'a> {
    pub partner: PartnerId,
    pub name: &'a OrgName,
    pub country: &'a Country,
    pub time_zone: &'a TimeZoneName,
    pub account_manager: Option<UserId>,
    pub trial_days: TrialDays,
}

/// Creates a company on a free trial that starts now.
pub async fn create(
    tx: &mut Transaction<'static, Any>,
    company: &NewCompany<'_>,
    now: Timestamp,
) -> DbResult<CompanyId> {
    let trial_ends_at = company.trial_days.trial_end(now);
    let id = sqlx::query_scalar(
        "INSERT INTO companies (partner_id, name, country, time_zone, account_manager_id, \
         trial_ends_at, trial_due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(company.partner.0)
    .bind(company.name.as_str())
    .bind(company.country.as_str())
    .bind(company.time_zone.as_str())
    .bind(company.account_manager.map(|u| u.0))
    .bind(secs(trial_ends_at))
    .bind(schedule::first_due(trial_ends_at).map(secs))
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(CompanyId(id))
}

/// Creates `partner`'s internal company, for its staff and demos: named like the partner, never
/// on a trial (its NFR seats are assigned with it).
pub async fn create_internal(
    tx: &mut Transaction<'static, Any>,
    partner: PartnerId,
    name: &OrgName,
    now: Timestamp,
) -> DbResult<CompanyId> {
    let id = sqlx::query_scalar(
        "INSERT INTO companies (partner_id, name, country, time_zone, trial_ends_at, created_at, \
         internal) VALUES ($1, $2, '', 'UTC', $3, $3, 1) RETURNING id",
    )
    .bind(partner.0)
    .bind(name.as_str())
    .bind(secs(now))
    .fetch_one(&mut **tx)
    .await?;
    Ok(CompanyId(id))
}

/// A partner's internal company as the Company section shows it, apart from its customers.
#[derive(Clone, Debug)]
pub struct InternalCompany {
    pub id: CompanyId,
    pub name: String,
    /// Its NFR seats, which never expire.
    pub nfr: seats::SeatCounts,
    /// Licences the partner bought for its own staff (My Orders), in valid batches.
    pub bought: seats::SeatCounts,
}

/// The internal company of `partner`, with its seats at `now`.
pub async fn internal(db: &Db, partner: PartnerId, now: Timestamp) -> DbResult<InternalCompany> {
    let valid = seats::valid_batch("b", 2);
    let sum = |what: &str, nfr: i64| {
        format!(
            "(SELECT COALESCE(SUM(b.{what}), 0) FROM licence_batches b \
              WHERE b.company_id = c.id AND b.nfr = {nfr} AND {valid})"
        )
    };
    let row: Option<(i64, String, i64, i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT c.id, c.name, {}, {}, {}, {} FROM companies c \
         WHERE c.partner_id = $1 AND c.internal = 1",
        sum("quantity", 1),
        sum("allocated", 1),
        sum("quantity", 0),
        sum("allocated", 0)
    ))
    .bind(partner.0)
    .bind(secs(now))
    .fetch_optional(db.pool())
    .await?;
    let (id, name, nfr_total, nfr_allocated, total, allocated) =
        row.ok_or(super::DbError::NotFound)?;
    Ok(InternalCompany {
        id: CompanyId(id),
        name,
        nfr: seats::SeatCounts {
            total: nfr_total,
            allocated: nfr_allocated,
        },
        bought: seats::SeatCounts { total, allocated },
    })
}

/// Who runs a Managed company's programme, as its managers' read-only view names them: its
/// partner, and its account manager ("Name <email>") if it has an active one.
pub async fn managed_by(
    db: &Db,
    company: &AuthorisedCompany,
) -> DbResult<(String, Option<String>)> {
    let row: (String, Option<String>) = sqlx::query_as(
        "SELECT p.name, (SELECT TRIM(m.first_name || ' ' || m.last_name) || ' <' || m.email || '>' \
           FROM users m WHERE m.id = c.account_manager_id AND m.deactivated_at IS NULL) \
         FROM companies c JOIN partners p ON p.id = c.partner_id WHERE c.id = $1",
    )
    .bind(company.id().0)
    .fetch_one(db.pool())
    .await?;
    Ok(row)
}

/// What Edit Company changes.
#[derive(Clone, Debug)]
pub struct CompanyEdit<'a> {
    pub name: &'a OrgName,
    pub country: &'a Country,
    pub time_zone: &'a TimeZoneName,
    pub account_manager: Option<UserId>,
}

pub async fn update(
    tx: &mut Transaction<'static, Any>,
    company: &AuthorisedCompany,
    edit: &CompanyEdit<'_>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE companies SET name = $1, country = $2, time_zone = $3, account_manager_id = $4 \
         WHERE id = $5",
    )
    .bind(edit.name.as_str())
    .bind(edit.country.as_str())
    .bind(edit.time_zone.as_str())
    .bind(edit.account_manager.map(|u| u.0))
    .bind(company.id().0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row of the partner's Company section.
#[derive(Clone, Debug)]
pub struct CompanyRow {
    pub id: CompanyId,
    pub name: String,
    pub partner_name: String,
    pub time_zone: String,
    pub status: CompanyStatus,
    pub managed: bool,
    pub seats_used: i64,
    pub seats_total: i64,
    pub learners: i64,
    pub account_manager: Option<String>,
}

/// Where a page of companies starts: after this (name, id) in name order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyCursor {
    pub name: String,
    pub id: CompanyId,
}

/// Which companies the Company section shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompanyFilter {
    /// Only companies in this status.
    pub status: Option<StatusFilter>,
    /// Only companies whose name contains this text (any case).
    pub name: Option<NameSearch>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    FreeTrial,
    Premium,
    Expired,
}

impl StatusFilter {
    /// Whether a company in `status` passes: the rule the SQL of `condition` mirrors.
    pub fn matches(self, status: CompanyStatus) -> bool {
        matches!(
            (self, status),
            (StatusFilter::FreeTrial, CompanyStatus::FreeTrial { .. })
                | (StatusFilter::Premium, CompanyStatus::Premium { .. })
                | (StatusFilter::Expired, CompanyStatus::Expired { .. })
        )
    }

    /// `CompanyFacts::status` as SQL over companies `c`, reading `$now` as now. A property test
    /// on both databases holds the two to the same answer.
    pub(crate) fn condition(self, now: usize) -> String {
        self.spelt(now, "")
    }

    /// `condition` as a filter of a walk of another index: `+` keeps the planner from reading
    /// the status's own columns' indexes instead.
    fn filtering(self, now: usize) -> String {
        self.spelt(now, "+")
    }

    fn spelt(self, now: usize, plus: &str) -> String {
        match self {
            StatusFilter::FreeTrial => format!(
                "{plus}c.trial_ends_at > ${now} \
                 AND (c.licensed_until IS NULL OR {plus}c.licensed_until <= ${now})"
            ),
            StatusFilter::Premium => format!("{plus}c.licensed_until > ${now}"),
            StatusFilter::Expired => format!(
                "{plus}c.trial_ends_at <= ${now} \
                 AND (c.licensed_until IS NULL OR {plus}c.licensed_until <= ${now})"
            ),
        }
    }

    /// `condition` spelt as a range of one of the partner's indexes of companies, where one
    /// holds exactly this status's companies: a trial's end still to come
    /// (`companies_partner_trial_ends`; licences end the trial when they are assigned), or an
    /// end of trial and licences that has passed (`companies_partner_ends`; `+` keeps the
    /// planner from reading every ended trial instead). Premium, a company's usual state, has
    /// none: its list walks the name index.
    fn members(self, now: usize) -> Option<String> {
        match self {
            StatusFilter::FreeTrial => Some(self.condition(now)),
            StatusFilter::Expired => {
                Some(format!("{ENDS} <= ${now} AND +c.trial_ends_at <= ${now}"))
            }
            StatusFilter::Premium => None,
        }
    }
}

#[derive(FromRow)]
struct CompanyListRecord {
    id: i64,
    name: String,
    partner_name: String,
    time_zone: String,
    trial_ends_at: i64,
    licensed_until: Option<i64>,
    managed_until: Option<i64>,
    seats_used: i64,
    seats_total: i64,
    learners: i64,
    account_manager: Option<String>,
    ends_at: i64,
}

/// The SELECT of a Company section row over companies `c`, reading `$now` as now.
fn row_select(now: usize) -> String {
    format!(
        "{} FROM companies c JOIN partners p ON p.id = c.partner_id",
        row_columns(now)
    )
}

/// The columns of a Company section row over companies `c` and their partners `p`. A customer's
/// learners are its stored count (migration 0023); a partner's own company has none and counts.
fn row_columns(now: usize) -> String {
    let valid = seats::valid_batch("b", now);
    format!(
        "SELECT c.id, c.name, p.name AS partner_name, c.time_zone, c.trial_ends_at, \
           c.licensed_until, c.managed_until, \
           (SELECT COALESCE(SUM(b.allocated), 0) FROM licence_batches b \
             WHERE b.company_id = c.id AND {valid}) AS seats_used, \
           (SELECT COALESCE(SUM(b.quantity), 0) FROM licence_batches b \
             WHERE b.company_id = c.id AND {valid}) AS seats_total, \
           COALESCE((SELECT cl.learners FROM company_learners cl WHERE cl.company_id = c.id), \
             (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.is_learner = 1 \
               AND u.deactivated_at IS NULL)) AS learners, \
           (SELECT TRIM(m.first_name || ' ' || m.last_name) FROM users m \
             WHERE m.id = c.account_manager_id) AS account_manager, {ENDS} AS ends_at"
    )
}

impl CompanyListRecord {
    fn row(self, now: Timestamp) -> CompanyRow {
        let facts = CompanyFacts {
            trial_ends_at: instant(self.trial_ends_at),
            licensed_until: self.licensed_until.map(instant),
            managed_until: self.managed_until.map(instant),
        };
        CompanyRow {
            id: CompanyId(self.id),
            name: self.name,
            partner_name: self.partner_name,
            time_zone: self.time_zone,
            status: facts.status(now),
            managed: facts.managed(now),
            seats_used: self.seats_used,
            seats_total: self.seats_total,
            learners: self.learners,
            account_manager: self.account_manager,
        }
    }
}

/// The Company section's row of one company the caller may see.
pub async fn row(db: &Db, company: &AuthorisedCompany, now: Timestamp) -> DbResult<CompanyRow> {
    let record: CompanyListRecord = sqlx::query_as(&format!("{} WHERE c.id = $1", row_select(2)))
        .bind(company.id().0)
        .bind(secs(now))
        .fetch_one(db.pool())
        .await?;
    Ok(record.row(now))
}

/// The columns the Company section sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompanySort {
    #[default]
    Name,
    /// When the trial or the licences end (or ended): the date the section shows.
    Ends,
}

impl Sort for CompanySort {
    const ALL: &'static [Self] = &[CompanySort::Name, CompanySort::Ends];

    fn as_str(self) -> &'static str {
        match self {
            CompanySort::Name => "name",
            CompanySort::Ends => "ends",
        }
    }

    /// Served by `companies_partner_name` and `companies_partner_ends` (partner, key, id).
    fn key(self) -> (&'static str, bool) {
        match self {
            CompanySort::Name => ("c.name", true),
            CompanySort::Ends => (ENDS, false),
        }
    }
}

/// When a company's trial or licences end: the indexed expression (migration 0018).
pub(crate) const ENDS: &str = "COALESCE(c.licensed_until, c.trial_ends_at)";

/// The condition of the companies `filter` keeps (customers only: partners' internal companies
/// are not listed), binding its values and reading `$now_at` as now; and whether an index of the
/// filter's own picks the rows in scope instead of the sort's walk: the trigram index for a
/// narrow name search, else a narrow status's range (`StatusFilter::members`). A count reads a
/// status's range whatever its breadth.
fn section_condition(
    (backend, name_breadth): (Backend, Breadth),
    reads: Reads,
    (scope, filter): (&Scope, &CompanyFilter),
    now_at: usize,
    binds: &mut Binds,
) -> (String, bool) {
    let name = filter.name.as_ref().map(NameSearch::as_str);
    let (name, by_name) = name.map_or(("1 = 1".to_owned(), false), |n| {
        name_matches((backend, name_breadth), n, binds)
    });
    let members = filter
        .status
        .and_then(|s| s.members(now_at))
        .filter(|_| !by_name);
    let (status, by_status) = match (filter.status, members, reads) {
        // A count reads the status's own range, and stops in it after `COUNTED_UP_TO` and one.
        (_, Some(members), Reads::Count) => (members, false),
        // PostgreSQL's planner reads a narrow status's range by its index as it stands; SQLite's
        // reads it first only when it is a list of its own, else it walks the sort's index.
        (_, Some(members), Reads::Page(Breadth::Narrow)) if backend == Backend::Postgres => {
            (members, true)
        }
        (_, Some(members), Reads::Page(Breadth::Narrow)) => {
            let (in_scope, value) = scope.companies_condition(binds.next());
            binds.int(value);
            let read =
                format!("c.id IN (SELECT c.id FROM companies c WHERE {in_scope} AND {members})");
            (read, true)
        }
        (Some(status), _, _) => (status.filtering(now_at), false),
        (None, _, _) => ("1 = 1".to_owned(), false),
    };
    (
        format!("c.internal = 0 AND {status} AND {name}"),
        by_name || by_status,
    )
}

/// What a condition of the Company section is for: a page, which sorts what it reads, given how
/// broad its status is; or its count, which does not sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    Page(Breadth),
    Count,
}

/// The query of one page of the Company section, walking the sort's index from the cursor. A
/// partner's list walks each partner of `subtree` a page deep (`Subtree`); a name search read
/// by the trigram index reads the matching names and sorts those in scope.
pub fn section_query(
    reading: Reading,
    (scope, subtree): (&Scope, Option<&Subtree>),
    filter: &CompanyFilter,
    (sort, descending): (CompanySort, bool),
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> Planned {
    let mut binds = Binds::default();
    let now_at = binds.int_at(secs(now));
    let (condition, by_index) = section_condition(
        (reading.backend, reading.name),
        Reads::Page(reading.status),
        (scope, filter),
        now_at,
        &mut binds,
    );
    let arms = scope.company_arms(subtree.filter(|_| !by_index), &mut binds);
    let (key, _) = sort.key();
    let walk = Walk {
        key,
        id: "c.id",
        descending,
    };
    let columns = format!("{}, {key} AS sort_key", row_columns(now_at));
    let sql = match (by_index, arms.as_slice()) {
        // The filter's index picked the rows, which must be sorted: the page is chosen by their
        // sort key and id alone, so only its own rows' columns are computed.
        (true, [in_scope]) => {
            let (keyset, order) = walk.sql(seek, limit, &mut binds);
            let page = format!(
                "SELECT c.id FROM companies c WHERE {in_scope} AND {condition} AND {keyset} {order}"
            );
            let order_by = walk.order_by(seek);
            match reading.backend {
                // Given the page's ids as an array, PostgreSQL probes each by its key; given a
                // subquery to join, it read every company of the instance to hash them.
                Backend::Postgres => format!(
                    "{columns} FROM companies c JOIN partners p ON p.id = c.partner_id \
                     WHERE c.id = ANY(ARRAY({page})) {order_by}"
                ),
                Backend::Sqlite => format!(
                    "{columns} FROM ({page}) page JOIN companies c ON c.id = page.id \
                     JOIN partners p ON p.id = c.partner_id {order_by}"
                ),
            }
        }
        // Each arm computes its own rows' columns, so the merge reads no table again.
        _ => {
            let select =
                format!("{columns} FROM companies c JOIN partners p ON p.id = c.partner_id");
            keyset_arms(&select, &arms, &condition, &walk, (seek, limit), &mut binds)
        }
    };
    Planned { sql, binds }
}

/// Whether `filter` searches names. A search is planned afresh with its text, not kept as a
/// prepared statement: PostgreSQL's plan for any text (the statement's generic plan) cannot
/// tell a rare name, which the trigram index finds at once, from a common one, and walks every
/// name of the partner instead.
fn searches(filter: &CompanyFilter) -> bool {
    filter.name.is_some()
}

/// One page of the customer companies in `scope` that `filter` keeps, sorted by `sort`; and
/// how many it keeps (as `section_count` says) when reading the page counted them already.
pub async fn section(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    sort: (CompanySort, bool),
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<(KeysetPage<CompanyRow>, Option<Total>)> {
    let subtree = scope.subtree(db).await?;
    let (reading, counted) = reading(db, scope, filter, now).await?;
    let query = section_query(
        reading,
        (scope, subtree.as_ref()),
        filter,
        sort,
        seek,
        limit,
        now,
    );
    let records: Vec<CompanyListRecord> = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .persistent(!searches(filter))
        .fetch_all(db.pool())
        .await?;
    let sort = sort.0;
    let page = keyset::page(seek, records, limit, |r| Cursor {
        key: match sort {
            CompanySort::Name => SortKey::Text(r.name.clone()),
            CompanySort::Ends => SortKey::Number(r.ends_at),
        },
        id: r.id,
    });
    let page = KeysetPage {
        rows: page.rows.into_iter().map(|r| r.row(now)).collect(),
        previous: page.previous,
        next: page.next,
    };
    Ok((page, counted))
}

/// How many customer companies in `scope` `filter` keeps, up to `COUNTED_UP_TO`: the N of
/// "1–50 of N". It reads at most that many and one more, however many the partner holds.
pub async fn section_count(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    now: Timestamp,
) -> DbResult<Total> {
    Ok(Total::bounded(
        counted(db, scope, filter, now).await?,
        COUNTED_UP_TO,
    ))
}

/// How many customer companies in `scope` `filter` keeps, up to `COUNTED_UP_TO` and one more.
async fn counted(db: &Db, scope: &Scope, filter: &CompanyFilter, now: Timestamp) -> DbResult<i64> {
    let reading = (db.backend(), breadth(db, filter).await?);
    let query = section_count_query(reading, scope, filter, now);
    let (n,): (i64,) = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .persistent(!searches(filter))
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The query `section_count` runs.
pub fn section_count_query(
    reading: (Backend, Breadth),
    scope: &Scope,
    filter: &CompanyFilter,
    now: Timestamp,
) -> Planned {
    let mut binds = Binds::default();
    let now_at = binds.int_at(secs(now));
    let (condition, _) =
        section_condition(reading, Reads::Count, (scope, filter), now_at, &mut binds);
    let (in_scope, value) = scope.companies_condition(binds.next());
    binds.int(value);
    let most = binds.int(COUNTED_UP_TO + 1);
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM companies c WHERE {in_scope} AND {condition} \
         LIMIT {most}) counted"
    );
    Planned { sql, binds }
}

/// The customer companies in `scope` matching `filter`, in name order, one page after `after`.
/// Partners' internal companies are not customers and are not listed.
///
/// A partner's list walks each partner of its subtree by name (`Subtree`); a name search reads
/// the matching names by their index and sorts those in scope.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    after: Option<&CompanyCursor>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Page<CompanyRow, CompanyCursor>> {
    let seek = list_seek(after);
    let (page, _) = section(
        db,
        scope,
        filter,
        (CompanySort::Name, false),
        &seek,
        limit,
        now,
    )
    .await?;
    let next = page.next.map(|c| CompanyCursor {
        name: c.key.to_text(),
        id: CompanyId(c.id),
    });
    Ok(Page {
        items: page.rows,
        next,
    })
}

/// The query `list` runs.
pub async fn list_query(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    after: Option<&CompanyCursor>,
    limit: u32,
    now: Timestamp,
) -> DbResult<Planned> {
    let subtree = scope.subtree(db).await?;
    Ok(section_query(
        reading(db, scope, filter, now).await?.0,
        (scope, subtree.as_ref()),
        filter,
        (CompanySort::Name, false),
        &list_seek(after),
        limit,
        now,
    ))
}

/// Where `list`'s page starts: after the name and id of the last company of the page before.
fn list_seek(after: Option<&CompanyCursor>) -> Seek {
    after.map_or(Seek::First, |a| {
        Seek::After(Cursor {
            key: SortKey::Text(a.name.clone()),
            id: a.id.0,
        })
    })
}

/// How many names of the instance hold a searched text, as SQLite's trigram index tells before
/// a list is read. A narrow text is read by the index, which finds its few names at once. A
/// broad one, held by more than `COUNTED_UP_TO` names, is kept by walking the sort's index
/// instead, which stops after a page, where the index would read and sort every name holding it.
/// (PostgreSQL's planner weighs the text itself: a search is planned with it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breadth {
    Narrow,
    Broad,
}

/// How a list of companies is read: on which database, and how broad its name search and its
/// status are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub backend: Backend,
    pub name: Breadth,
    pub status: Breadth,
}

impl Reading {
    /// A list whose filters, if any, are read by their own indexes.
    pub fn narrow(backend: Backend) -> Self {
        Reading {
            backend,
            name: Breadth::Narrow,
            status: Breadth::Narrow,
        }
    }
}

/// How `filter`'s list is read, and its count when learning its status's breadth counted it
/// already (a status alone is counted as the pager counts it), so the pager need not again.
async fn reading(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    now: Timestamp,
) -> DbResult<(Reading, Option<Total>)> {
    let (status, status_count) = status_breadth(db, scope, filter, now).await?;
    let counted = status_count
        .filter(|_| filter.name.is_none())
        .map(|n| Total::bounded(n, COUNTED_UP_TO));
    let reading = Reading {
        backend: db.backend(),
        name: breadth(db, filter).await?,
        status,
    };
    Ok((reading, counted))
}

/// The breadth of `filter`'s status in `scope`, and the count it was learnt from: its companies
/// counted as the pager counts them (in the status's own range), up to `COUNTED_UP_TO` and one
/// more. A narrow status's few companies are read by that range and sorted; a broad one's are
/// kept by walking the sort's index, which a page of them soon fills.
async fn status_breadth(
    db: &Db,
    scope: &Scope,
    filter: &CompanyFilter,
    now: Timestamp,
) -> DbResult<(Breadth, Option<i64>)> {
    let Some(status) = filter.status.filter(|s| s.members(1).is_some()) else {
        return Ok((Breadth::Narrow, None));
    };
    let status_only = CompanyFilter {
        status: Some(status),
        name: None,
    };
    let n = counted(db, scope, &status_only, now).await?;
    let breadth = if n > COUNTED_UP_TO {
        Breadth::Broad
    } else {
        Breadth::Narrow
    };
    Ok((breadth, Some(n)))
}

/// The breadth of `filter`'s name search on `db`: SQLite counts the names holding it, up to
/// `COUNTED_UP_TO` and one more, in its trigram index.
async fn breadth(db: &Db, filter: &CompanyFilter) -> DbResult<Breadth> {
    let text = filter.name.as_ref().map_or("", NameSearch::as_str);
    let Some(phrase) = trigram_phrase(db.backend(), text) else {
        return Ok(Breadth::Narrow);
    };
    let holders: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT rowid FROM company_names WHERE company_names MATCH $1 \
         LIMIT $2) holders",
    )
    .bind(phrase)
    .bind(COUNTED_UP_TO + 1)
    .persistent(false)
    .fetch_one(db.pool())
    .await?;
    Ok(if holders > COUNTED_UP_TO {
        Breadth::Broad
    } else {
        Breadth::Narrow
    })
}

/// SQLite's trigram index (`company_names`) reads a text of three characters or more, as one
/// FTS5 phrase: inside double quotes every character is literal but `"`, doubled.
fn trigram_phrase(backend: Backend, text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    (backend == Backend::Sqlite && lower.chars().count() >= 3)
        .then(|| format!("\"{}\"", lower.replace('"', "\"\"")))
}

/// Companies `c` whose name contains `name`, in any case, read by an index: SQLite's trigram
/// index, or PostgreSQL's trigram index on `LOWER(name)`; and whether that index reads it. A
/// shorter text, or a broad one, on SQLite filters the sort's walk instead.
fn name_matches(
    (backend, breadth): (Backend, Breadth),
    name: &str,
    binds: &mut Binds,
) -> (String, bool) {
    if let Some(phrase) = trigram_phrase(backend, name).filter(|_| breadth == Breadth::Narrow) {
        let phrase = binds.text(phrase);
        return (
            format!("c.id IN (SELECT rowid FROM company_names WHERE company_names MATCH {phrase})"),
            true,
        );
    }
    let pattern = binds.text(format!("%{}%", like_escape(&name.to_lowercase())));
    (
        format!("LOWER(c.name) LIKE {pattern} ESCAPE '\\'"),
        backend == Backend::Postgres,
    )
}

/// `text` with LIKE's wildcards escaped (`\` is the escape character).
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
