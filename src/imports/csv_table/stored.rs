//! The stored form of a table: written at upload, read back (and checked) for each preview.

use super::{
    CsvTable, DamagedTable, MAX_BYTES, MAX_COLUMNS, MAX_FIELD_BYTES, MAX_ROWS, Record, SEPARATOR,
    trimmed,
};

/// The stored form starts with this: what it is and the version of its layout.
const STORED_MAGIC: &[u8; 8] = b"slcsv\0\0\x01";

impl CsvTable {
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
