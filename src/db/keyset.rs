//! Keyset pages, shared by every list the console shows: a page starts after (or ends before)
//! one row's sort value and id, so the database walks an index from there and reads one page,
//! never skipping rows with OFFSET. Each list names the SQL expression it sorts by (`Sort`); an
//! index serves that expression and the id after it (a test asks SQLite's planner).

/// The value a page ends on in the sorted column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Text(String),
    Number(i64),
}

impl SortKey {
    /// The key as a link carries it.
    pub fn to_text(&self) -> String {
        match self {
            SortKey::Text(t) => t.clone(),
            SortKey::Number(n) => n.to_string(),
        }
    }
}

/// Where a page starts or ends: a row's sort value and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub key: SortKey,
    pub id: i64,
}

/// Which page to read: the first, the one after a row, or the one before a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seek {
    First,
    After(Cursor),
    Before(Cursor),
}

/// A column a list sorts by.
pub trait Sort: Copy + Eq + 'static {
    /// Every sort of the list.
    const ALL: &'static [Self];

    /// The name in links (`?sort=`).
    fn as_str(self) -> &'static str;

    /// The SQL expression the list orders by (an index serves it, then the id), and whether it
    /// holds text.
    fn key(self) -> (&'static str, bool);

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == raw)
    }
}

/// One page of a list, with the cursors of the pages around it.
#[derive(Clone, Debug)]
pub struct KeysetPage<T> {
    pub rows: Vec<T>,
    /// The page before ends before this row (none on the first page).
    pub previous: Option<Cursor>,
    /// The page after starts after this row (none on the last page).
    pub next: Option<Cursor>,
}

/// The most rows one read of a list returns.
pub const MAX_PAGE: u32 = 500;

/// How far a list counts its rows: past it the pager says "of more than 1,000". An exact count
/// would read every row of a list of 10,000 on each page; nobody pages through a thousand rows,
/// they search or filter, and "more than 1,000" tells them to.
pub const COUNTED_UP_TO: i64 = 1_000;

/// How many rows a list holds, as its pager says it: a count exact to a bound and past it only
/// "more than", so counting a list reads at most the bound's rows however long the list is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Total {
    Exactly(i64),
    /// More than this many: the count stopped there.
    MoreThan(i64),
}

impl Total {
    /// The total of a count that read at most `bound + 1` rows and found `counted`.
    pub fn bounded(counted: i64, bound: i64) -> Self {
        if counted > bound {
            Total::MoreThan(bound)
        } else {
            Total::Exactly(counted)
        }
    }
}

impl From<i64> for Total {
    fn from(n: i64) -> Self {
        Total::Exactly(n)
    }
}

pub(crate) use super::Binds;

/// A list's query as it runs, which a test can also ask the planner about.
pub struct Planned {
    pub sql: String,
    pub(crate) binds: Binds,
}

/// One step of a query plan: its id, the step it belongs to (0 at the top) and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanStep {
    pub id: i64,
    pub parent: i64,
    pub detail: String,
}

impl Planned {
    /// The plan's steps on `conn`: SQLite's `EXPLAIN QUERY PLAN` details, PostgreSQL's
    /// `EXPLAIN` lines.
    pub async fn plan(
        &self,
        backend: super::Backend,
        conn: &mut sqlx::AnyConnection,
    ) -> super::DbResult<Vec<String>> {
        use sqlx::Row;
        let (explain, column) = match backend {
            super::Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {}", self.sql), "detail"),
            super::Backend::Postgres => (format!("EXPLAIN {}", self.sql), "QUERY PLAN"),
        };
        let rows = self
            .binds
            .apply_rows(sqlx::query(&explain))
            .fetch_all(conn)
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.try_get(column))
            .collect::<Result<_, _>>()?)
    }

    /// SQLite's plan of the query (`EXPLAIN QUERY PLAN`).
    pub async fn explain(self, db: &super::Db) -> super::DbResult<Vec<PlanStep>> {
        let sql = format!("EXPLAIN QUERY PLAN {}", self.sql);
        let rows: Vec<(i64, i64, i64, String)> = self
            .binds
            .apply(sqlx::query_as(&sql))
            .fetch_all(db.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, parent, _, detail)| PlanStep { id, parent, detail })
            .collect())
    }
}

/// How a list is walked: the sort expression, the id that breaks its ties, the direction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walk<'a> {
    pub key: &'a str,
    pub id: &'a str,
    pub descending: bool,
}

impl Walk<'_> {
    /// The condition a page's rows meet and the ORDER BY and LIMIT that read it, binding the
    /// cursor and `limit + 1` (the extra row only tells whether there is more). The page before
    /// a row is read walking the other way.
    pub(crate) fn sql(&self, seek: &Seek, limit: u32, binds: &mut Binds) -> (String, String) {
        let (cmp, _) = self.direction(seek);
        let (key, id) = (self.key, self.id);
        let condition = match seek {
            Seek::First => "1 = 1".to_owned(),
            Seek::After(cursor) | Seek::Before(cursor) => {
                let value = match &cursor.key {
                    SortKey::Text(t) => binds.text(t.clone()),
                    SortKey::Number(n) => binds.int(*n),
                };
                let at = binds.int(cursor.id);
                // A row value: both databases read it as one range of the (key, id) index.
                format!("({key}, {id}) {cmp} ({value}, {at})")
            }
        };
        let fetch = binds.int(i64::from(limit.clamp(1, MAX_PAGE)) + 1);
        (condition, format!("{} LIMIT {fetch}", self.order_by(seek)))
    }

    /// The ORDER BY of the walk, for a query that orders a page's rows again.
    pub(crate) fn order_by(&self, seek: &Seek) -> String {
        let (_, dir) = self.direction(seek);
        format!("ORDER BY {} {dir}, {} {dir}", self.key, self.id)
    }

    fn direction(&self, seek: &Seek) -> (&'static str, &'static str) {
        if self.descending != matches!(seek, Seek::Before(_)) {
            ("<", "DESC")
        } else {
            (">", "ASC")
        }
    }
}

/// The page from rows read by `Walk::sql` (at most `limit + 1`), in the list's order.
pub(crate) fn page<T>(
    seek: &Seek,
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> Cursor,
) -> KeysetPage<T> {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let backwards = matches!(seek, Seek::Before(_));
    if backwards {
        rows.reverse();
    }
    // Going forwards there is a page before unless this is the first; going backwards there is
    // one after (the page we came from), and one before only if more rows were found.
    let (has_previous, has_next) = match seek {
        Seek::First => (false, more),
        Seek::After(_) => (true, more),
        Seek::Before(_) => (more, true),
    };
    let previous = rows.first().filter(|_| has_previous).map(&cursor);
    let next = rows.last().filter(|_| has_next).map(&cursor);
    KeysetPage {
        rows,
        previous,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(n: i64) -> Cursor {
        Cursor {
            key: SortKey::Number(n),
            id: n,
        }
    }

    #[test]
    fn a_page_knows_the_pages_around_it() {
        let first = page(&Seek::First, vec![1, 2, 3], 2, |&n| cursor(n));
        assert_eq!(first.rows, [1, 2]);
        assert_eq!((first.previous, first.next), (None, Some(cursor(2))));
        let last = page(&Seek::After(cursor(2)), vec![3], 2, |&n| cursor(n));
        assert_eq!((last.previous, last.next), (Some(cursor(3)), None));
        // Read backwards from row 3: rows 2 and 1 came in walking order, and 0 proves more.
        let back = page(&Seek::Before(cursor(3)), vec![2, 1, 0], 2, |&n| cursor(n));
        assert_eq!(back.rows, [1, 2]);
        assert_eq!(
            (back.previous, back.next),
            (Some(cursor(1)), Some(cursor(2)))
        );
    }

    #[test]
    fn the_page_before_walks_the_other_way_from_its_cursor() {
        let walk = Walk {
            key: "c.name",
            id: "c.id",
            descending: false,
        };
        let mut binds = Binds::default();
        let (condition, order) = walk.sql(&Seek::First, 50, &mut binds);
        assert_eq!(condition, "1 = 1");
        assert_eq!(order, "ORDER BY c.name ASC, c.id ASC LIMIT $1");
        let mut binds = Binds::default();
        let before = Seek::Before(Cursor {
            key: SortKey::Text("M".into()),
            id: 7,
        });
        let (condition, order) = walk.sql(&before, 50, &mut binds);
        assert_eq!(condition, "(c.name, c.id) < ($1, $2)");
        assert_eq!(order, "ORDER BY c.name DESC, c.id DESC LIMIT $3");
        assert_eq!(binds.len(), 3);
    }
}
