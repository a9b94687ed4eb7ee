//! Reading uploaded CSV files as real exports come (byte order marks, `,` `;` or tab separators,
//! quoted fields, CRLF, blank lines, stray columns) and deciding, row by row, what an import does
//! with them. Plain Rust, no I/O: storage supplies what it knows about each email.

pub mod csv_table;
pub mod renewal;
pub mod users;

pub use csv_table::{CsvError, CsvRow, CsvTable, MAX_BYTES};
