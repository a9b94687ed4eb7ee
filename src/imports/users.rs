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

/// Why a row is not imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowRefusal {
    NotAnEmail,
    /// The same address as an earlier row (its line).
    DuplicateOf(u64),
    /// The address already belongs to an account (where is not said).
    AddressInUse,
}

impl std::fmt::Display for RowRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowRefusal::NotAnEmail => f.write_str("not an email"),
            RowRefusal::DuplicateOf(line) => write!(f, "duplicate of line {line}"),
            RowRefusal::AddressInUse => f.write_str("address already in use"),
        }
    }
}

/// A row that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRow {
    pub line: u64,
    pub value: String,
    pub reason: RowRefusal,
}

/// The rows not imported as a CSV report (line, value, reason), spreadsheet-safe: the download
/// beside the page's first few.
pub fn report(rows: &[RejectedRow]) -> Vec<u8> {
    let mut report = CsvReport::new();
    report.record(["line", "value", "reason"]);
    for row in rows {
        let line = row.line.to_string();
        let reason = row.reason.to_string();
        report.record([line.as_str(), row.value.as_str(), reason.as_str()]);
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

/// Splits `raw` into people to import and people refused by the list itself (not an email,
/// duplicate of an earlier one). Storage refuses emails that already exist.
pub fn sort<'a>(raw: impl IntoIterator<Item = RawUser<'a>>) -> (Vec<UserRow>, Vec<RejectedRow>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for person in raw {
        let refuse = |reason| RejectedRow {
            line: person.line,
            value: person.email.to_owned(),
            reason,
        };
        let Ok(email) = Email::parse(person.email) else {
            bad.push(refuse(RowRefusal::NotAnEmail));
            continue;
        };
        if let Some(&first) = first_seen.get(email.as_str()) {
            bad.push(refuse(RowRefusal::DuplicateOf(first)));
            continue;
        }
        first_seen.insert(email.to_string(), person.line);
        good.push(UserRow {
            line: person.line,
            email,
            first_name: person.first_name.to_owned(),
            last_name: person.last_name.to_owned(),
            department: Some(person.department.to_owned()).filter(|d| !d.is_empty()),
        });
    }
    (good, bad)
}

/// Splits `table` into rows to import and rows refused in the file itself (`sort`'s rules).
pub fn read(table: &CsvTable, columns: UserColumns) -> (Vec<UserRow>, Vec<RejectedRow>) {
    fn text<'a>(row: CsvRow<'a>, column: Option<Column>) -> &'a str {
        column.map_or("", |c| row.get(c))
    }
    sort(table.rows().map(|row| RawUser {
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
            let (good, bad) = read(&table, columns);
            let mut lines: Vec<u64> = good.iter().map(|r| r.line).chain(bad.iter().map(|r| r.line)).collect();
            lines.sort_unstable();
            prop_assert_eq!(lines, table.rows().map(|r| r.line).collect::<Vec<_>>());
            let mut emails: Vec<&str> = good.iter().map(|r| r.email.as_str()).collect();
            emails.sort_unstable();
            emails.dedup();
            prop_assert_eq!(emails.len(), good.len());
            for row in &bad {
                let parses = Email::parse(&row.value).is_ok();
                prop_assert_eq!(row.reason == RowRefusal::NotAnEmail, !parses);
                prop_assert!(parses || !matches!(row.reason, RowRefusal::DuplicateOf(_)));
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
        let (good, bad) = read(&table, columns);
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].department.as_deref(), Some("Sales"));
        assert_eq!(
            bad.iter()
                .map(|b| (b.line, b.reason.to_string()))
                .collect::<Vec<_>>(),
            [
                (3, "not an email".into()),
                (4, "duplicate of line 2".into())
            ]
        );
    }
}
