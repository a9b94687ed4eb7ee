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
    let t = table(b"\xEF\xBB\xBFname;email\r\n\r\nAnn;ann@x.com\r\n\r\n\"Lee; Bob\";BOB@X.COM\r\n");
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
    let excel = decode(b"name,email\nRen\xE9e M\xFCller \x80,r@x.com\n").unwrap();
    assert_eq!(excel.encoding, Encoding::Windows1252);
    assert_eq!(excel.text, "name,email\nRenée Müller €,r@x.com\n");
    let utf8 = decode("name\nRenée\n".as_bytes()).unwrap();
    assert_eq!(utf8.encoding, Encoding::Utf8);
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
    proptest::collection::vec(proptest::sample::select(chars), 0..12).prop_map(String::from_iter)
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
