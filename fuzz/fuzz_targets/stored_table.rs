//! Any stored blob: decoding never panics, and accepts only what encoding writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatledger::imports::CsvTable;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(table) = CsvTable::from_bytes(bytes) {
        assert_eq!(table.to_bytes(), bytes);
        for row in table.rows() {
            row.get(table.likely_email_column());
        }
    }
});
