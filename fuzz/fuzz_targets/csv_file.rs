//! Any upload: decoding and parsing never panic, refusals name a line of the file, tables keep
//! the limits and store and read back equal, and reports written from them start no cell that a
//! spreadsheet would run, whichever separator it splits on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatledger::imports::export::{CsvReport, spreadsheet_safe};
use seatledger::imports::{CsvTable, MAX_COLUMNS, MAX_FIELD_BYTES, MAX_ROWS, csv_table};

/// Lines end at `\n`, `\r\n` or a lone `\r`.
fn lines_in(bytes: &[u8]) -> u64 {
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(at, &b)| b == b'\n' || (b == b'\r' && bytes.get(at + 1) != Some(&b'\n')))
        .count();
    1 + breaks as u64
}

fn check_table(table: &CsvTable, lines: u64) {
    assert!((1..=MAX_COLUMNS).contains(&table.headers().len()));
    assert!((1..=MAX_ROWS).contains(&table.row_count()));
    assert_eq!(table.rows().len(), table.row_count());
    let mut last = 1;
    for row in table.rows() {
        assert!(
            row.line > last && row.line <= lines,
            "line {} of {lines}",
            row.line
        );
        last = row.line;
        assert!(row.fields().count() <= MAX_COLUMNS);
        assert!(row.fields().any(|f| !f.is_empty()));
        assert!(
            row.fields()
                .all(|f| f.len() <= MAX_FIELD_BYTES && f.trim() == f)
        );
    }
    assert!(table.likely_email_column().index() < table.headers().len());
    assert!(table.column(usize::MAX).is_err());
    assert_eq!(CsvTable::from_bytes(&table.to_bytes()).as_ref(), Ok(table));
}

fn check_report(table: &CsvTable) {
    let mut report = CsvReport::new();
    let mut written: Vec<Vec<String>> = Vec::new();
    let headers = table.headers().iter().map(String::as_str);
    for cells in std::iter::once(headers.collect::<Vec<_>>())
        .chain(table.rows().map(|row| row.fields().collect()))
    {
        report.record(cells.iter().copied());
        written.push(
            cells
                .iter()
                .map(|c| spreadsheet_safe(c).into_owned())
                .collect(),
        );
    }
    let report = report.into_bytes();
    let read = |delimiter: u8| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(report.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    };
    assert_eq!(read(b','), written);
    // Even a spreadsheet that drops leading blanks and quotes, or splits on another separator.
    for delimiter in [b',', b';', b'\t'] {
        for cell in read(delimiter).iter().flatten() {
            let start = cell.trim_start_matches([' ', '"', '\t', '\r', '\n', '\0']);
            assert!(!start.starts_with(['=', '+', '-', '@']), "{cell:?}");
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let lines = lines_in(bytes);
    match csv_table::read(bytes) {
        Ok(table) => {
            check_table(&table, lines);
            check_report(&table);
        }
        Err(refused) => {
            if let Some(line) = refused.line() {
                assert!((1..=lines).contains(&line), "{refused} in {lines} lines");
            }
        }
    }
});
