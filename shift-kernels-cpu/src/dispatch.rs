//! Run-time choice of the instruction set: scalar, AVX2, AVX-512 or NEON.
//!
//! [`Level::detect`] picks the best level the CPU supports, capped by the environment variable
//! `SHIFT_KERNELS_MAX_LEVEL` (`scalar`, `avx2`, `avx512`, `neon`). Every entry point of the
//! crate also takes an explicit [`Level`], so tests run each available level in one process.

use std::fmt;
use std::str::FromStr;

/// The environment variable that caps the level [`Level::detect`] returns.
pub const MAX_LEVEL_ENV: &str = "SHIFT_KERNELS_MAX_LEVEL";

/// An instruction-set level of the micro-kernels, from the portable one up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Portable Rust (the compiler may auto-vectorise it for the baseline target).
    Scalar,
    /// x86-64 AVX2 (256-bit integer lanes).
    Avx2,
    /// x86-64 AVX-512F (512-bit integer lanes).
    Avx512,
    /// AArch64 Advanced SIMD (128-bit lanes).
    Neon,
}

impl Level {
    /// Every level, portable first.
    pub const ALL: [Level; 4] = [Level::Scalar, Level::Avx2, Level::Avx512, Level::Neon];

    /// The level's name as [`MAX_LEVEL_ENV`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
            Level::Neon => "neon",
        }
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The levels this CPU supports, portable first (what the tests iterate over).
    pub fn available() -> Vec<Level> {
        Level::ALL
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    /// The best supported level, capped by `SHIFT_KERNELS_MAX_LEVEL` when it is set (an
    /// unknown value is ignored with a warning on standard error).
    pub fn detect() -> Level {
        let cap = match std::env::var(MAX_LEVEL_ENV) {
            Ok(v) => match v.parse::<Level>() {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("warning: {MAX_LEVEL_ENV}: {e}");
                    None
                }
            },
            Err(_) => None,
        };
        Self::best_up_to(cap)
    }

    /// The best supported level not above `cap` (scalar when nothing else qualifies).
    pub fn best_up_to(cap: Option<Level>) -> Level {
        Level::available()
            .into_iter()
            .filter(|l| cap.is_none_or(|c| *l <= c))
            .max()
            .unwrap_or(Level::Scalar)
    }

    /// Columns of one panel of packed activations at this level: the width of the
    /// micro-kernel's tile (two vector registers of `i32`).
    pub fn panel_width(self) -> usize {
        1 << self.panel_shift()
    }

    /// `log2` of [`Self::panel_width`] (panel addresses are computed with shifts).
    pub fn panel_shift(self) -> u32 {
        match self {
            Level::Scalar | Level::Neon => 3,
            Level::Avx2 => 4,
            Level::Avx512 => 5,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "avx2" => Ok(Level::Avx2),
            "avx512" | "avx-512" => Ok(Level::Avx512),
            "neon" => Ok(Level::Neon),
            other => Err(format!(
                "unknown kernel level `{other}`: use scalar, avx2, avx512 or neon"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_names() {
        assert_eq!(Level::best_up_to(Some(Level::Scalar)), Level::Scalar);
        assert!(Level::available().contains(&Level::Scalar));
        for l in Level::ALL {
            assert_eq!(l.name().parse::<Level>().unwrap(), l);
        }
        assert!("sse".parse::<Level>().is_err());
        let best = Level::best_up_to(None);
        assert!(best.is_supported());
    }
}
