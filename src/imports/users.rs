//! Import Users: rows of a CSV file as new users, with the columns the manager mapped. Good rows
//! are imported and bad rows reported by line; the import is not all-or-nothing.

use std::collections::HashMap;

use super::csv_table::{Column, CsvRow, CsvTable};
use super::export::CsvReport;
use crate::domain::Email;

/// Which column holds which field (`None`: the file has no such column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserColumns {
    pub email: Column,
    pub first_name: Option<Column>,
    pub last_name: Option<Column>,
    pub department: Option<Column>,
}

impl UserColumns {
    /// The likely mapping of `table`'s headers.
    pub fn guess(table: &CsvTable) -> Self {
        Self {
            email: table.likely_email_column(),
            first_name: table.column_named(&[
                "firstname",
                "first",
                "givenname",
                "forename",
                "name",
            ]),
            last_name: table.column_named(&["lastname", "last", "surname", "familyname"]),
            department: table.column_named(&["department", "dept", "team"]),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub line: u64,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
}

/// A row that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: u64,
    pub value: String,
    pub reason: String,
}

/// Why the file itself refuses a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRefusal {
    NotAnEmail,
    /// The address is on an earlier line (given).
    DuplicateOf(u64),
}

impl std::fmt::Display for FileRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnEmail => f.write_str("not an email"),
            Self::DuplicateOf(line) => write!(f, "duplicate of line {line}"),
        }
    }
}

/// A row the file refuses, kept as its place in the table and a reason: a file of nothing but
/// bad rows costs a few bytes per row until a page or the report reads the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedRow {
    /// The row's index among the table's rows.
    index: usize,
    pub line: u64,
    pub refusal: FileRefusal,
}

/// A file's rows checked with a mapping: the rows to import, and the rows the file refuses.
#[derive(Clone, Debug, Default)]
pub struct CheckedRows {
    pub good: Vec<UserRow>,
    pub refused: Vec<RefusedRow>,
}

impl CheckedRows {
    /// Every row not imported in line order, as the page and the report show it: the rows the
    /// file refuses (their values read from `table`) merged with `in_use`, the rows storage
    /// refused (in line order too).
    pub fn rejected<'a>(
        &'a self,
        table: &'a CsvTable,
        columns: UserColumns,
        in_use: &'a [RejectedRow],
    ) -> impl Iterator<Item = RejectedRow> + Clone + 'a {
        let mut refused = self
            .refused
            .iter()
            .map(move |r| RejectedRow {
                line: r.line,
                value: table.row(r.index).get(columns.email).to_owned(),
                reason: r.refusal.to_string(),
            })
            .peekable();
        let mut in_use = in_use.iter().cloned().peekable();
        std::iter::from_fn(move || match (refused.peek(), in_use.peek()) {
            (Some(a), Some(b)) if b.line < a.line => in_use.next(),
            (Some(_), _) => refused.next(),
            (None, _) => in_use.next(),
        })
    }
}

/// The rows not imported as a CSV report (line, value, reason), spreadsheet-safe: the download
/// beside the page's first few. Each row is written as it comes.
pub fn report(rows: impl IntoIterator<Item = RejectedRow>) -> Vec<u8> {
    let mut report = CsvReport::new();
    report.record(["line", "value", "reason"]);
    for row in rows {
        let line = row.line.to_string();
        report.record([line.as_str(), row.value.as_str(), row.reason.as_str()]);
    }
    report.into_bytes()
}

/// A person as a file's row (or an API call's list item) gives them, before any check.
#[derive(Clone, Copy, Debug)]
pub struct RawUser<'a> {
    /// Where the person is: the file's line, or the list's index.
    pub line: u64,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub department: &'a str,
}

/// Splits `people` into people to import and people refused by the list itself (not an email,
/// duplicate of an earlier one); a refused person's `index` is their place in `people`.
/// Storage refuses emails that already exist.
pub fn check<'a>(people: impl IntoIterator<Item = RawUser<'a>>) -> CheckedRows {
    let mut checked = CheckedRows::default();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for (index, person) in people.into_iter().enumerate() {
        let refuse = |refusal| RefusedRow {
            index,
            line: person.line,
            refusal,
        };
        let Ok(email) = Email::parse(person.email) else {
            checked.refused.push(refuse(FileRefusal::NotAnEmail));
            continue;
        };
        if let Some(&first) = first_seen.get(email.as_str()) {
            checked
                .refused
                .push(refuse(FileRefusal::DuplicateOf(first)));
            continue;
        }
        first_seen.insert(email.to_string(), person.line);
        checked.good.push(UserRow {
            line: person.line,
            email,
            first_name: person.first_name.to_owned(),
            last_name: person.last_name.to_owned(),
            department: Some(person.department.to_owned()).filter(|d| !d.is_empty()),
        });
    }
    checked
}

/// Splits `table` into rows to import and rows refused in the file itself (`check`'s rules).
pub fn read(table: &CsvTable, columns: UserColumns) -> CheckedRows {
    fn text<'a>(row: CsvRow<'a>, column: Option<Column>) -> &'a str {
        column.map_or("", |c| row.get(c))
    }
    check(table.rows().map(|row| RawUser {
        line: row.line,
        email: row.get(columns.email),
        first_name: text(row, columns.first_name),
        last_name: text(row, columns.last_name),
        department: text(row, columns.department),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::csv_table;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Values as files hold them: one address in other cases and spacing, names, non-emails.
    fn value() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "ann@x.com",
            "ANN@x.com",
            " ann@x.com ",
            "bob@x.io",
            "not-an-email",
            "Ann",
            "Sales",
            "",
        ])
    }

    proptest! {
        #[test]
        fn every_row_is_imported_or_refused_once_and_no_email_is_imported_twice(
            rows in vec(vec(value(), 1..5), 1..30),
            chosen in vec(0usize..5, 4),
        ) {
            let rows: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
            let file = format!("Email,First name,Last name,Dept\n{}\n", rows.join("\n"));
            let Ok(table) = csv_table::read(file.as_bytes()) else {
                return Ok(());
            };
            let column = |i: usize| table.column(chosen[i]).ok();
            let columns = UserColumns {
                email: column(0).unwrap_or_else(|| table.likely_email_column()),
                first_name: column(1),
                last_name: column(2),
                department: column(3),
            };
            let checked = read(&table, columns);
            let (good, bad) = (&checked.good, checked.rejected(&table, columns, &[]).collect::<Vec<_>>());
            let mut lines: Vec<u64> = good.iter().map(|r| r.line).chain(bad.iter().map(|r| r.line)).collect();
            lines.sort_unstable();
            prop_assert_eq!(lines, table.rows().map(|r| r.line).collect::<Vec<_>>());
            let mut emails: Vec<&str> = good.iter().map(|r| r.email.as_str()).collect();
            emails.sort_unstable();
            emails.dedup();
            prop_assert_eq!(emails.len(), good.len());
            for row in &bad {
                let parses = Email::parse(&row.value).is_ok();
                prop_assert_eq!(row.reason == "not an email", !parses);
                prop_assert!(parses || !row.reason.starts_with("duplicate"));
            }
            prop_assert!(good.iter().all(|r| r.department.as_deref() != Some("")));
        }
    }

    #[test]
    fn good_rows_are_kept_and_bad_rows_reported_by_line() {
        let table = csv_table::read(b"First Name,Surname,Email,Dept\nAnn,Lee,ann@x.com,Sales\nBob,,nope,\nAnn,L,ANN@x.com,\n").unwrap();
        let columns = UserColumns::guess(&table);
        let column = |index| table.column(index).unwrap();
        assert_eq!(
            columns,
            UserColumns {
                email: column(2),
                first_name: Some(column(0)),
                last_name: Some(column(1)),
                department: Some(column(3))
            }
        );
        let checked = read(&table, columns);
        let (good, bad) = (&checked.good, checked.rejected(&table, columns, &[]));
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].department.as_deref(), Some("Sales"));
        assert_eq!(
            bad.map(|b| (b.line, b.value, b.reason)).collect::<Vec<_>>(),
            [
                (3, "nope".into(), "not an email".into()),
                (4, "ANN@x.com".into(), "duplicate of line 2".into())
            ]
        );
    }

    #[test]
    fn rows_refused_by_storage_are_merged_into_the_files_in_line_order() {
        let table =
            csv_table::read(b"Email\nann@x.com\nnope\nbob@x.com\nann@x.com\ncy@x.com\n").unwrap();
        let columns = UserColumns::guess(&table);
        let checked = read(&table, columns);
        let in_use = |line: u64, value: &str| RejectedRow {
            line,
            value: value.into(),
            reason: "address already in use".into(),
        };
        let storage = [
            in_use(2, "ann@x.com"),
            in_use(4, "bob@x.com"),
            in_use(6, "cy@x.com"),
        ];
        let lines: Vec<(u64, String)> = checked
            .rejected(&table, columns, &storage)
            .map(|r| (r.line, r.reason))
            .collect();
        assert_eq!(
            lines,
            [
                (2, "address already in use".into()),
                (3, "not an email".into()),
                (4, "address already in use".into()),
                (5, "duplicate of line 2".into()),
                (6, "address already in use".into()),
            ]
        );
        let report =
            String::from_utf8(report(checked.rejected(&table, columns, &storage))).unwrap();
        assert_eq!(report.lines().count(), 6, "{report}");
        assert!(report.contains("\n3,nope,not an email\n"), "{report}");
    }
}
