//! The packed shift-weight format read by the inference kernels.
//!
//! Each weight becomes one `b`-bit code (`b` = weight bits, 2..=8). Codes are packed
//! little-endian into `u64` words, `64 / b` codes per word, a code never straddling two words
//! so that a kernel decodes every word on its own. Each row of a `[rows, cols]` matrix starts
//! on a fresh word. Storage per weight (ignoring row padding):
//!
//! | bits | codes per u64 | bits per weight |
//! |------|---------------|-----------------|
//! | 2    | 32            | 2.00            |
//! | 3    | 21            | 3.05            |
//! | 4    | 16            | 4.00            |
//! | 5    | 12            | 5.33            |
//! | 6    | 10            | 6.40            |
//! | 7    | 9             | 7.11            |
//! | 8    | 8             | 8.00            |
//!
//! A code's top bit is the sign (1 = negative); the low `b - 1` bits `m` give the shift:
//! - [`Encoding::Ternary`] (DeepShift-PS): `m = 0` is the weight 0 (with sign bit 0), otherwise
//!   `shift = -(m - 1)`, covering the PS range `[-(2^(b-1) - 2), 0]`.
//! - [`Encoding::Binary`] (DeepShift-Q): `shift = -m`, covering the Q range
//!   `[-(2^(b-1) - 1), 0]`; there is no zero (a Q weight is never zero unless its float weight
//!   was exactly zero; pack such a layer as Ternary with one more bit).
//!
//! [`PackedShiftWeights::to_bytes`] writes a self-describing blob that starts with the magic
//! `DSPW` and [`PACKED_FORMAT_VERSION`], so a stored packed tensor can be recognised later.

use crate::pow2::exp2i;
use crate::range::check_weight_bits;
use crate::CoreError;

/// Version of the packed layout written by [`PackedShiftWeights::to_bytes`].
pub const PACKED_FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"DSPW";
const HEADER_LEN: usize = 4 + 4 + 8 + 8;

/// How the sign and zero are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Sign in {-1, 0, +1}: one code is spent on zero (DeepShift-PS).
    Ternary,
    /// Sign in {-1, +1} and no zero: every code is a shift (DeepShift-Q).
    Binary,
}

/// Codes held by one `u64` word at a code width.
pub const fn codes_per_word(code_bits: u32) -> usize {
    (64 / code_bits) as usize
}

/// Storage cost in bits per weight at a code width, ignoring row padding.
pub fn bits_per_weight(code_bits: u32) -> f64 {
    64.0 / codes_per_word(code_bits) as f64
}

/// A decoded weight: sign in {-1, 0, +1} and a shift `<= 0`. The weight is `sign * 2^shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftCode {
    /// -1, 0 or +1.
    pub sign: i8,
    /// The exponent; meaningless when `sign == 0`.
    pub shift: i32,
}

impl ShiftCode {
    /// The float weight the code stands for.
    pub fn to_f32(self) -> f32 {
        if self.sign == 0 {
            0.0
        } else {
            self.sign as f32 * exp2i(self.shift)
        }
    }
}

/// Encodes one weight that must be exactly zero or `±2^p` with `p` in the encoding's range.
pub fn encode_weight(w: f32, encoding: Encoding, code_bits: u32) -> Result<u8, String> {
    let sign_bit = 1u8 << (code_bits - 1);
    let max_m = (1i32 << (code_bits - 1)) - 1;
    if w == 0.0 {
        return match encoding {
            Encoding::Ternary => Ok(0),
            Encoding::Binary => {
                Err("the binary (Q) encoding has no zero: use Ternary with one more bit".into())
            }
        };
    }
    if !w.is_finite() {
        return Err("not a finite number".into());
    }
    let (mantissa, exp) = frexp_pow2(w.abs()).ok_or("not a power of two")?;
    debug_assert_eq!(mantissa, 0);
    let m = match encoding {
        Encoding::Ternary => -exp + 1,
        Encoding::Binary => -exp,
    };
    let min_m = match encoding {
        Encoding::Ternary => 1,
        Encoding::Binary => 0,
    };
    if exp > 0 || m > max_m || m < min_m {
        return Err(format!("shift {exp} is outside the {code_bits}-bit range"));
    }
    let sign = if w < 0.0 { sign_bit } else { 0 };
    Ok(sign | m as u8)
}

/// `Some((0, e))` when `x = 2^e` exactly (normal or subnormal), `None` otherwise.
fn frexp_pow2(x: f32) -> Option<(u32, i32)> {
    let bits = x.to_bits();
    let exp_field = (bits >> 23) as i32;
    let mantissa = bits & 0x007F_FFFF;
    if exp_field == 0 {
        // Subnormal: exactly one mantissa bit set.
        (mantissa.is_power_of_two()).then(|| (0, mantissa.trailing_zeros() as i32 - 149))
    } else {
        (mantissa == 0).then_some((0, exp_field - 127))
    }
}

/// Decodes one code; `None` for the invalid Ternary code "negative zero".
pub fn decode_code(code: u8, encoding: Encoding, code_bits: u32) -> Option<ShiftCode> {
    let sign_bit = 1u8 << (code_bits - 1);
    let m = (code & (sign_bit - 1)) as i32;
    let sign = if code & sign_bit != 0 { -1 } else { 1 };
    match encoding {
        Encoding::Ternary if m == 0 => (sign == 1).then_some(ShiftCode { sign: 0, shift: 0 }),
        Encoding::Ternary => Some(ShiftCode {
            sign,
            shift: -(m - 1),
        }),
        Encoding::Binary => Some(ShiftCode { sign, shift: -m }),
    }
}

/// A `[rows, cols]` matrix of shift weights in the packed layout (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedShiftWeights {
    encoding: Encoding,
    code_bits: u32,
    rows: usize,
    cols: usize,
    words: Vec<u64>,
}

impl PackedShiftWeights {
    /// Packs row-major weights, each exactly zero or `±2^p` within the code range.
    pub fn from_weights(
        weights: &[f32],
        rows: usize,
        cols: usize,
        encoding: Encoding,
        code_bits: u32,
    ) -> Result<Self, CoreError> {
        check_weight_bits(code_bits)?;
        let expected = rows.checked_mul(cols).ok_or_else(|| {
            CoreError::InvalidPacked(format!("shape [{rows}, {cols}] overflows usize"))
        })?;
        crate::pow2::check_len("weights", weights.len(), expected)?;
        let per_word = codes_per_word(code_bits);
        let words_per_row = cols.div_ceil(per_word);
        let mut words = vec![0u64; rows * words_per_row];
        for (index, &w) in weights.iter().enumerate() {
            let code =
                encode_weight(w, encoding, code_bits).map_err(|reason| CoreError::Unpackable {
                    index,
                    value: w,
                    reason,
                })?;
            let (row, col) = (index / cols, index % cols);
            let word = row * words_per_row + col / per_word;
            words[word] |= (code as u64) << ((col % per_word) as u32 * code_bits);
        }
        Ok(Self {
            encoding,
            code_bits,
            rows,
            cols,
            words,
        })
    }

    /// Coding of signs and zero.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Bits per code (the weight bits).
    pub fn code_bits(&self) -> u32 {
        self.code_bits
    }

    /// Number of rows (output features).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (input features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `u64` words per row, the stride of [`Self::words`].
    pub fn words_per_row(&self) -> usize {
        self.cols.div_ceil(codes_per_word(self.code_bits))
    }

    /// The packed words, row after row.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The raw code at `(row, col)`.
    pub fn code(&self, row: usize, col: usize) -> u8 {
        assert!(row < self.rows && col < self.cols, "index out of bounds");
        let per_word = codes_per_word(self.code_bits);
        let word = self.words[row * self.words_per_row() + col / per_word];
        let mask = (1u64 << self.code_bits) - 1;
        ((word >> ((col % per_word) as u32 * self.code_bits)) & mask) as u8
    }

    /// The decoded weight at `(row, col)`.
    pub fn get(&self, row: usize, col: usize) -> ShiftCode {
        decode_code(self.code(row, col), self.encoding, self.code_bits)
            .expect("packed codes are validated on construction")
    }

    /// All weights back as row-major floats.
    pub fn unpack(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for row in 0..self.rows {
            for col in 0..self.cols {
                out.push(self.get(row, col).to_f32());
            }
        }
        out
    }

    /// The self-describing byte form: magic `DSPW`, version, encoding, code bits, a reserved
    /// byte, rows and cols as little-endian u64, then the words as little-endian u64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 8 * self.words.len());
        out.extend_from_slice(MAGIC);
        out.push(PACKED_FORMAT_VERSION);
        out.push(match self.encoding {
            Encoding::Ternary => 0,
            Encoding::Binary => 1,
        });
        out.push(self.code_bits as u8);
        out.push(0);
        out.extend_from_slice(&(self.rows as u64).to_le_bytes());
        out.extend_from_slice(&(self.cols as u64).to_le_bytes());
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses [`Self::to_bytes`] output, checking magic, version, sizes and every code.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CoreError> {
        let bad = |msg: String| CoreError::InvalidPacked(msg);
        if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
            return Err(bad("missing DSPW header".into()));
        }
        if bytes[4] != PACKED_FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is not supported (this build reads version {PACKED_FORMAT_VERSION})",
                bytes[4]
            )));
        }
        let encoding = match bytes[5] {
            0 => Encoding::Ternary,
            1 => Encoding::Binary,
            e => return Err(bad(format!("unknown encoding tag {e}"))),
        };
        let code_bits = bytes[6] as u32;
        check_weight_bits(code_bits).map_err(|e| bad(e.to_string()))?;
        // to_bytes writes 0: anything else is another layout, not this one to be misread.
        if bytes[7] != 0 {
            return Err(bad(format!("reserved header byte is {}, not 0", bytes[7])));
        }
        let read_u64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let (rows, cols) = (read_u64(8) as usize, read_u64(16) as usize);
        let words_per_row = cols.div_ceil(codes_per_word(code_bits));
        let n_words = rows
            .checked_mul(words_per_row)
            .filter(|n| {
                n.checked_mul(8).and_then(|b| b.checked_add(HEADER_LEN)) == Some(bytes.len())
            })
            .ok_or_else(|| {
                bad(format!(
                    "{} bytes do not hold a [{rows}, {cols}] matrix of {code_bits}-bit codes",
                    bytes.len()
                ))
            })?;
        let words = (0..n_words).map(|i| read_u64(HEADER_LEN + 8 * i)).collect();
        let packed = Self {
            encoding,
            code_bits,
            rows,
            cols,
            words,
        };
        for row in 0..rows {
            for col in 0..cols {
                if decode_code(packed.code(row, col), encoding, code_bits).is_none() {
                    return Err(bad(format!("invalid code at ({row}, {col})")));
                }
            }
        }
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_costs_meet_the_budget() {
        assert_eq!(bits_per_weight(4), 4.0);
        assert!(bits_per_weight(5) <= 5.34);
        assert_eq!(bits_per_weight(2), 2.0);
        assert_eq!(bits_per_weight(8), 8.0);
    }

    #[test]
    fn ternary_two_bits_hold_minus_one_zero_one() {
        let p = PackedShiftWeights::from_weights(&[1.0, 0.0, -1.0], 1, 3, Encoding::Ternary, 2)
            .unwrap();
        assert_eq!(p.unpack(), vec![1.0, 0.0, -1.0]);
        assert!(PackedShiftWeights::from_weights(&[0.5], 1, 1, Encoding::Ternary, 2).is_err());
    }

    #[test]
    fn rejects_weights_it_cannot_hold() {
        let pack = |w: f32, e| PackedShiftWeights::from_weights(&[w], 1, 1, e, 5);
        assert!(pack(0.3, Encoding::Ternary).is_err());
        assert!(pack(2.0, Encoding::Ternary).is_err());
        assert!(pack(exp2i(-15), Encoding::Ternary).is_err());
        assert!(pack(exp2i(-15), Encoding::Binary).is_ok());
        assert!(pack(0.0, Encoding::Binary).is_err());
        assert!(pack(f32::NAN, Encoding::Ternary).is_err());
    }

    #[test]
    fn byte_form_detects_corruption() {
        let p =
            PackedShiftWeights::from_weights(&[0.5, -0.25, 0.0, 1.0], 2, 2, Encoding::Ternary, 3)
                .unwrap();
        let bytes = p.to_bytes();
        assert_eq!(PackedShiftWeights::from_bytes(&bytes).unwrap(), p);
        assert!(PackedShiftWeights::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut wrong_version = bytes.clone();
        wrong_version[4] = 99;
        assert!(PackedShiftWeights::from_bytes(&wrong_version).is_err());
        let mut negative_zero = bytes.clone();
        negative_zero[HEADER_LEN] = 0b100;
        assert!(PackedShiftWeights::from_bytes(&negative_zero).is_err());
    }
}
