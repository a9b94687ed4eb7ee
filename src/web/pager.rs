//! Every list's pages and sortable columns, one piece: the query pairs a list page reads (sort,
//! direction, the row a page starts after or ends before, and the row number it starts at),
//! the column headings that sort by themselves, and "1–50 of 1,234" with First / Previous /
//! Next. The rows come from `db::keyset`, which reads a page by index from its cursor.

use serde::Deserialize;

use crate::db::keyset::{Cursor, KeysetPage, Seek, Sort, SortKey, Total};
use crate::format::{position, position_past};

/// The query pairs every list shares. All text: a list's own filters sit beside them in the
/// same query string, and a value that does not parse is read as absent.
#[derive(Deserialize, Default, Clone, Debug)]
pub(super) struct PageParams {
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    after_id: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    before_id: Option<String>,
    /// The row number the page starts at, only for "51–100 of N".
    #[serde(default)]
    at: Option<String>,
}

/// A list as asked for: its sort, direction and page, and the filters every link keeps.
#[derive(Clone, Debug)]
pub(super) struct Listing<S> {
    pub sort: S,
    pub descending: bool,
    pub seek: Seek,
    /// The row number of the first row shown: carried by the links, never trusted for more.
    at: u64,
    path: &'static str,
    filters: Vec<(&'static str, String)>,
}

/// A column heading: its label and, if the list sorts by it, the link that does (the other way
/// if it already does).
pub(super) struct Heading {
    pub label: &'static str,
    pub href: Option<String>,
    /// `ascending` / `descending` on the column the list is sorted by.
    pub sorted: Option<&'static str>,
    pub numeric: bool,
}

/// "1–50 of 1,234" and the links to the first, previous and next pages.
pub(super) struct Pager {
    pub position: String,
    pub first: Option<String>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// The longest sort value a link may carry: longer ones are not a row's and are refused.
const KEY_LIMIT: usize = 1_000;

/// Whether a link's sort value could be a row's: no longer than `KEY_LIMIT`, and without the
/// control characters no stored name or email holds (PostgreSQL refuses NUL in text, so such a
/// value would fail the read rather than find no row).
pub(super) fn is_sort_key(raw: &str) -> bool {
    raw.len() <= KEY_LIMIT && !raw.contains(char::is_control)
}

impl PageParams {
    /// The list at `path` with these pairs, sorted by `default` (and its direction) unless the
    /// query names a sort; `filters` are the list's own pairs, kept by every link.
    pub(super) fn listing<S: Sort>(
        &self,
        path: &'static str,
        default: (S, bool),
        filters: Vec<(&'static str, String)>,
    ) -> Listing<S> {
        let (sort, descending) = match S::parse(&self.sort) {
            Some(sort) => (sort, self.dir == "desc"),
            None => default,
        };
        let (_, text) = sort.key();
        let cursor = |key: &Option<String>, id: &Option<String>| {
            let key = key.as_deref().filter(|k| is_sort_key(k))?;
            let key = if text {
                SortKey::Text(key.to_owned())
            } else {
                SortKey::Number(key.trim().parse().ok()?)
            };
            let id = id.as_ref()?.trim().parse().ok()?;
            Some(Cursor { key, id })
        };
        let seek = if let Some(c) = cursor(&self.before, &self.before_id) {
            Seek::Before(c)
        } else if let Some(c) = cursor(&self.after, &self.after_id) {
            Seek::After(c)
        } else {
            Seek::First
        };
        let at = match seek {
            Seek::First => 1,
            _ => self
                .at
                .as_deref()
                .and_then(|a| a.trim().parse::<u64>().ok())
                .unwrap_or(1)
                .max(1),
        };
        Listing {
            sort,
            descending,
            seek,
            at,
            path,
            filters,
        }
    }
}

impl<S: Sort> Listing<S> {
    /// A link to this list with its filters, sorted by `sort`, plus `extra` pairs.
    pub(super) fn link(&self, sort: S, descending: bool, extra: &[(&str, String)]) -> String {
        self.link_to(self.path, sort, descending, extra)
    }

    /// The same, to another path that reads the same pairs (a download).
    pub(super) fn link_to(
        &self,
        path: &str,
        sort: S,
        descending: bool,
        extra: &[(&str, String)],
    ) -> String {
        let dir = if descending { "desc" } else { "asc" };
        let mut pairs: Vec<(&str, &str)> =
            self.filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.push(("sort", sort.as_str()));
        pairs.push(("dir", dir));
        pairs.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
            .finish();
        format!("{path}?{query}")
    }

    /// The table's headings: `(sort, label, numeric)`, where a column without a sort does not
    /// sort the list.
    pub(super) fn headings(&self, columns: &[(Option<S>, &'static str, bool)]) -> Vec<Heading> {
        columns
            .iter()
            .map(|&(sort, label, numeric)| {
                let current = sort == Some(self.sort);
                Heading {
                    label,
                    href: sort.map(|s| self.link(s, current && !self.descending, &[])),
                    sorted: current.then_some(if self.descending {
                        "descending"
                    } else {
                        "ascending"
                    }),
                    numeric,
                }
            })
            .collect()
    }

    /// The pager of `page`, one of `total` rows.
    pub(super) fn pager<T>(
        &self,
        page: &KeysetPage<T>,
        limit: u32,
        total: impl Into<Total>,
    ) -> Pager {
        let shown = page.rows.len() as u64;
        let link = |cursor: &Cursor, dir: &'static str, at: u64| {
            let id = if dir == "after" {
                "after_id"
            } else {
                "before_id"
            };
            self.link(
                self.sort,
                self.descending,
                &[
                    (dir, cursor.key.to_text()),
                    (id, cursor.id.to_string()),
                    ("at", at.to_string()),
                ],
            )
        };
        let at = self.at;
        Pager {
            position: match total.into() {
                Total::Exactly(total) => position(at, shown as usize, total),
                Total::MoreThan(bound) => position_past(at, shown as usize, bound),
            },
            first: (at > 1 || page.previous.is_some())
                .then(|| self.link(self.sort, self.descending, &[])),
            previous: page
                .previous
                .as_ref()
                .map(|c| link(c, "before", at.saturating_sub(u64::from(limit)).max(1))),
            next: page.next.as_ref().map(|c| link(c, "after", at + shown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Column {
        Name,
        Size,
    }

    impl Sort for Column {
        const ALL: &'static [Self] = &[Column::Name, Column::Size];
        fn as_str(self) -> &'static str {
            match self {
                Column::Name => "name",
                Column::Size => "size",
            }
        }
        fn key(self) -> (&'static str, bool) {
            match self {
                Column::Name => ("name", true),
                Column::Size => ("size", false),
            }
        }
    }

    fn params(query: &str) -> PageParams {
        serde_urlencoded::from_str(query).unwrap()
    }

    #[test]
    fn a_list_reads_its_sort_and_page_and_its_links_keep_the_filters() {
        let listing = params("sort=size&dir=desc&after=40&after_id=7&at=51").listing(
            "/list",
            (Column::Name, false),
            vec![("q", "a&b".into()), ("status", String::new())],
        );
        assert_eq!((listing.sort, listing.descending), (Column::Size, true));
        assert_eq!(
            listing.seek,
            Seek::After(Cursor {
                key: SortKey::Number(40),
                id: 7
            })
        );
        let headings = listing.headings(&[
            (Some(Column::Name), "Name", false),
            (Some(Column::Size), "Size", true),
            (None, "Notes", false),
        ]);
        assert_eq!(
            headings[1].href.as_deref(),
            Some("/list?q=a%26b&sort=size&dir=asc")
        );
        assert_eq!(headings[1].sorted, Some("descending"));
        assert_eq!(headings[0].sorted, None);
        assert!(headings[2].href.is_none());
        let page = KeysetPage {
            rows: vec![1; 50],
            previous: Some(Cursor {
                key: SortKey::Number(41),
                id: 8,
            }),
            next: None,
        };
        let pager = listing.pager(&page, 50, 100);
        assert_eq!(pager.position, "51–100 of 100");
        assert_eq!(
            pager.previous.as_deref(),
            Some("/list?q=a%26b&sort=size&dir=desc&before=41&before_id=8&at=1")
        );
        assert!(pager.next.is_none());
        assert_eq!(
            pager.first.as_deref(),
            Some("/list?q=a%26b&sort=size&dir=desc")
        );
        let counted = listing.pager(&page, 50, Total::bounded(1_001, 1_000));
        assert_eq!(counted.position, "51–100 of more than 1,000");
        assert_eq!(
            listing
                .pager(&page, 50, Total::bounded(1_000, 1_000))
                .position,
            "51–100 of 1,000"
        );
    }

    #[test]
    fn a_cursor_that_does_not_parse_reads_the_first_page() {
        for query in [
            "sort=size&after=abc&after_id=1",
            "sort=size&after=1&after_id=x",
            "after=a",
            "sort=nope&before=1",
        ] {
            let listing = params(query).listing("/l", (Column::Name, false), Vec::new());
            assert_eq!(listing.seek, Seek::First, "{query}");
        }
        let long = format!("after={}&after_id=1", "x".repeat(KEY_LIMIT + 1));
        let listing = params(&long).listing("/l", (Column::Name, false), Vec::new());
        assert_eq!(listing.seek, Seek::First);
    }
}
