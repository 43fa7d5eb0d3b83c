//! The packed byte form refuses what `to_bytes` never writes, with an error and no panic
//! (inputs found while fuzzing `PackedShiftWeights::from_bytes`, fuzz target `packed`).

use shift_core::{Encoding, PackedShiftWeights};

/// A `DSPW` header: version 1, the encoding tag, code bits, the reserved byte, rows, cols.
fn header(encoding: u8, code_bits: u8, reserved: u8, rows: u64, cols: u64) -> Vec<u8> {
    let mut out = b"DSPW".to_vec();
    out.extend_from_slice(&[1, encoding, code_bits, reserved]);
    out.extend_from_slice(&rows.to_le_bytes());
    out.extend_from_slice(&cols.to_le_bytes());
    out
}

#[test]
fn a_nonzero_reserved_byte_is_refused() {
    let good = PackedShiftWeights::from_weights(&[0.5, -1.0], 1, 2, Encoding::Ternary, 4)
        .unwrap()
        .to_bytes();
    assert_eq!(good[7], 0);
    assert!(PackedShiftWeights::from_bytes(&good).is_ok());
    let mut bad = good;
    bad[7] = 1;
    // Accepted, it would write back different bytes than it read.
    let e = PackedShiftWeights::from_bytes(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("reserved header byte is 1"), "{e}");
}

#[test]
fn a_word_count_whose_byte_size_overflows_is_an_error() {
    // rows * 1 word * 8 bytes fits in usize, adding the 24-byte header does not.
    let rows = (usize::MAX / 8) as u64;
    let bytes = header(0, 8, 0, rows, 1);
    let e = PackedShiftWeights::from_bytes(&bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not hold a"), "{e}");
}
