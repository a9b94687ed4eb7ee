//! Reading uploaded CSV files as real exports come (byte order marks, `,` `;` or tab separators,
//! quoted fields, CRLF, blank lines, stray columns) within firm limits, deciding row by row what
//! an import does with them, and writing reports that spreadsheets open safely. Plain Rust, no
//! I/O: storage supplies what it knows about each email.

pub mod csv_table;
pub mod export;
pub mod renewal;
pub mod users;

pub use csv_table::{
    Column, CsvError, CsvRow, CsvTable, DamagedTable, MAX_BYTES, MAX_COLUMNS, MAX_FIELD_BYTES,
    MAX_ROWS, NoSuchColumn,
};
