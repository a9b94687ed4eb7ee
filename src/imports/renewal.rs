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
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Values as files hold them: one address in other cases and spacing, others, non-emails.
    fn value() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "ann@x.com",
            "ANN@x.com",
            " ann@x.com ",
            "bob@x.io",
            "cat@x.io",
            "dan@x.io",
            "not-an-email",
            "a@b",
            "=1@x.com",
            "",
        ])
    }

    proptest! {
        #[test]
        fn every_row_gets_one_fate_in_file_order_and_each_learner_is_renewed_once(
            rows in vec(vec(value(), 1..3), 1..30),
            known in vec((value(), 0u8..3), 0..6),
            column in 0usize..3,
        ) {
            let rows: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
            let file = format!("email,other\n{}\n", rows.join("\n"));
            let Ok(table) = csv_table::read(file.as_bytes()) else {
                return Ok(());
            };
            let column = table.column(column).unwrap_or_else(|_| table.likely_email_column());
            let values = values(&table, column);
            let parsed = emails(&values);
            let known: HashMap<String, KnownLearner> = known
                .iter()
                .enumerate()
                .filter_map(|(i, (raw, state))| {
                    let learner = KnownLearner {
                        user: UserId(i as i64),
                        active: *state == 1,
                        deactivated: *state == 2,
                    };
                    Email::parse(raw).ok().map(|e| (e.to_string(), learner))
                })
                .collect();
            let reviewed = review(&values, &parsed, &known);
            prop_assert_eq!(reviewed.len(), values.len());
            let mut first_line: HashMap<&str, u64> = HashMap::new();
            let mut renewed = Vec::new();
            for ((row, (line, value)), email) in reviewed.iter().zip(&values).zip(&parsed) {
                prop_assert_eq!((row.line, &row.value), (*line, value));
                let Some(email) = email else {
                    prop_assert_eq!(&row.outcome, &RowOutcome::NotAnEmail);
                    continue;
                };
                if let Some(&first) = first_line.get(email.as_str()) {
                    prop_assert_eq!(&row.outcome, &RowOutcome::Duplicate { first_line: first });
                    continue;
                }
                first_line.insert(email.as_str(), *line);
                let expected = match known.get(email.as_str()) {
                    None => RowOutcome::UnknownEmail,
                    Some(k) if k.deactivated => RowOutcome::Deactivated,
                    Some(k) if k.active => RowOutcome::AlreadyActive,
                    Some(k) => RowOutcome::Renew(k.user),
                };
                if let RowOutcome::Renew(user) = expected {
                    prop_assert!(!renewed.contains(&user));
                    renewed.push(user);
                }
                prop_assert_eq!(&row.outcome, &expected);
            }
        }
    }

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
