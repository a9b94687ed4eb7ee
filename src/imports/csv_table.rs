//! A CSV file as a header and rows, each row with the line it starts on.

/// The largest file accepted: 20 MB.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;

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
    #[error("line {line} could not be read as CSV: {detail}")]
    Malformed { line: u64, detail: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRow {
    /// The line of the file the row starts on (1-based, counting the header).
    pub line: u64,
    pub fields: Vec<String>,
}

impl CsvRow {
    /// The value in `column`, trimmed; empty when the row is short.
    pub fn get(&self, column: usize) -> &str {
        self.fields.get(column).map_or("", |f| f.trim())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvTable {
    pub headers: Vec<String>,
    pub rows: Vec<CsvRow>,
}

/// Checks the size and decodes UTF-8 (with or without a byte order mark).
pub fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    if bytes.len() > MAX_BYTES {
        return Err(CsvError::TooLarge { size: bytes.len() });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvError::Empty);
    }
    let line_of = |at: usize| 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(CsvError::NotText { line: line_of(at) });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => Err(CsvError::NotUtf8 {
            line: line_of(e.valid_up_to()),
        }),
    }
}

/// The separator of the header line: whichever of `,` `;` and tab appears most outside quotes.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
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

/// Line numbers from byte offsets, counted once as parsing moves forward.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    line: u64,
}

impl LineCounter {
    /// The line of the first character of a record starting at byte `start` (leading line breaks
    /// belong to the lines before it).
    fn line_at(&mut self, bytes: &[u8], start: usize) -> u64 {
        let mut start = start.min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.counted_to {
            self.line += bytes[self.counted_to..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.counted_to = start;
        }
        self.line + 1
    }
}

/// Parses decoded text: the first non-blank row is the header; blank rows are skipped.
pub fn parse(text: &str) -> Result<CsvTable, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    // The reader's own line numbers drift after CRLF and blank lines; count from byte offsets.
    let bytes = text.as_bytes();
    let mut lines = LineCounter::default();
    loop {
        let start = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(start, |p| p.byte() as usize);
                return Err(CsvError::Malformed {
                    line: lines.line_at(bytes, at),
                    detail: e.to_string(),
                });
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let start = record.position().map_or(start, |p| p.byte() as usize);
        let line = lines.line_at(bytes, start);
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        match headers {
            None => headers = Some(fields.iter().map(|h| h.trim().to_owned()).collect()),
            Some(_) => rows.push(CsvRow { line, fields }),
        }
    }
    let headers = headers.ok_or(CsvError::Empty)?;
    if rows.is_empty() {
        return Err(CsvError::NoRows);
    }
    Ok(CsvTable { headers, rows })
}

impl CsvTable {
    /// The column most likely to hold emails: one named like "email", else the one whose first
    /// rows contain `@` most often.
    pub fn likely_email_column(&self) -> usize {
        let named = self.headers.iter().position(|h| {
            let h = h.to_lowercase().replace(['-', '_', ' '], "");
            h == "email" || h == "emailaddress" || h == "mail" || h == "e-mail"
        });
        named.unwrap_or_else(|| {
            (0..self.headers.len())
                .max_by_key(|&c| {
                    let hits = self
                        .rows
                        .iter()
                        .take(50)
                        .filter(|r| r.get(c).contains('@'))
                        .count();
                    (hits, std::cmp::Reverse(c))
                })
                .unwrap_or(0)
        })
    }

    /// The column whose header matches one of `names` (case and punctuation ignored).
    pub fn column_named(&self, names: &[&str]) -> Option<usize> {
        self.headers.iter().position(|h| {
            let h = h.to_lowercase().replace(['-', '_', ' '], "");
            names.contains(&h.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(bytes: &[u8]) -> CsvTable {
        parse(&decode(bytes).unwrap()).unwrap()
    }

    #[test]
    fn a_bom_crlf_semicolon_file_with_blank_lines_keeps_its_line_numbers() {
        let t =
            table(b"\xEF\xBB\xBFname;email\r\n\r\nAnn;ann@x.com\r\n\r\n\"Lee; Bob\";BOB@X.COM\r\n");
        assert_eq!(t.headers, ["name", "email"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!((t.rows[0].line, t.rows[0].get(1)), (3, "ann@x.com"));
        assert_eq!((t.rows[1].line, t.rows[1].get(0)), (5, "Lee; Bob"));
    }

    #[test]
    fn quoted_fields_may_hold_newlines_and_tabs_separate_too() {
        let t = table(b"id\tnote\temail\n1\t\"two\nlines\"\ta@x.com\n2\tshort\tb@x.com\n");
        assert_eq!(t.rows[0].get(1), "two\nlines");
        assert_eq!(t.rows[1].line, 4);
        assert_eq!(t.likely_email_column(), 2);
    }

    #[test]
    fn the_email_column_is_guessed_by_name_or_by_content() {
        assert_eq!(
            table(b"Name,E-Mail\nAnn,a@x.com\n").likely_email_column(),
            1
        );
        assert_eq!(table(b"a,b,c\n1,2,c@x.com\n").likely_email_column(), 2);
    }

    #[test]
    fn bad_files_are_refused_with_where() {
        assert_eq!(decode(b""), Err(CsvError::Empty));
        assert_eq!(decode(b"a,b\nc,\xFF\n"), Err(CsvError::NotUtf8 { line: 2 }));
        assert_eq!(decode(b"a\n\x00\x01"), Err(CsvError::NotText { line: 2 }));
        assert_eq!(parse("email\n"), Err(CsvError::NoRows));
        assert!(matches!(
            decode(&vec![b'a'; MAX_BYTES + 1]),
            Err(CsvError::TooLarge { .. })
        ));
    }
}
