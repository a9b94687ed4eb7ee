//! A CSV file as a header and rows, each row with the line it starts on, held compactly: the
//! fields of every row in one text buffer plus one small entry per row, so a parsed file costs
//! about its own size. Limits are checked while reading, so a hostile file is refused at its
//! first excess, before it costs memory. The compact form has a stable byte encoding for keeping
//! it between upload and preview; reading it back checks everything parsing guarantees.

/// The largest file accepted: 20 MB.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// The most columns a row may have: real exports have tens, and the mapping pages list each one.
pub const MAX_COLUMNS: usize = 200;
/// The longest field in bytes: emails have at most 254, and names are kept to 200 characters
/// (at most 800 bytes of UTF-8).
pub const MAX_FIELD_BYTES: usize = 1_000;
/// The most rows a file may have: two and a half times the 100,000-row renewal of the benchmark
/// (a 20 MB file at this limit averages 80 bytes a row).
pub const MAX_ROWS: usize = 250_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the file is larger than 20 MB ({size} bytes); split it into smaller files")]
    TooLarge { size: usize },
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a text file (it contains binary data on line {line})")]
    NotText { line: u64 },
    #[error(
        "the file is not UTF-8 text: line {line} has bytes that are not UTF-8 (save it as CSV UTF-8)"
    )]
    NotUtf8 { line: u64 },
    #[error("the file has a header but no rows")]
    NoRows,
    #[error(
        "line {line} has more than {MAX_COLUMNS} columns; a file may have at most {MAX_COLUMNS}"
    )]
    TooManyColumns { line: u64 },
    #[error(
        "line {line} has a field longer than {} bytes in column {column}; a field may have at most {} bytes{}",
        thousands(MAX_FIELD_BYTES),
        thousands(MAX_FIELD_BYTES),
        if *quoted { " (is a closing quote missing?)" } else { "" }
    )]
    FieldTooLong {
        line: u64,
        column: usize,
        quoted: bool,
    },
    #[error(
        "the file has more than {} rows (row {} is on line {line}); split it into smaller files",
        thousands(MAX_ROWS),
        thousands(MAX_ROWS + 1)
    )]
    TooManyRows { line: u64 },
    #[error("line {line} opens a quote that is never closed")]
    UnclosedQuote { line: u64 },
}

impl CsvError {
    /// The line of the file the error is about, if it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            CsvError::NotText { line }
            | CsvError::NotUtf8 { line }
            | CsvError::TooManyColumns { line }
            | CsvError::FieldTooLong { line, .. }
            | CsvError::TooManyRows { line }
            | CsvError::UnclosedQuote { line } => Some(*line),
            CsvError::TooLarge { .. } | CsvError::Empty | CsvError::NoRows => None,
        }
    }
}

/// A column number that is not a column of the table (as given, so no number wraps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {} is not a column of this file, which has {columns}", *index as u128 + 1)]
pub struct NoSuchColumn {
    /// The 0-based index asked for.
    pub index: usize,
    pub columns: usize,
}

/// A stored table that does not decode: storage was damaged or written by something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the stored CSV file is damaged: {0}")]
pub struct DamagedTable(&'static str);

/// A column of a table, checked against its header: the way to read a field of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Column(usize);

impl Column {
    /// The 0-based index, as the column pickers send it.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Separates the fields of a record in the text buffer; never in a file (`decode` and `parse`
/// refuse it), so no field needs escaping.
const SEPARATOR: char = '\0';

/// One record of the file that is not blank: the line it starts on and where its fields end in
/// the text buffer (it starts where the one before ends). `u32` fits because a file is at most
/// `MAX_BYTES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    line: u32,
    end: u32,
}

/// A parsed file: its header and rows, fields trimmed, blank rows left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvTable {
    headers: Vec<String>,
    /// The fields of every record, header first, joined by `SEPARATOR`.
    text: String,
    /// The header's record, then one per row; always at least two.
    records: Vec<Record>,
}

/// A row of a table, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvRow<'a> {
    /// The line of the file the row starts on (1-based, counting the header).
    pub line: u64,
    fields: &'a str,
}

impl<'a> CsvRow<'a> {
    /// The value in `column`, trimmed; empty when the row is short.
    pub fn get(&self, column: Column) -> &'a str {
        self.fields().nth(column.0).unwrap_or("")
    }

    /// The row's values in column order, trimmed.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.fields.split(SEPARATOR)
    }
}

/// Checks the size and decodes UTF-8 (with or without a byte order mark).
pub fn decode(bytes: &[u8]) -> Result<&str, CsvError> {
    if bytes.len() > MAX_BYTES {
        return Err(CsvError::TooLarge { size: bytes.len() });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty);
    }
    let line_of = |at: usize| 1 + line_breaks(bytes, 0..at);
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(CsvError::NotText { line: line_of(at) });
    }
    std::str::from_utf8(bytes).map_err(|e| CsvError::NotUtf8 {
        line: line_of(e.valid_up_to()),
    })
}

/// Decodes and parses an uploaded file.
pub fn read(bytes: &[u8]) -> Result<CsvTable, CsvError> {
    parse(decode(bytes)?)
}

/// The separator of the header line: whichever of `,` `;` and tab appears most outside quotes.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .split(['\r', '\n'])
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// `bytes` without the line breaks it starts with.
fn after_line_breaks(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .position(|&b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    &bytes[skip..]
}

/// Whether the raw text of a field opens a quote it never closes (possible only at the end of
/// the file, where the CSV reader ends the field anyway).
fn unclosed_quote(raw: &[u8]) -> bool {
    let Some(mut rest) = after_line_breaks(raw).strip_prefix(b"\"") else {
        return false;
    };
    loop {
        match rest.iter().position(|&b| b == b'"') {
            None => return true,
            Some(at) if rest.get(at + 1) == Some(&b'"') => rest = &rest[at + 2..],
            Some(_) => return false,
        }
    }
}

/// How many lines end within `range` of `bytes`: at `\n`, `\r\n` or a lone `\r` (as old Mac
/// exports end them). `bytes` is the whole file, so a `\r\n` counts once.
fn line_breaks(bytes: &[u8], range: std::ops::Range<usize>) -> u64 {
    bytes[range.clone()]
        .iter()
        .zip(range)
        .filter(|&(&b, at)| b == b'\n' || (b == b'\r' && bytes.get(at + 1) != Some(&b'\n')))
        .count() as u64
}

/// Line numbers from byte offsets, counted once as parsing moves forward.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    line: u64,
}

impl LineCounter {
    /// The line of the first character at or after byte `start` that is not a line break
    /// (leading line breaks belong to the lines before it). Offsets must not go backwards.
    fn line_at(&mut self, bytes: &[u8], start: usize) -> u64 {
        let start = start.min(bytes.len());
        let start = bytes.len() - after_line_breaks(&bytes[start..]).len();
        if start > self.counted_to {
            self.line += line_breaks(bytes, self.counted_to..start);
            self.counted_to = start;
        }
        self.line + 1
    }
}

/// The record being read: where it starts in the file and in the text buffer, its line once
/// known, how many fields it has so far and whether all of them are blank.
struct OpenRecord {
    start: usize,
    text_start: usize,
    line: Option<u64>,
    columns: usize,
    blank: bool,
}

impl OpenRecord {
    fn new(start: usize, text_start: usize) -> Self {
        Self {
            start,
            text_start,
            line: None,
            columns: 0,
            blank: true,
        }
    }

    fn line(&mut self, bytes: &[u8], lines: &mut LineCounter) -> u64 {
        *self
            .line
            .get_or_insert_with(|| lines.line_at(bytes, self.start))
    }
}

/// Parses decoded text: the first non-blank row is the header; blank rows are skipped. Reads
/// one field at a time and stops at the first limit exceeded.
pub fn parse(text: &str) -> Result<CsvTable, CsvError> {
    use csv_core::ReadFieldResult;

    if text.len() > MAX_BYTES {
        return Err(CsvError::TooLarge { size: text.len() });
    }
    let bytes = text.as_bytes();
    let mut reader = csv_core::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .build();
    // One spare byte tells a field of exactly the limit from a longer one.
    let mut field = [0u8; MAX_FIELD_BYTES + 1];
    let mut field_len = 0;
    let mut field_start = 0;
    let mut at = 0;
    // The fields kept are never longer than the text they come from, so this never grows.
    let mut kept = String::with_capacity(text.len());
    let mut records: Vec<Record> = Vec::new();
    let mut lines = LineCounter::default();
    let mut record = OpenRecord::new(0, 0);
    loop {
        let (result, read, written) = reader.read_field(&bytes[at..], &mut field[field_len..]);
        at += read;
        field_len += written;
        let record_end = match result {
            ReadFieldResult::InputEmpty => continue,
            ReadFieldResult::End => break,
            // The field outgrew the buffer: refused as too long below.
            ReadFieldResult::OutputFull => true,
            ReadFieldResult::Field { record_end } => record_end,
        };
        let line = record.line(bytes, &mut lines);
        record.columns += 1;
        if record.columns > MAX_COLUMNS {
            return Err(CsvError::TooManyColumns { line });
        }
        if field_len > MAX_FIELD_BYTES {
            return Err(CsvError::FieldTooLong {
                line,
                column: record.columns,
                quoted: after_line_breaks(&bytes[field_start..]).starts_with(b"\""),
            });
        }
        if at == bytes.len() && unclosed_quote(&bytes[field_start..]) {
            return Err(CsvError::UnclosedQuote {
                line: lines.line_at(bytes, field_start),
            });
        }
        // Quotes, separators and line breaks are ASCII, so a field of UTF-8 text is UTF-8.
        let value = String::from_utf8_lossy(&field[..field_len]);
        if value.contains(SEPARATOR) {
            return Err(CsvError::NotText { line });
        }
        let value = trimmed(&value);
        if record.columns > 1 {
            kept.push(SEPARATOR);
        }
        kept.push_str(value);
        record.blank &= value.is_empty();
        field_len = 0;
        field_start = at;
        if !record_end {
            continue;
        }
        if record.blank {
            kept.truncate(record.text_start);
        } else if records.len() > MAX_ROWS {
            return Err(CsvError::TooManyRows { line });
        } else {
            records.push(Record {
                line: line as u32,
                end: kept.len() as u32,
            });
        }
        record = OpenRecord::new(at, kept.len());
    }
    let header = records.first().ok_or(CsvError::Empty)?;
    if records.len() < 2 {
        return Err(CsvError::NoRows);
    }
    let headers = kept[..header.end as usize]
        .split(SEPARATOR)
        .map(str::to_owned)
        .collect();
    kept.shrink_to_fit();
    records.shrink_to_fit();
    Ok(CsvTable {
        headers,
        text: kept,
        records,
    })
}

/// The stored form starts with this: what it is and the version of its layout.
const STORED_MAGIC: &[u8; 8] = b"slcsv\0\0\x01";

impl CsvTable {
    /// The header's values, trimmed; at least one.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The rows in file order (blank ones left out); at least one.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = CsvRow<'_>> + '_ {
        self.records.windows(2).map(|pair| CsvRow {
            line: u64::from(pair[1].line),
            fields: &self.text[pair[0].end as usize..pair[1].end as usize],
        })
    }

    pub fn row_count(&self) -> usize {
        self.records.len() - 1
    }

    /// Column `index` (0-based) if the header has it.
    pub fn column(&self, index: usize) -> Result<Column, NoSuchColumn> {
        if index < self.headers.len() {
            Ok(Column(index))
        } else {
            Err(NoSuchColumn {
                index,
                columns: self.headers.len(),
            })
        }
    }

    /// The column most likely to hold emails: one named like "email", else the one whose first
    /// rows contain `@` most often.
    pub fn likely_email_column(&self) -> Column {
        if let Some(named) = self.column_named(&["email", "emailaddress", "mail"]) {
            return named;
        }
        let mut hits = vec![0usize; self.headers.len()];
        for row in self.rows().take(50) {
            for (hit, value) in hits.iter_mut().zip(row.fields()) {
                *hit += usize::from(value.contains('@'));
            }
        }
        let best = (0..hits.len())
            .max_by_key(|&c| (hits[c], std::cmp::Reverse(c)))
            .unwrap_or(0);
        Column(best)
    }

    /// The column whose header matches one of `names` (case and punctuation ignored).
    pub fn column_named(&self, names: &[&str]) -> Option<Column> {
        self.headers
            .iter()
            .position(|h| {
                let h = h.to_lowercase().replace(['-', '_', ' '], "");
                names.contains(&h.as_str())
            })
            .map(Column)
    }

    /// The stored form, little-endian: `STORED_MAGIC`, the number of records (header included)
    /// as `u32`, then per record its line and the end of its fields in the text as two `u32`,
    /// then the text (fields trimmed, joined by NUL). Its size is about the text's.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(STORED_MAGIC.len() + 4 + 8 * self.records.len() + self.text.len());
        out.extend_from_slice(STORED_MAGIC);
        out.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        for record in &self.records {
            out.extend_from_slice(&record.line.to_le_bytes());
            out.extend_from_slice(&record.end.to_le_bytes());
        }
        out.extend_from_slice(self.text.as_bytes());
        out
    }

    /// Reads the stored form back, checking everything `parse` guarantees (limits included), so
    /// only what `to_bytes` writes is accepted.
    pub fn from_bytes(bytes: &[u8]) -> Result<CsvTable, DamagedTable> {
        let rest = bytes
            .strip_prefix(STORED_MAGIC)
            .ok_or(DamagedTable("it is not a stored CSV file"))?;
        let (count, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(DamagedTable("it is cut short"))?;
        let count = u32::from_le_bytes(*count) as usize;
        if !(2..=MAX_ROWS + 1).contains(&count) {
            return Err(DamagedTable("its number of rows is out of range"));
        }
        if rest.len() < count * 8 {
            return Err(DamagedTable("it is cut short"));
        }
        let (index, text) = rest.split_at(count * 8);
        if text.len() > MAX_BYTES {
            return Err(DamagedTable("its text is too long"));
        }
        let text = std::str::from_utf8(text).map_err(|_| DamagedTable("its text is not UTF-8"))?;
        let u32_at = |chunk: &[u8], at: usize| {
            u32::from_le_bytes([chunk[at], chunk[at + 1], chunk[at + 2], chunk[at + 3]])
        };
        let records: Vec<Record> = index
            .chunks_exact(8)
            .map(|chunk| Record {
                line: u32_at(chunk, 0),
                end: u32_at(chunk, 4),
            })
            .collect();
        let (mut start, mut last_line) = (0, 0);
        for record in &records {
            let end = record.end as usize;
            if record.line <= last_line || end <= start || !text.is_char_boundary(end) {
                return Err(DamagedTable("its rows are out of order"));
            }
            check_stored_record(&text[start..end])?;
            (start, last_line) = (end, record.line);
        }
        if start != text.len() {
            return Err(DamagedTable("it has text after its last row"));
        }
        let headers = text[..records[0].end as usize]
            .split(SEPARATOR)
            .map(str::to_owned)
            .collect();
        Ok(CsvTable {
            headers,
            text: text.to_owned(),
            records,
        })
    }

    /// The bytes the table holds on the heap.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.records.capacity() * size_of::<Record>()
            + self.headers.capacity() * size_of::<String>()
            + self.headers.iter().map(String::capacity).sum::<usize>()
    }
}

/// Checks a stored record's fields as `parse` leaves them: within the limits, trimmed, not all
/// blank.
fn check_stored_record(record: &str) -> Result<(), DamagedTable> {
    let mut columns = 0;
    let mut blank = true;
    for value in record.split(SEPARATOR) {
        columns += 1;
        if columns > MAX_COLUMNS || value.len() > MAX_FIELD_BYTES {
            return Err(DamagedTable("a row exceeds the limits"));
        }
        if trimmed(value).len() != value.len() {
            return Err(DamagedTable("a field is not trimmed"));
        }
        blank &= value.is_empty();
    }
    if blank {
        return Err(DamagedTable("a row is blank"));
    }
    Ok(())
}

/// `value` without the blanks around it: whitespace, and byte order marks (invisible; one that
/// does not open the file is left by joined exports).
fn trimmed(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
}

/// `n` with thousands separators, as people read counts.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(bytes: &[u8]) -> CsvTable {
        read(bytes).unwrap()
    }

    fn column(table: &CsvTable, index: usize) -> Column {
        table.column(index).unwrap()
    }

    /// Each row's line and values.
    fn rows(table: &CsvTable) -> Vec<(u64, Vec<&str>)> {
        table
            .rows()
            .map(|row| (row.line, row.fields().collect()))
            .collect()
    }

    #[test]
    fn a_bom_crlf_semicolon_file_with_blank_lines_keeps_its_line_numbers() {
        let t =
            table(b"\xEF\xBB\xBFname;email\r\n\r\nAnn;ann@x.com\r\n\r\n\"Lee; Bob\";BOB@X.COM\r\n");
        assert_eq!(t.headers(), ["name", "email"]);
        assert_eq!(
            rows(&t),
            [
                (3, vec!["Ann", "ann@x.com"]),
                (5, vec!["Lee; Bob", "BOB@X.COM"])
            ]
        );
    }

    #[test]
    fn old_mac_files_end_lines_with_a_lone_carriage_return() {
        let t = table(b"name;email\rAnn;a@x.com\r\rBob;b@x.com\r\n\"Lee\rMay\";l,x,y,z@x.com,,,");
        assert_eq!(
            rows(&t),
            [
                (2, vec!["Ann", "a@x.com"]),
                (4, vec!["Bob", "b@x.com"]),
                (5, vec!["Lee\rMay", "l,x,y,z@x.com,,,"])
            ]
        );
    }

    #[test]
    fn quoted_fields_may_hold_newlines_and_tabs_separate_too() {
        let t = table(b"id\tnote\temail\n1\t\"two\nlines\"\ta@x.com\n2\tshort\tb@x.com\n");
        let first = t.rows().next().unwrap();
        assert_eq!(first.get(column(&t, 1)), "two\nlines");
        assert_eq!(t.rows().nth(1).unwrap().line, 4);
        assert_eq!(t.likely_email_column(), column(&t, 2));
    }

    #[test]
    fn the_email_column_is_guessed_by_name_or_by_content() {
        let named = table(b"Name,E-Mail\nAnn,a@x.com\n");
        assert_eq!(named.likely_email_column(), column(&named, 1));
        let by_content = table(b"a,b,c\n1,2,c@x.com\n");
        assert_eq!(by_content.likely_email_column(), column(&by_content, 2));
    }

    #[test]
    fn fields_are_trimmed_blank_rows_left_out_and_short_rows_read_empty() {
        let t = table(b"email, name ,\n  a@x.com ,\" Ann \"\n , ,\n,\nb@x.com\n");
        assert_eq!(t.headers(), ["email", "name", ""]);
        assert_eq!(
            rows(&t),
            [(2, vec!["a@x.com", "Ann"]), (5, vec!["b@x.com"])]
        );
        assert_eq!(t.rows().nth(1).unwrap().get(column(&t, 2)), "");
        assert_eq!(t.row_count(), 2);
    }

    /// Found by the `csv_file` fuzz target: a byte order mark after blank lines became a header.
    #[test]
    fn a_byte_order_mark_inside_the_file_is_blank() {
        let t = table(b"\n\n\n\xEF\xBB\xBF\n\n\n\xEF\xBB\xBFemail\nann@x.com\n");
        assert_eq!(t.headers(), ["email"]);
        assert_eq!(rows(&t), [(8, vec!["ann@x.com"])]);
    }

    #[test]
    fn bad_files_are_refused_with_where() {
        assert_eq!(decode(b""), Err(CsvError::Empty));
        assert_eq!(decode(b"a,b\nc,\xFF\n"), Err(CsvError::NotUtf8 { line: 2 }));
        assert_eq!(decode(b"a\n\x00\x01"), Err(CsvError::NotText { line: 2 }));
        assert_eq!(decode(b"a\r\r\n\x00"), Err(CsvError::NotText { line: 3 }));
        assert_eq!(
            parse("email\nann\0@x.com\n"),
            Err(CsvError::NotText { line: 2 })
        );
        assert_eq!(parse("email\n"), Err(CsvError::NoRows));
        assert_eq!(parse(" ,\n\n"), Err(CsvError::Empty));
        assert!(matches!(
            decode(&vec![b'a'; MAX_BYTES + 1]),
            Err(CsvError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_twenty_megabyte_header_of_commas_is_refused_at_its_201st_column() {
        let mut bytes = b"email".to_vec();
        bytes.resize(MAX_BYTES, b',');
        let refused = read(&bytes).unwrap_err();
        assert_eq!(refused, CsvError::TooManyColumns { line: 1 });
        assert_eq!(
            refused.to_string(),
            "line 1 has more than 200 columns; a file may have at most 200"
        );
    }

    #[test]
    fn a_row_may_have_200_columns_but_not_201() {
        let row = |columns: usize| vec!["x"; columns].join(",");
        let file = format!("email\na@x.io\n{}\n", row(200));
        assert_eq!(
            table(file.as_bytes())
                .rows()
                .nth(1)
                .unwrap()
                .fields()
                .count(),
            200
        );
        let file = format!("email\na@x.io\n\n{}\nb@x.io\n", row(201));
        assert_eq!(
            read(file.as_bytes()),
            Err(CsvError::TooManyColumns { line: 4 })
        );
    }

    #[test]
    fn a_field_may_have_1000_bytes_but_not_1001() {
        let long = "é".repeat(MAX_FIELD_BYTES / 2);
        let file = format!("email,note\na@x.io,\"{}\"\n", long.replace('é', "\"\""));
        assert_eq!(
            table(file.as_bytes())
                .rows()
                .next()
                .unwrap()
                .fields()
                .nth(1)
                .unwrap()
                .len(),
            500
        );
        let file = format!("email,note\na@x.io,{long}\n");
        assert_eq!(
            table(file.as_bytes())
                .rows()
                .next()
                .unwrap()
                .fields()
                .nth(1),
            Some(long.as_str())
        );
        let file = format!("email,note\na@x.io,x\nb@x.io,{long}x\n");
        let refused = read(file.as_bytes()).unwrap_err();
        assert_eq!(
            refused,
            CsvError::FieldTooLong {
                line: 3,
                column: 2,
                quoted: false
            }
        );
        assert_eq!(
            refused.to_string(),
            "line 3 has a field longer than 1,000 bytes in column 2; a field may have at most 1,000 bytes"
        );
    }

    #[test]
    fn a_quote_left_open_is_named() {
        let mut file = b"email,note\na@x.io,\"oops\n".to_vec();
        file.extend(b"b@x.io,fine\n".repeat(100));
        let refused = read(&file).unwrap_err();
        assert_eq!(
            refused,
            CsvError::FieldTooLong {
                line: 2,
                column: 2,
                quoted: true
            }
        );
        assert!(
            refused
                .to_string()
                .ends_with("(is a closing quote missing?)")
        );
        assert_eq!(
            read(b"email\na@x.io\n\r\n\"b@x.io\nc@x.io\n"),
            Err(CsvError::UnclosedQuote { line: 4 })
        );
        assert_eq!(
            read(b"email\n\"b@x.io\"\""),
            Err(CsvError::UnclosedQuote { line: 2 })
        );
        assert_eq!(rows(&table(b"email\n\"b@x.io\"")), [(2, vec!["b@x.io"])]);
        assert_eq!(
            rows(&table(b"email\n\"b@x.io\"\"\"")),
            [(2, vec!["b@x.io\""])]
        );
    }

    #[test]
    fn a_file_may_have_250000_rows_but_not_250001() {
        let mut file = b"email\n".to_vec();
        file.extend(b"a@x.io\n\n".repeat(MAX_ROWS));
        assert_eq!(table(&file).row_count(), MAX_ROWS);
        file.extend(b"b@x.io\n");
        let refused = read(&file).unwrap_err();
        let line = 2 + 2 * MAX_ROWS as u64;
        assert_eq!(refused, CsvError::TooManyRows { line });
        assert_eq!(
            refused.to_string(),
            format!(
                "the file has more than 250,000 rows (row 250,001 is on line {line}); split it into smaller files"
            )
        );
    }

    #[test]
    fn a_twenty_megabyte_file_of_short_fields_takes_at_most_twice_its_size_in_memory() {
        let row = format!("{}\n", vec!["ab"; MAX_COLUMNS].join(","));
        let mut file = row.replace("ab", "h").into_bytes();
        while file.len() + row.len() <= MAX_BYTES {
            file.extend(row.as_bytes());
        }
        let t = table(&file);
        assert_eq!(t.row_count(), (file.len() - 400) / row.len());
        assert!(
            t.heap_bytes() <= 2 * file.len(),
            "{} bytes on the heap for a file of {}",
            t.heap_bytes(),
            file.len()
        );
        assert!(t.to_bytes().len() <= file.len() + 8 * (t.row_count() + 2));
    }

    #[test]
    fn the_stored_form_is_pinned_and_reads_back_equal() {
        let t = table(b"email,name\r\nann@x.com, Ann\r\n\r\n,Bob\r\n");
        let stored = t.to_bytes();
        assert_eq!(
            stored,
            b"slcsv\0\0\x01\x03\0\0\0\
              \x01\0\0\0\x0a\0\0\0\
              \x02\0\0\0\x17\0\0\0\
              \x04\0\0\0\x1b\0\0\0\
              email\0nameann@x.com\0Ann\0Bob"
        );
        assert_eq!(CsvTable::from_bytes(&stored), Ok(t));
    }

    #[test]
    fn a_damaged_stored_form_is_an_error_never_a_panic() {
        let stored = table(b"email,name\nann@x.com,Ann\nbob@x.com,\xC3\xA9\n").to_bytes();
        for cut in 0..stored.len() {
            assert!(
                CsvTable::from_bytes(&stored[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for at in 0..stored.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut damaged = stored.clone();
                damaged[at] ^= flip;
                if let Ok(read) = CsvTable::from_bytes(&damaged) {
                    assert_eq!(read.to_bytes(), damaged, "byte {at} ^ {flip:#x}");
                }
            }
        }
        let mut huge_count = stored.clone();
        huge_count[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(CsvTable::from_bytes(&huge_count).is_err());
        let mut extra = stored.clone();
        extra.push(b'x');
        assert_eq!(
            CsvTable::from_bytes(&extra),
            Err(DamagedTable("it has text after its last row"))
        );
    }

    #[test]
    fn column_numbers_are_checked_and_never_wrap() {
        let t = table(b"name,email\nAnn,a@x.com\n");
        assert_eq!(t.column(1).map(Column::index), Ok(1));
        let refused = t.column(usize::MAX).unwrap_err();
        assert_eq!(
            refused,
            NoSuchColumn {
                index: usize::MAX,
                columns: 2
            }
        );
        assert_eq!(
            refused.to_string(),
            "column 18446744073709551616 is not a column of this file, which has 2"
        );
        assert!(t.column(2).is_err());
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(
            [0, 999, 1_000, 250_000, 1_234_567].map(thousands),
            ["0", "999", "1,000", "250,000", "1,234,567"]
        );
    }

    /// What every reading of `bytes` must keep: a refusal names a line of the file; a table
    /// keeps the limits, numbers its rows in order within the file, and stores and reads back
    /// equal.
    fn check_reading(bytes: &[u8]) -> Result<Option<CsvTable>, TestCaseError> {
        let lines = 1 + line_breaks(bytes, 0..bytes.len());
        let t = match read(bytes) {
            Ok(t) => t,
            Err(e) => {
                if let Some(line) = e.line() {
                    prop_assert!((1..=lines).contains(&line), "{e} in {lines} lines");
                }
                return Ok(None);
            }
        };
        prop_assert!((1..=MAX_COLUMNS).contains(&t.headers().len()));
        prop_assert!((1..=MAX_ROWS).contains(&t.row_count()));
        prop_assert_eq!(t.rows().len(), t.row_count());
        let mut last_line = 1;
        for row in t.rows() {
            prop_assert!(row.line > last_line && row.line <= lines);
            last_line = row.line;
            let fields: Vec<&str> = row.fields().collect();
            prop_assert!(fields.len() <= MAX_COLUMNS);
            prop_assert!(fields.iter().any(|f| !f.is_empty()));
            for field in fields {
                prop_assert!(field.len() <= MAX_FIELD_BYTES && field.trim() == field);
            }
        }
        prop_assert!(t.likely_email_column().index() < t.headers().len());
        prop_assert!(t.column(t.headers().len()).is_err());
        let stored = CsvTable::from_bytes(&t.to_bytes());
        prop_assert_eq!(stored.as_ref(), Ok(&t));
        Ok(Some(t))
    }

    /// Bytes that look like CSV: separators, quotes, line breaks, spaces, UTF-8 and not.
    fn csv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&[u8]> = vec![
            b"a",
            b"@",
            b"x.io",
            b",",
            b";",
            b"\t",
            b"\"",
            b"\"\"",
            b"\r",
            b"\n",
            b"\r\n",
            b" ",
            "é".as_bytes(),
            b"\xEF\xBB\xBF",
            b"\xFF",
            b"\0",
            b"email",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..200)
            .prop_map(|pieces| pieces.concat())
    }

    /// A field as a person might type it, and how a CSV writer quotes it.
    fn field() -> impl Strategy<Value = String> {
        let chars = vec![
            'a', 'b', '@', '.', ' ', ',', ';', '\t', '"', '\r', '\n', '=', 'é',
        ];
        proptest::collection::vec(proptest::sample::select(chars), 0..12)
            .prop_map(String::from_iter)
    }

    fn written(field: &str) -> String {
        if field.contains(['"', ',', '\r', '\n']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_within_the_limits_or_refused_at_a_line_of_the_file(
            bytes in proptest::collection::vec(any::<u8>(), 0..600)
        ) {
            check_reading(&bytes)?;
        }

        #[test]
        fn csv_like_bytes_are_read_within_the_limits_or_refused_at_a_line_of_the_file(
            bytes in csv_like_bytes()
        ) {
            check_reading(&bytes)?;
        }

        #[test]
        fn written_csv_reads_back_as_written_trimmed_without_blank_rows(
            headers in proptest::collection::vec("[a-z]{1,6}", 1..5),
            rows in proptest::collection::vec(proptest::collection::vec(field(), 1..6), 0..12),
            crlf in any::<bool>(),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let mut file = format!("{}{end}", headers.join(","));
            let mut expected = Vec::new();
            for row in &rows {
                let line = 1 + line_breaks(file.as_bytes(), 0..file.len());
                let values: Vec<String> = row.iter().map(|f| f.trim().to_owned()).collect();
                if values.iter().any(|v| !v.is_empty()) {
                    expected.push((line, values));
                }
                let cells: Vec<String> = row.iter().map(|f| written(f)).collect();
                file.push_str(&cells.join(","));
                file.push_str(end);
            }
            match check_reading(file.as_bytes())? {
                Some(t) => {
                    prop_assert_eq!(t.headers(), headers.as_slice());
                    let read: Vec<(u64, Vec<String>)> = t
                        .rows()
                        .map(|r| (r.line, r.fields().map(str::to_owned).collect()))
                        .collect();
                    prop_assert_eq!(read, expected);
                }
                None => prop_assert!(expected.is_empty()),
            }
        }

        #[test]
        fn a_damaged_stored_form_is_refused_or_reads_back_as_stored(
            bytes in csv_like_bytes(),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let Some(t) = check_reading(&bytes)? else { return Ok(()) };
            let mut stored = t.to_bytes();
            for (at, byte) in damage {
                let at = at.index(stored.len());
                stored[at] = byte;
            }
            stored.truncate(stored.len() - cut.index(4));
            if let Ok(read) = CsvTable::from_bytes(&stored) {
                prop_assert_eq!(read.to_bytes(), stored);
            }
        }

        #[test]
        fn rows_wider_than_the_limit_are_refused_on_their_line(
            columns in 1usize..=260,
            at in 0usize..5,
        ) {
            let mut rows = vec!["a@x.io".to_owned(); 5];
            rows[at] = vec!["x"; columns].join(",");
            let file = format!("email\n{}\n", rows.join("\n"));
            let result = check_reading(file.as_bytes());
            if columns > MAX_COLUMNS {
                prop_assert_eq!(
                    read(file.as_bytes()),
                    Err(CsvError::TooManyColumns { line: at as u64 + 2 })
                );
            } else {
                prop_assert!(result?.is_some());
            }
        }

        #[test]
        fn fields_longer_than_the_limit_are_refused_in_their_column(
            length in (MAX_FIELD_BYTES - 3)..=(MAX_FIELD_BYTES + 3),
            quoted in any::<bool>(),
        ) {
            let value = "x".repeat(length);
            let value = if quoted { format!("\"{value}\"") } else { value };
            let file = format!("email,note\na@x.io,{value}\n");
            if length > MAX_FIELD_BYTES {
                prop_assert_eq!(
                    read(file.as_bytes()),
                    Err(CsvError::FieldTooLong { line: 2, column: 2, quoted })
                );
            } else {
                prop_assert!(check_reading(file.as_bytes())?.is_some());
            }
        }
    }
}
