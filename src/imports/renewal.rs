//! Import Licence Renewal: what happens to each row of the file. All or nothing by design: the
//! preview says what would happen, and applying renews every renewable learner or none.

use std::collections::HashMap;

use super::csv_table::{Column, CsvTable};
use crate::domain::{Email, UserId};

/// What storage knows about an email of the company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownLearner {
    pub user: UserId,
    pub active: bool,
    pub deactivated: bool,
}

/// The fate of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    Renew(UserId),
    NotAnEmail,
    Duplicate { first_line: u64 },
    UnknownEmail,
    AlreadyActive,
    Deactivated,
}

impl RowOutcome {
    /// The reason a row is not renewed, as the report says it; `None` for a renewal.
    pub fn reason(&self) -> Option<String> {
        match self {
            RowOutcome::Renew(_) => None,
            RowOutcome::NotAnEmail => Some("not an email".into()),
            RowOutcome::Duplicate { first_line } => Some(format!("duplicate of line {first_line}")),
            RowOutcome::UnknownEmail => Some("unknown email".into()),
            RowOutcome::AlreadyActive => Some("already active".into()),
            RowOutcome::Deactivated => Some("deactivated user".into()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewedRow {
    pub line: u64,
    pub value: String,
    pub outcome: RowOutcome,
}

/// Each row's line and its value in `column`: what the renewal reads from the file.
pub fn values(table: &CsvTable, column: Column) -> Vec<(u64, String)> {
    table
        .rows()
        .map(|row| (row.line, row.get(column).to_owned()))
        .collect()
}

/// Parses the emails of `rows` (line, raw value); `None` where a value is not an email.
pub fn emails(rows: &[(u64, String)]) -> Vec<Option<Email>> {
    rows.iter().map(|(_, raw)| Email::parse(raw).ok()).collect()
}

/// Decides each row, in file order. `known` holds the company's users among the file's emails.
pub fn review(
    rows: &[(u64, String)],
    parsed: &[Option<Email>],
    known: &HashMap<String, KnownLearner>,
) -> Vec<ReviewedRow> {
    let mut first_seen: HashMap<&str, u64> = HashMap::new();
    rows.iter()
        .zip(parsed)
        .map(|((line, raw), email)| {
            let outcome = match email {
                None => RowOutcome::NotAnEmail,
                Some(email) => match first_seen.get(email.as_str()) {
                    Some(&first_line) => RowOutcome::Duplicate { first_line },
                    None => {
                        first_seen.insert(email.as_str(), *line);
                        match known.get(email.as_str()) {
                            None => RowOutcome::UnknownEmail,
                            Some(k) if k.deactivated => RowOutcome::Deactivated,
                            Some(k) if k.active => RowOutcome::AlreadyActive,
                            Some(k) => RowOutcome::Renew(k.user),
                        }
                    }
                },
            };
            ReviewedRow {
                line: *line,
                value: raw.clone(),
                outcome,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::csv_table;

    #[test]
    fn the_values_are_read_from_the_chosen_column_with_their_lines() {
        let table = csv_table::read(b"name,email\nAnn, ann@x.com \n\nBob\n").unwrap();
        let email = table.column(1).unwrap();
        assert_eq!(
            values(&table, email),
            [(2, "ann@x.com".to_owned()), (4, String::new())]
        );
    }

    #[test]
    fn each_row_gets_its_reason() {
        let rows: Vec<(u64, String)> = [
            (2, "ann@x.com"),
            (3, "not-an-email"),
            (4, " ANN@X.COM "),
            (5, "who@x.com"),
            (6, "bob@x.com"),
            (7, "cat@x.com"),
            (8, "dan@x.com"),
        ]
        .into_iter()
        .map(|(l, v)| (l, v.to_owned()))
        .collect();
        let learner = |id, active, deactivated| KnownLearner {
            user: UserId(id),
            active,
            deactivated,
        };
        let known = HashMap::from([
            ("ann@x.com".to_owned(), learner(1, false, false)),
            ("bob@x.com".to_owned(), learner(2, true, false)),
            ("cat@x.com".to_owned(), learner(3, false, true)),
            ("dan@x.com".to_owned(), learner(4, false, false)),
        ]);
        let reviewed = review(&rows, &emails(&rows), &known);
        let outcomes: Vec<RowOutcome> = reviewed.into_iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [
                RowOutcome::Renew(UserId(1)),
                RowOutcome::NotAnEmail,
                RowOutcome::Duplicate { first_line: 2 },
                RowOutcome::UnknownEmail,
                RowOutcome::AlreadyActive,
                RowOutcome::Deactivated,
                RowOutcome::Renew(UserId(4)),
            ]
        );
    }
}
