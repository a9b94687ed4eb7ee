//! Licences → Overview: one row per customer company beneath a partner with its seats, what
//! expires soon and what has expired; the totals over every row the filter keeps; the Admin
//! Dashboard's counts; and the seats expiring in each of the next months.
//!
//! The rows are read a page at a time by keyset (the sort value, then the id): sorted by name
//! the database walks the name index and computes the seat columns for one page only; sorted by
//! a seat column it computes them for the partner's companies inside the database and hands back
//! one page, so no list of companies is ever held in memory.

use jiff::Timestamp;
use sqlx::FromRow;

use super::companies::{ENDS, StatusFilter};
use super::keyset::{self, Binds, Cursor, KeysetPage, Planned, Seek, Sort, SortKey, Walk};
use super::orders::Seller;
use super::scope::keyset_arms;
use super::seats::valid_batch;
use super::{Db, DbResult, Scope, instant, secs};
use crate::domain::company::{EXPIRING_WITHIN, NEVER, TRIAL_ENDING_WITHIN};
use crate::domain::{CompanyFacts, CompanyId, CompanyStatus, UserId};

/// The columns the overview sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverviewSort {
    #[default]
    Name,
    Status,
    Total,
    Allocated,
    Available,
    Expiring,
    ExpiredLearners,
    NextExpiry,
    AccountManager,
}

impl OverviewSort {
    pub const ALL: [OverviewSort; 9] = [
        OverviewSort::Name,
        OverviewSort::Status,
        OverviewSort::Total,
        OverviewSort::Allocated,
        OverviewSort::Available,
        OverviewSort::Expiring,
        OverviewSort::ExpiredLearners,
        OverviewSort::NextExpiry,
        OverviewSort::AccountManager,
    ];

    /// The name in links (`?sort=`).
    pub fn as_str(self) -> &'static str {
        match self {
            OverviewSort::Name => "name",
            OverviewSort::Status => "status",
            OverviewSort::Total => "total",
            OverviewSort::Allocated => "allocated",
            OverviewSort::Available => "available",
            OverviewSort::Expiring => "expiring",
            OverviewSort::ExpiredLearners => "expired",
            OverviewSort::NextExpiry => "next_expiry",
            OverviewSort::AccountManager => "account_manager",
        }
    }
}

impl Sort for OverviewSort {
    const ALL: &'static [Self] = &OverviewSort::ALL;

    fn as_str(self) -> &'static str {
        OverviewSort::as_str(self)
    }

    /// The column of the inner query this sort reads.
    fn key(self) -> (&'static str, bool) {
        match self {
            OverviewSort::Name => ("t.name", true),
            OverviewSort::Status => ("t.status_rank", false),
            OverviewSort::Total => ("t.seats_total", false),
            OverviewSort::Allocated => ("t.seats_allocated", false),
            OverviewSort::Available => ("t.seats_available", false),
            OverviewSort::Expiring => ("t.expiring", false),
            OverviewSort::ExpiredLearners => ("t.expired_learners", false),
            OverviewSort::NextExpiry => ("t.next_expiry", false),
            OverviewSort::AccountManager => ("t.account_manager", true),
        }
    }
}

/// Which companies the overview (and the Admin Dashboard's counts) keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverviewStatus {
    FreeTrial,
    /// On a trial that ends within 7 days.
    TrialEnding,
    Premium,
    /// Holding licences of which some expire within 30 days.
    Expiring,
    Managed,
    Expired,
}

impl OverviewStatus {
    pub const ALL: [OverviewStatus; 6] = [
        OverviewStatus::FreeTrial,
        OverviewStatus::TrialEnding,
        OverviewStatus::Premium,
        OverviewStatus::Expiring,
        OverviewStatus::Managed,
        OverviewStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OverviewStatus::FreeTrial => "trial",
            OverviewStatus::TrialEnding => "trial_ending",
            OverviewStatus::Premium => "premium",
            OverviewStatus::Expiring => "expiring",
            OverviewStatus::Managed => "managed",
            OverviewStatus::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OverviewStatus::FreeTrial => "Free Trial",
            OverviewStatus::TrialEnding => "Trial ending within 7 days",
            OverviewStatus::Premium => "Premium",
            OverviewStatus::Expiring => "Licences expiring within 30 days",
            OverviewStatus::Managed => "Managed",
            OverviewStatus::Expired => "Expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The filter of the overview: a status and an account manager, both optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverviewFilter {
    pub status: Option<OverviewStatus>,
    pub account_manager: Option<UserId>,
}

/// The rows of companies (alias `t` outside) in `scope` kept by `filter`, with their computed
/// columns.
fn rows_sql(scope: &Scope, filter: &OverviewFilter, now: Timestamp, binds: &mut Binds) -> String {
    let (scope_condition, scope_value) = scope.companies_condition(binds.next());
    binds.int(scope_value);
    let (columns, condition) = rows_parts(filter, now, binds);
    format!("SELECT {columns} {FROM} WHERE {scope_condition} AND {condition}")
}

/// The companies the overview reads, with their partner.
const FROM: &str = "FROM companies c JOIN partners p ON p.id = c.partner_id";

/// The computed columns of a company (`c`) of the overview, the one definition of each, and
/// the condition of the companies `filter` keeps (in any scope).
fn rows_parts(filter: &OverviewFilter, now: Timestamp, binds: &mut Binds) -> (String, String) {
    let now_param = binds.int_at(secs(now));
    let soon = binds.int(secs(now.saturating_add(EXPIRING_WITHIN).unwrap_or(now)));
    let valid = valid_batch("b", now_param);
    let on_trial = StatusFilter::FreeTrial.condition(now_param);
    let status = match filter.status {
        None => "1 = 1".to_owned(),
        Some(OverviewStatus::FreeTrial) => on_trial.clone(),
        Some(OverviewStatus::Premium) => StatusFilter::Premium.condition(now_param),
        Some(OverviewStatus::Expired) => StatusFilter::Expired.condition(now_param),
        Some(OverviewStatus::TrialEnding) => {
            let week = binds.int(secs(now.saturating_add(TRIAL_ENDING_WITHIN).unwrap_or(now)));
            format!("{on_trial} AND c.trial_ends_at <= {week}")
        }
        Some(OverviewStatus::Expiring) => format!(
            "EXISTS (SELECT 1 FROM licence_batches b WHERE b.company_id = c.id AND {valid} \
             AND b.expires_at <= {soon} AND b.nfr = 0)"
        ),
        Some(OverviewStatus::Managed) => format!("c.managed_until > ${now_param}"),
    };
    let manager = match filter.account_manager {
        Some(user) => format!("c.account_manager_id = {}", binds.int(user.0)),
        None => "1 = 1".to_owned(),
    };
    let sum = |what: &str, extra: &str| {
        format!(
            "(SELECT COALESCE(SUM(b.{what}), 0) FROM licence_batches b \
              WHERE b.company_id = c.id AND {valid}{extra})"
        )
    };
    let total = sum("quantity", "");
    let allocated = sum("allocated", "");
    let expiring = sum("allocated", &format!(" AND b.expires_at <= {soon}"));
    // The learners without a licence are the active learners less those seated in a valid
    // batch: a valid batch's seats are open unless released (only its expiry ends them
    // otherwise), and each is held by one active learner of its company (leaving releases it).
    let expired = format!(
        "CASE WHEN {on_trial} THEN 0 ELSE \
           COALESCE((SELECT cl.learners FROM company_learners cl WHERE cl.company_id = c.id), 0) \
           - {allocated} END"
    );
    let premium = StatusFilter::Premium.condition(now_param);
    let columns = format!(
        "c.id, c.name, p.name AS partner_name, c.time_zone, c.trial_ends_at, \
           c.licensed_until, c.managed_until, \
           CAST(CASE WHEN {on_trial} THEN 0 WHEN {premium} THEN 1 ELSE 2 END AS BIGINT) AS status_rank, \
           {total} AS seats_total, {allocated} AS seats_allocated, \
           {total} - {allocated} AS seats_available, {expiring} AS expiring, \
           {expired} AS expired_learners, \
           COALESCE((SELECT MIN(b.expires_at) FROM licence_batches b \
             WHERE b.company_id = c.id AND {valid} AND b.nfr = 0), \
             CASE WHEN {on_trial} THEN c.trial_ends_at END, {NEVER_SECS}) AS next_expiry, \
           COALESCE((SELECT TRIM(m.first_name || ' ' || m.last_name) FROM users m \
             WHERE m.id = c.account_manager_id), '') AS account_manager"
    );
    (
        columns,
        format!("c.internal = 0 AND {status} AND {manager}"),
    )
}

/// "No next expiry" sorts last: `NEVER`, the instant NFR seats carry, which no customer batch
/// does (a test holds the two equal).
const NEVER_SECS: i64 = 253_402_207_200;

#[derive(FromRow)]
struct OverviewRecord {
    id: i64,
    name: String,
    partner_name: String,
    time_zone: String,
    trial_ends_at: i64,
    licensed_until: Option<i64>,
    managed_until: Option<i64>,
    seats_total: i64,
    seats_allocated: i64,
    expiring: i64,
    expired_learners: i64,
    next_expiry: i64,
    account_manager: String,
    status_rank: i64,
}

/// One company of the overview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverviewRow {
    pub id: CompanyId,
    pub name: String,
    pub partner_name: String,
    pub time_zone: String,
    pub facts: CompanyFacts,
    pub status: CompanyStatus,
    pub managed: bool,
    pub seats: SeatColumns,
    /// The soonest end of its valid licences, else of its running trial.
    pub next_expiry: Option<Timestamp>,
    pub account_manager: Option<String>,
}

/// The seat columns of a row, and of the totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeatColumns {
    pub total: i64,
    pub allocated: i64,
    /// Allocated seats whose batch expires within 30 days (the Licenses section's Expiring).
    pub expiring: i64,
    /// Learners without an active licence.
    pub expired_learners: i64,
}

impl SeatColumns {
    pub fn available(&self) -> i64 {
        self.total - self.allocated
    }
}

impl OverviewRecord {
    fn row(self, now: Timestamp) -> OverviewRow {
        let facts = CompanyFacts {
            trial_ends_at: instant(self.trial_ends_at),
            licensed_until: self.licensed_until.map(instant),
            managed_until: self.managed_until.map(instant),
        };
        OverviewRow {
            id: CompanyId(self.id),
            name: self.name,
            partner_name: self.partner_name,
            time_zone: self.time_zone,
            facts,
            status: facts.status(now),
            managed: facts.managed(now),
            seats: SeatColumns {
                total: self.seats_total,
                allocated: self.seats_allocated,
                expiring: self.expiring,
                expired_learners: self.expired_learners,
            },
            next_expiry: Some(instant(self.next_expiry)).filter(|&at| at != NEVER),
            account_manager: Some(self.account_manager).filter(|m| !m.is_empty()),
        }
    }

    fn key(&self, sort: OverviewSort) -> SortKey {
        let number = |n: i64| SortKey::Number(n);
        match sort {
            OverviewSort::Name => SortKey::Text(self.name.clone()),
            OverviewSort::AccountManager => SortKey::Text(self.account_manager.clone()),
            OverviewSort::Status => number(self.status_rank),
            OverviewSort::Total => number(self.seats_total),
            OverviewSort::Allocated => number(self.seats_allocated),
            OverviewSort::Available => number(self.seats_total - self.seats_allocated),
            OverviewSort::Expiring => number(self.expiring),
            OverviewSort::ExpiredLearners => number(self.expired_learners),
            OverviewSort::NextExpiry => number(self.next_expiry),
        }
    }
}

/// Where a page of the overview starts or ends.
pub type OverviewCursor = Cursor;

/// How the overview is read: filter, sort column and direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverviewQuery {
    pub filter: OverviewFilter,
    pub sort: OverviewSort,
    pub descending: bool,
}

/// One page of the overview, with the cursors of the pages around it.
pub type OverviewPage = KeysetPage<OverviewRow>;

/// The most rows one read of the overview returns.
pub const MAX_PAGE: u32 = super::keyset::MAX_PAGE;

/// One page of at most `limit` rows of the overview of `scope`.
pub async fn page(
    db: &Db,
    scope: &Scope,
    query: &OverviewQuery,
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<OverviewPage> {
    let planned = page_query(db, scope, query, seek, limit, now).await?;
    let records: Vec<OverviewRecord> = planned
        .binds
        .apply(sqlx::query_as(&planned.sql))
        .fetch_all(db.pool())
        .await?;
    let page = keyset::page(seek, records, limit, |r| Cursor {
        key: r.key(query.sort),
        id: r.id,
    });
    Ok(KeysetPage {
        rows: page.rows.into_iter().map(|r| r.row(now)).collect(),
        previous: page.previous,
        next: page.next,
    })
}

/// The query of one page of the overview. Sorted by name, it walks each partner's name index
/// from the cursor a page deep (`Subtree`), computing the columns of that page's companies only;
/// sorted by a computed column, it computes them for every company the filter keeps.
pub async fn page_query(
    db: &Db,
    scope: &Scope,
    query: &OverviewQuery,
    seek: &Seek,
    limit: u32,
    now: Timestamp,
) -> DbResult<Planned> {
    let mut binds = Binds::default();
    if query.sort != OverviewSort::Name {
        let rows = rows_sql(scope, &query.filter, now, &mut binds);
        let walk = Walk {
            key: query.sort.key().0,
            id: "t.id",
            descending: query.descending,
        };
        let (keyset, order) = walk.sql(seek, limit, &mut binds);
        let sql = format!("SELECT t.* FROM ({rows}) t WHERE {keyset} {order}");
        return Ok(Planned { sql, binds });
    }
    let (columns, condition) = rows_parts(&query.filter, now, &mut binds);
    let subtree = scope.subtree(db).await?;
    let arms = scope.company_arms(subtree.as_ref(), &mut binds);
    let walk = Walk {
        key: "c.name",
        id: "c.id",
        descending: query.descending,
    };
    let select = format!("SELECT {columns}, c.name AS sort_key {FROM}");
    let sql = keyset_arms(&select, &arms, &condition, &walk, (seek, limit), &mut binds);
    Ok(Planned { sql, binds })
}

/// The totals row: every company the filter keeps, not only the page shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverviewTotals {
    pub companies: i64,
    pub seats: SeatColumns,
    pub next_expiry: Option<Timestamp>,
}

pub async fn totals(
    db: &Db,
    scope: &Scope,
    filter: &OverviewFilter,
    now: Timestamp,
) -> DbResult<OverviewTotals> {
    let query = totals_query(scope, filter, now);
    let (companies, total, allocated, expiring, expired_learners, next): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_one(db.pool())
        .await?;
    Ok(OverviewTotals {
        companies,
        seats: SeatColumns {
            total,
            allocated,
            expiring,
            expired_learners,
        },
        next_expiry: Some(instant(next)).filter(|&at| at != NEVER),
    })
}

/// The totals row's query: companies, seats total, allocated, expiring, expired learners and
/// the next expiry. A filter keeps some companies, whose rows it sums. Unfiltered, it sums what
/// three index ranges of the scope's partners hold, never reading each company: the learners
/// counted per company (`company_learners_partner`), the valid batches
/// (`licence_batches_partner`), and the companies on a trial (`companies_partner_trial_ends`),
/// whose learners have trial access and so no expired licence, and whose trials may end next.
pub fn totals_query(scope: &Scope, filter: &OverviewFilter, now: Timestamp) -> Planned {
    let mut binds = Binds::default();
    if *filter != OverviewFilter::default() {
        let rows = rows_sql(scope, filter, now, &mut binds);
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(t.seats_total), 0) AS BIGINT), \
               CAST(COALESCE(SUM(t.seats_allocated), 0) AS BIGINT), \
               CAST(COALESCE(SUM(t.expiring), 0) AS BIGINT), \
               CAST(COALESCE(SUM(t.expired_learners), 0) AS BIGINT), \
               COALESCE(MIN(t.next_expiry), {NEVER_SECS}) FROM ({rows}) t"
        );
        return Planned { sql, binds };
    }
    let (companies, value) = scope.companies_condition(1);
    binds.int(value);
    let (counts, _) = scope.company_rows_condition("cl", 1);
    let (batches, _) = scope.company_rows_condition("b", 1);
    let now_at = binds.int_at(secs(now));
    let soon = binds.int(secs(now.saturating_add(EXPIRING_WITHIN).unwrap_or(now)));
    let on_trial = StatusFilter::FreeTrial.condition(now_at);
    let valid = valid_batch("b", now_at);
    let sum = |what: &str| format!("CAST(COALESCE(SUM({what}), 0) AS BIGINT)");
    let sql = format!(
        "SELECT counted_learners.companies, counted_seats.total, counted_seats.allocated, \
           counted_seats.expiring, \
           counted_learners.learners - counted_trials.learners - counted_seats.allocated, \
           COALESCE(CASE WHEN counted_trials.next IS NULL \
             OR counted_seats.next < counted_trials.next THEN counted_seats.next \
             ELSE counted_trials.next END, {NEVER_SECS}) \
         FROM (SELECT COUNT(*) AS companies, {learners} AS learners FROM company_learners cl \
               WHERE {counts}) counted_learners \
         CROSS JOIN (SELECT {total} AS total, {allocated} AS allocated, {expiring} AS expiring, \
               MIN(CASE WHEN b.nfr = 0 THEN b.expires_at END) AS next FROM licence_batches b \
               WHERE {batches} AND b.internal = 0 AND {valid}) counted_seats \
         CROSS JOIN (SELECT {learners} AS learners, MIN(c.trial_ends_at) AS next \
               FROM companies c JOIN company_learners cl ON cl.company_id = c.id \
               WHERE {companies} AND c.internal = 0 AND {on_trial}) counted_trials",
        learners = sum("cl.learners"),
        total = sum("b.quantity"),
        allocated = sum("b.allocated"),
        expiring = sum(&format!(
            "CASE WHEN b.expires_at <= {soon} THEN b.allocated ELSE 0 END"
        )),
    );
    Planned { sql, binds }
}

/// The Admin Dashboard's counts, each of which links to the list it counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DashboardCounts {
    pub trials_ending: i64,
    pub licences_expiring: i64,
    pub requests_waiting: i64,
    pub companies_expired: i64,
}

/// How many companies in `scope` are in each state the dashboard counts, and how many requests
/// wait for `partner` to decide.
pub async fn dashboard(
    db: &Db,
    scope: &Scope,
    partner: crate::domain::PartnerId,
    now: Timestamp,
) -> DbResult<DashboardCounts> {
    let query = dashboard_query(scope, now);
    let (trials_ending, licences_expiring, companies_expired): (i64, i64, i64) = query
        .binds
        .apply(sqlx::query_as(&query.sql))
        .fetch_one(db.pool())
        .await?;
    Ok(DashboardCounts {
        trials_ending,
        licences_expiring,
        requests_waiting: super::orders::waiting_count(db, Seller::Partner(partner)).await?,
        companies_expired,
    })
}

/// The dashboard's three counts of companies, the overview's filters of the same names
/// (`OverviewStatus`) in one query. Each reads only what it counts, by index, however many
/// companies the scope holds: the trials ending within the week (`companies_partner_trial_ends`),
/// the scope's batches expiring within 30 days (`licence_batches_partner`), and the expired
/// companies (`companies_partner_ends`).
pub fn dashboard_query(scope: &Scope, now: Timestamp) -> Planned {
    let mut binds = Binds::default();
    let (in_scope, value) = scope.companies_condition(1);
    binds.int(value);
    let now_at = binds.int_at(secs(now));
    let week = binds.int(secs(now.saturating_add(TRIAL_ENDING_WITHIN).unwrap_or(now)));
    let soon = binds.int(secs(now.saturating_add(EXPIRING_WITHIN).unwrap_or(now)));
    let on_trial = StatusFilter::FreeTrial.condition(now_at);
    // `StatusFilter::Expired` spelt as a range of `companies_partner_ends`: the later of the
    // trial's and the licences' ends has passed. A company's trial ends before its licences do,
    // so the trial's end alone would range over every Premium company; `+` keeps the planner
    // from reading it so.
    let expired = format!("{ENDS} <= ${now_at} AND +c.trial_ends_at <= ${now_at}");
    let customers = format!("{in_scope} AND c.internal = 0");
    let (batches, _) = scope.company_rows_condition("b", 1);
    let sql = format!(
        "SELECT \
           (SELECT COUNT(*) FROM companies c \
             WHERE {customers} AND {on_trial} AND c.trial_ends_at <= {week}), \
           (SELECT COUNT(DISTINCT b.company_id) FROM licence_batches b \
             WHERE {batches} AND b.internal = 0 AND {valid} \
               AND b.expires_at <= {soon} AND b.nfr = 0), \
           (SELECT COUNT(*) FROM companies c WHERE {customers} AND {expired})",
        valid = valid_batch("b", now_at),
    );
    Planned { sql, binds }
}

/// Seats expiring in one month of the chart, and the companies they belong to, most first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthOfExpiries {
    pub starts: Timestamp,
    pub seats: i64,
    pub companies: Vec<(String, i64)>,
    /// Companies with expiring seats not named in `companies`.
    pub other_companies: i64,
}

/// How many companies a month of the chart names; the rest are counted.
pub const COMPANIES_PER_MONTH: u32 = 5;

/// The seats of valid customer batches in `scope` expiring in each month `[starts[i],
/// starts[i + 1])`; `starts` are the month boundaries, in order.
///
/// Each month is summed from its own range of the scope's batches (`licence_batches_partner`),
/// all in one statement; only a month with seats then names its companies. Most months hold at
/// most one batch per company, whose companies are then its largest batches, found without
/// summing per company. Companies of equal seats are named oldest first.
pub async fn expiring_by_month(
    db: &Db,
    scope: &Scope,
    starts: &[Timestamp],
) -> DbResult<Vec<MonthOfExpiries>> {
    let mut binds = Binds::default();
    let (condition, value) = scope.company_rows_condition("b", 1);
    binds.int(value);
    let customers = format!("{condition} AND b.internal = 0 AND b.nfr = 0");
    let arms: Vec<String> = starts
        .windows(2)
        .enumerate()
        .map(|(i, window)| {
            let (from, to) = (binds.int(secs(window[0])), binds.int(secs(window[1])));
            format!(
                "SELECT CAST({i} AS BIGINT), CAST(COALESCE(SUM(b.quantity), 0) AS BIGINT), \
                   COUNT(DISTINCT b.company_id), COUNT(*) FROM licence_batches b \
                 WHERE {customers} AND b.expires_at >= {from} AND b.expires_at < {to}"
            )
        })
        .collect();
    if arms.is_empty() {
        return Ok(Vec::new());
    }
    let sums: Vec<(i64, i64, i64, i64)> = binds
        .apply(sqlx::query_as(&arms.join(" UNION ALL ")))
        .fetch_all(db.pool())
        .await?;
    let mut months = Vec::new();
    for (i, window) in starts.windows(2).enumerate() {
        let Some(&(_, seats, companies, batches)) =
            sums.iter().find(|m| m.0 == i as i64 && m.3 > 0)
        else {
            months.push(MonthOfExpiries {
                starts: window[0],
                seats: 0,
                companies: Vec::new(),
                other_companies: 0,
            });
            continue;
        };
        let in_month = format!("{customers} AND b.expires_at >= $2 AND b.expires_at < $3");
        let largest = if batches == companies {
            format!(
                "SELECT b.company_id, b.quantity AS seats FROM licence_batches b \
                 WHERE {in_month} ORDER BY b.quantity DESC, b.company_id \
                 LIMIT {COMPANIES_PER_MONTH}"
            )
        } else {
            format!(
                "SELECT b.company_id, SUM(b.quantity) AS seats FROM licence_batches b \
                 WHERE {in_month} GROUP BY b.company_id ORDER BY seats DESC, b.company_id \
                 LIMIT {COMPANIES_PER_MONTH}"
            )
        };
        let top: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT c.name, CAST(t.seats AS BIGINT) FROM ({largest}) t \
             JOIN companies c ON c.id = t.company_id ORDER BY t.seats DESC, t.company_id"
        ))
        .bind(value)
        .bind(secs(window[0]))
        .bind(secs(window[1]))
        .fetch_all(db.pool())
        .await?;
        months.push(MonthOfExpiries {
            starts: window[0],
            seats,
            other_companies: companies - top.len() as i64,
            companies: top,
        });
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sort_and_status_reads_back_from_its_name() {
        use super::Sort;
        for sort in super::OverviewSort::ALL {
            assert_eq!(super::OverviewSort::parse(sort.as_str()), Some(sort));
        }
        for status in super::OverviewStatus::ALL {
            assert_eq!(super::OverviewStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(super::OverviewSort::parse("id; DROP TABLE"), None);
        assert_eq!(super::NEVER_SECS, super::NEVER.as_second());
    }
}
