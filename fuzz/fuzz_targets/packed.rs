//! The packed-weight byte form of shift-core (`DSPW` header, rows, cols, code words): what
//! `PackedShiftWeights::from_bytes` accepts must write back to the same bytes and unpack to
//! `rows x cols` weights.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shift_core::PackedShiftWeights;

fuzz_target!(|data: &[u8]| {
    match PackedShiftWeights::from_bytes(data) {
        Ok(p) => {
            assert_eq!(p.to_bytes(), data, "byte form does not round-trip");
            assert_eq!(p.unpack().len(), p.rows() * p.cols());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
