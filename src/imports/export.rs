//! What imports hand back to people: CSV reports whose cells a spreadsheet shows as text and
//! never runs as formulas, and the bounded lists pages show (the download has the rest).

use std::borrow::Cow;

/// What a cell must not start with: spreadsheets run `=`, `+`, `-` and `@` as formulas, and some
/// drop a leading tab, line break or NUL first (OWASP's list against CSV injection).
const FORMULA_START: [char; 8] = ['=', '+', '-', '@', '\t', '\r', '\n', '\0'];

/// `cell` as spreadsheets show it rather than run it: a `'` goes before a formula character
/// wherever a cell may start, as OWASP advises. That is the start (after spaces and quotes), and
/// also after a `;`, tab or line break: spreadsheets that split on `;` or tab by locale, or read
/// a quote that does not open the field as text, start a cell there.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    let mut safe = String::new();
    let mut copied = 0;
    let mut may_start = true;
    for (at, c) in cell.char_indices() {
        if may_start && !matches!(c, ' ' | '"') {
            if FORMULA_START.contains(&c) {
                safe.push_str(&cell[copied..at]);
                safe.push('\'');
                copied = at;
            }
            may_start = false;
        }
        may_start |= matches!(c, ';' | '\t' | '\r' | '\n');
    }
    if safe.is_empty() {
        Cow::Borrowed(cell)
    } else {
        safe.push_str(&cell[copied..]);
        Cow::Owned(safe)
    }
}

/// A CSV report being written: `,`-separated, one `\n` per record, every cell spreadsheet-safe.
#[derive(Clone, Debug, Default)]
pub struct CsvReport {
    text: String,
}

impl CsvReport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record. A cell holding a separator (`;` and tab too, which some spreadsheets
    /// split on by locale), a quote or a line break is quoted.
    pub fn record<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        let start = self.text.len();
        let mut count = 0;
        for cell in cells {
            if count > 0 {
                self.text.push(',');
            }
            count += 1;
            let cell = spreadsheet_safe(cell);
            if cell.contains([',', ';', '\t', '"', '\r', '\n']) {
                self.text.push('"');
                self.text.push_str(&cell.replace('"', "\"\""));
                self.text.push('"');
            } else {
                self.text.push_str(&cell);
            }
        }
        // A lone empty cell is quoted, or the record would read as a blank line.
        if count == 1 && self.text.len() == start {
            self.text.push_str("\"\"");
        }
        self.text.push('\n');
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.text.into_bytes()
    }
}

/// The first items of a list, as many as a page shows, and how many there are in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounded<T> {
    pub shown: Vec<T>,
    pub total: usize,
}

impl<T> Bounded<T> {
    /// The first `limit` of `items`, counting the rest without keeping them.
    pub fn first(items: impl IntoIterator<Item = T>, limit: usize) -> Self {
        let mut shown = Vec::new();
        let mut total = 0;
        for item in items {
            if total < limit {
                shown.push(item);
            }
            total += 1;
        }
        Self { shown, total }
    }

    /// How many items are not shown.
    pub fn hidden(&self) -> usize {
        self.total - self.shown.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cells_that_spreadsheets_would_run_get_a_leading_quote() {
        for (cell, written) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("\t=1", "'\t'=1"),
            ("  =1", "  '=1"),
            ("\"=1\"", "\"'=1\""),
            ("ann@x.com", "ann@x.com"),
            ("a=b-c", "a=b-c"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), written, "{cell:?}");
        }
    }

    /// Found by the `csv_file` fuzz target: `x;=2` was quoted for a reader splitting on `,`, but
    /// one splitting on `;` saw the cell `=2"`.
    #[test]
    fn no_cell_starts_a_formula_where_a_locale_splits_on_semicolons_tabs_or_lines() {
        for (cell, written) in [
            ("x;=2", "x;'=2"),
            ("x; \"@SUM(1)", "x; \"'@SUM(1)"),
            ("x\t+1;-1", "x\t'+1;'-1"),
            ("x;\t=1", "x;'\t'=1"),
            ("two\n=lines", "two\n'=lines"),
            ("a;b\tc\nd", "a;b\tc\nd"),
        ] {
            assert_eq!(spreadsheet_safe(cell), written, "{cell:?}");
        }
    }

    #[test]
    fn reports_quote_what_would_split_a_cell_and_neutralise_every_cell() {
        let mut report = CsvReport::new();
        report.record(["line", "=HYPERLINK(\"x\")", "outcome"]);
        report.record(["2", "a;=1+1", "not an email"]);
        report.record(["3", "two\nlines", "tab\there"]);
        report.record([""]);
        report.record(["4", "ann@x.com", "already active"]);
        assert_eq!(
            String::from_utf8(report.into_bytes()).unwrap(),
            "line,\"'=HYPERLINK(\"\"x\"\")\",outcome\n\
             2,\"a;'=1+1\",not an email\n\
             3,\"two\nlines\",\"tab\there\"\n\
             \"\"\n\
             4,ann@x.com,already active\n"
        );
    }

    /// A cell as people type them, formulas and separators included.
    fn cell() -> impl Strategy<Value = String> {
        let pieces = vec![
            "a", "@", "=", "+", "-", " ", ",", ";", "\t", "\"", "\r", "\n", "'", "\0", "é",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..8)
            .prop_map(|pieces| pieces.concat())
    }

    /// Whether a spreadsheet could run `cell`, even one that drops leading blanks and quotes.
    fn runs_as_formula(cell: &str) -> bool {
        cell.trim_start_matches([' ', '"', '\t', '\r', '\n', '\0'])
            .starts_with(['=', '+', '-', '@'])
    }

    proptest! {
        #[test]
        fn reports_read_back_cell_for_cell_and_start_no_formula_whatever_the_separator(
            records in proptest::collection::vec(proptest::collection::vec(cell(), 1..4), 1..6)
        ) {
            let mut report = CsvReport::new();
            for record in &records {
                report.record(record.iter().map(String::as_str));
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
            let written: Vec<Vec<String>> = records
                .iter()
                .map(|r| r.iter().map(|c| spreadsheet_safe(c).into_owned()).collect())
                .collect();
            prop_assert_eq!(read(b','), written);
            for delimiter in [b',', b';', b'\t'] {
                for cell in read(delimiter).iter().flatten() {
                    prop_assert!(!runs_as_formula(cell), "{:?}", cell);
                }
            }
        }
    }

    #[test]
    fn a_bounded_list_keeps_the_first_items_and_counts_them_all() {
        let bounded = Bounded::first(1..=1_000_000, 50);
        assert_eq!(bounded.shown, (1..=50).collect::<Vec<_>>());
        assert_eq!((bounded.total, bounded.hidden()), (1_000_000, 999_950));
        assert_eq!(Bounded::first(["a"], 50).hidden(), 0);
    }
}
