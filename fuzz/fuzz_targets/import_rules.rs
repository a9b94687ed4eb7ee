//! The Import Users and Import Licence Renewal rules on any parsed file, with any columns chosen
//! and any mix of known learners: every row gets exactly one fate, in file order, and the fates
//! agree with each other.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use seatledger::domain::UserId;
use seatledger::imports::renewal::{self, KnownLearner, RowOutcome};
use seatledger::imports::users::{self, UserColumns};
use seatledger::imports::{Column, CsvTable, csv_table};

/// Column `index` if the file has it (256 means "none").
fn column(table: &CsvTable, index: u8) -> Option<Column> {
    table.column(usize::from(index)).ok()
}

fn check_users(table: &CsvTable, choice: &[u8; 4]) {
    let guess = UserColumns::guess(table);
    let columns = UserColumns {
        email: column(table, choice[0]).unwrap_or(guess.email),
        first_name: column(table, choice[1]),
        last_name: column(table, choice[2]),
        department: column(table, choice[3]),
    };
    let (good, bad) = users::read(table, columns);
    let mut lines: Vec<u64> = good
        .iter()
        .map(|r| r.line)
        .chain(bad.iter().map(|r| r.line))
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, table.rows().map(|r| r.line).collect::<Vec<_>>());
    let mut emails = HashSet::new();
    for row in &good {
        assert!(emails.insert(row.email.as_str()), "{} twice", row.email);
        assert!(row.first_name.chars().count() <= 200 && row.last_name.chars().count() <= 200);
        assert_ne!(row.department.as_deref(), Some(""));
    }
    assert!(bad.iter().all(|r| !r.reason.is_empty()));
}

fn check_renewal(table: &CsvTable, choice: u8, seed: u8) {
    let column = column(table, choice).unwrap_or_else(|| table.likely_email_column());
    let values = renewal::values(table, column);
    let parsed = renewal::emails(&values);
    // Which emails storage knows, and how: decided by the input, so every mix is reached.
    let mut known = HashMap::new();
    for (i, email) in parsed.iter().flatten().enumerate() {
        let pick = email
            .as_str()
            .bytes()
            .fold(seed, |a, b| a.wrapping_mul(31).wrapping_add(b))
            % 4;
        if pick > 0 {
            let learner = KnownLearner {
                user: UserId(i as i64),
                active: pick == 2,
                deactivated: pick == 3,
            };
            known.entry(email.as_str().to_owned()).or_insert(learner);
        }
    }
    let reviewed = renewal::review(&values, &parsed, &known);
    assert_eq!(reviewed.len(), values.len());
    let mut renewed = HashSet::new();
    let mut fate_of_line = HashMap::new();
    for ((row, (line, value)), email) in reviewed.iter().zip(&values).zip(&parsed) {
        assert_eq!((row.line, &row.value), (*line, value));
        assert_eq!(row.outcome == RowOutcome::NotAnEmail, email.is_none());
        assert_eq!(
            row.outcome.reason().is_none(),
            matches!(row.outcome, RowOutcome::Renew(_))
        );
        match &row.outcome {
            RowOutcome::Renew(user) => assert!(renewed.insert(*user), "{user:?} renewed twice"),
            RowOutcome::Duplicate { first_line } => {
                let (first_email, first_fate) = &fate_of_line[first_line];
                assert!(first_line < line);
                assert_eq!(first_email, email);
                assert!(!matches!(first_fate, RowOutcome::Duplicate { .. }));
            }
            _ => {}
        }
        fate_of_line.insert(*line, (email.clone(), row.outcome.clone()));
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((choice, file)) = bytes.split_first_chunk::<6>() else {
        return;
    };
    if let Ok(table) = csv_table::read(file) {
        check_users(&table, &[choice[0], choice[1], choice[2], choice[3]]);
        check_renewal(&table, choice[4], choice[5]);
    }
});
