//! A CSV file as a header and rows, each row with the line it starts on, held compactly: the
//! fields of every row in one text buffer plus one small entry per row, so a parsed file costs
//! about its own size. Limits are checked while reading, so a hostile file is refused at its
//! first excess, before it costs memory. The compact form has a stable byte encoding for keeping
//! it between upload and preview; reading it back checks everything parsing guarantees.

mod stored;

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

/// How an uploaded file's bytes were read as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Excel's plain "CSV" is saved in the Windows code page: a file that is not UTF-8 is read
    /// as Windows-1252, which gives every byte a character, and the preview says so.
    Windows1252,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

impl std::str::FromStr for Encoding {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        [Encoding::Utf8, Encoding::Windows1252]
            .into_iter()
            .find(|e| e.as_str() == raw)
            .ok_or(())
    }
}

/// A file's text and how it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub text: std::borrow::Cow<'a, str>,
    pub encoding: Encoding,
}

/// Windows-1252 at 0x80..=0x9F, where it differs from Latin-1 (WHATWG's table: the five bytes
/// it leaves undefined read as the C1 controls of the same number).
const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

fn windows_1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Checks the size and decodes the text: UTF-8 (with or without a byte order mark), or else
/// Windows-1252.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, CsvError> {
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
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => Decoded {
            text: std::borrow::Cow::Borrowed(text),
            encoding: Encoding::Utf8,
        },
        Err(_) => Decoded {
            text: std::borrow::Cow::Owned(windows_1252(bytes)),
            encoding: Encoding::Windows1252,
        },
    })
}

/// Decodes and parses an uploaded file.
pub fn read(bytes: &[u8]) -> Result<CsvTable, CsvError> {
    parse(&decode(bytes)?.text)
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

impl CsvTable {
    /// The header's values, trimmed; at least one.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The rows in file order (blank ones left out); at least one.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = CsvRow<'_>> + '_ {
        (0..self.row_count()).map(|index| self.row(index))
    }

    /// Row `index` (0-based, as `rows` counts them).
    ///
    /// # Panics
    /// If the table has no such row.
    pub fn row(&self, index: usize) -> CsvRow<'_> {
        let (before, record) = (self.records[index], self.records[index + 1]);
        CsvRow {
            line: u64::from(record.line),
            fields: &self.text[before.end as usize..record.end as usize],
        }
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

    /// The bytes the table holds on the heap.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.records.capacity() * size_of::<Record>()
            + self.headers.capacity() * size_of::<String>()
            + self.headers.iter().map(String::capacity).sum::<usize>()
    }
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
mod tests;
