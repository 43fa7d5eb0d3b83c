use crate::CoreError;

/// The two DeepShift training schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftType {
    /// DeepShift-Q: float weights rounded to powers of two in the forward pass.
    Q,
    /// DeepShift-PS: the parameters are the shift and the ternary sign.
    PS,
}

impl std::str::FromStr for ShiftType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Q" | "q" => Ok(Self::Q),
            "PS" | "ps" => Ok(Self::PS),
            other => Err(format!("unknown shift type `{other}`: use Q or PS")),
        }
    }
}

/// How a real-valued exponent (or any value) becomes an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rounding {
    /// Round half to even, as `torch.round`.
    #[default]
    Deterministic,
    /// `floor(x) + Bernoulli(x - floor(x))`: unbiased in expectation.
    Stochastic,
}

impl std::str::FromStr for Rounding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deterministic" => Ok(Self::Deterministic),
            "stochastic" => Ok(Self::Stochastic),
            other => Err(format!(
                "unknown rounding `{other}`: use deterministic or stochastic"
            )),
        }
    }
}

/// Smallest weight bit width: below it Q would have a single shift and PS no shift at all.
pub const MIN_WEIGHT_BITS: u32 = 2;
/// Largest weight bit width: Q at 9 bits would need 2^-255, which underflows f32.
pub const MAX_WEIGHT_BITS: u32 = 8;

/// The inclusive range `[min, max]` of integer shifts; `max` is always 0 (|w| <= 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShiftRange {
    /// Most negative shift.
    pub min: i32,
    /// Largest shift (0).
    pub max: i32,
}

impl ShiftRange {
    /// Clamps a real-valued shift into the range.
    pub fn clamp(self, shift: f32) -> f32 {
        shift.clamp(self.min as f32, self.max as f32)
    }

    /// Number of distinct shifts in the range.
    pub fn len(self) -> u32 {
        (self.max - self.min + 1) as u32
    }

    /// Whether the range is empty (never for ranges built by [`shift_range`]).
    pub fn is_empty(self) -> bool {
        self.max < self.min
    }
}

/// Checks a weight bit width against the supported range.
pub fn check_weight_bits(weight_bits: u32) -> Result<(), CoreError> {
    if (MIN_WEIGHT_BITS..=MAX_WEIGHT_BITS).contains(&weight_bits) {
        Ok(())
    } else {
        Err(CoreError::WeightBits {
            bits: weight_bits,
            min: MIN_WEIGHT_BITS,
            max: MAX_WEIGHT_BITS,
        })
    }
}

/// The shift range of a scheme at a weight bit width.
///
/// Q spends one bit on the (binary) sign, leaving `2^(wb-1)` shifts: `[-(2^(wb-1) - 1), 0]`.
/// PS has a ternary sign, so one code is spent on zero: `[-(2^(wb-1) - 2), 0]`.
pub fn shift_range(shift_type: ShiftType, weight_bits: u32) -> Result<ShiftRange, CoreError> {
    check_weight_bits(weight_bits)?;
    let levels = 1i32 << (weight_bits - 1);
    let min = match shift_type {
        ShiftType::Q => -(levels - 1),
        ShiftType::PS => -(levels - 2),
    };
    Ok(ShiftRange { min, max: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_the_reference() {
        assert_eq!(
            shift_range(ShiftType::Q, 5).unwrap(),
            ShiftRange { min: -15, max: 0 }
        );
        assert_eq!(
            shift_range(ShiftType::PS, 5).unwrap(),
            ShiftRange { min: -14, max: 0 }
        );
        assert_eq!(
            shift_range(ShiftType::PS, 2).unwrap(),
            ShiftRange { min: 0, max: 0 }
        );
        assert_eq!(
            shift_range(ShiftType::Q, 2).unwrap(),
            ShiftRange { min: -1, max: 0 }
        );
        assert_eq!(shift_range(ShiftType::Q, 8).unwrap().min, -127);
    }

    #[test]
    fn impossible_widths_are_errors() {
        for bits in [0, 1, 9, 32] {
            assert!(matches!(
                shift_range(ShiftType::Q, bits),
                Err(CoreError::WeightBits { .. })
            ));
        }
    }
}
