//! RAPL energy counters under `<sysfs>/class/powercap` (Intel, and AMD since Linux 5.8, which
//! exposes its counters through the same `intel-rapl` powercap driver).
//!
//! Each zone directory holds `name` (`package-N`, `dram`, `core`, `uncore`, `psys`),
//! `energy_uj` (a counter in microjoules that wraps to zero after `max_energy_range_uj`).
//! Only `package-*` and `dram` zones are read: `core`/`uncore` are parts of a package and
//! `psys` covers the whole platform, so adding them would count energy twice. The
//! `intel-rapl-mmio` zones repeat the package counters through another interface and are skipped
//! for the same reason.

use std::io;
use std::path::{Path, PathBuf};

/// What a RAPL zone measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaplKind {
    /// A CPU package (socket): cores, caches, memory controller.
    Package,
    /// The DRAM attached to a package (Intel servers; rarely present on AMD).
    Dram,
}

/// One readable RAPL zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplDomain {
    /// The zone's `name` file, e.g. `package-0`.
    pub name: String,
    /// The zone's directory.
    pub dir: PathBuf,
    /// Package or DRAM.
    pub kind: RaplKind,
    /// The value at which `energy_uj` wraps to zero.
    pub max_energy_range_uj: u64,
}

/// The result of looking for RAPL zones.
#[derive(Debug, Clone, Default)]
pub struct RaplDiscovery {
    /// Zones that could be read.
    pub domains: Vec<RaplDomain>,
    /// Why no package zone is usable, when none is.
    pub unavailable: Option<String>,
    /// Problems with individual zones (for example a DRAM zone that cannot be read).
    pub warnings: Vec<String>,
}

/// How to let a non-root user read the counters (Linux 5.10+ made `energy_uj` root-only).
pub const PERMISSION_HINT: &str = "grant read access with `sudo chmod a+r \
/sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/intel-rapl:*:*/energy_uj` \
(until reboot; a udev rule or tmpfiles.d entry makes it permanent), or run as root";

/// Finds the package and DRAM zones under `<sysfs_root>/class/powercap`.
pub fn discover(sysfs_root: &Path) -> RaplDiscovery {
    let base = sysfs_root.join("class").join("powercap");
    let mut out = RaplDiscovery::default();
    let entries = match std::fs::read_dir(&base) {
        Ok(e) => e,
        Err(e) => {
            out.unavailable = Some(format!(
                "RAPL unavailable: cannot list {} ({e}); no RAPL driver, or a virtual machine or \
                 container that hides it",
                base.display()
            ));
            return out;
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| is_rapl_zone_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut denied = false;
    for dir in dirs {
        let Ok(name) = std::fs::read_to_string(dir.join("name")) else {
            continue;
        };
        let name = name.trim().to_string();
        let kind = if name.starts_with("package") {
            RaplKind::Package
        } else if name == "dram" {
            RaplKind::Dram
        } else {
            continue;
        };
        let max_path = dir.join("max_energy_range_uj");
        let max = match read_uj(&max_path) {
            Ok(v) if v > 0 => v,
            Ok(_) => {
                out.warnings.push(format!(
                    "RAPL zone {name}: {} is zero, cannot handle wrap-around; zone skipped",
                    max_path.display()
                ));
                continue;
            }
            Err(e) => {
                out.warnings.push(format!(
                    "RAPL zone {name}: {}: {}; zone skipped",
                    max_path.display(),
                    describe_read_error(&e)
                ));
                denied |= e.kind() == io::ErrorKind::PermissionDenied;
                continue;
            }
        };
        let energy_path = dir.join("energy_uj");
        if let Err(e) = read_uj(&energy_path) {
            denied |= e.kind() == io::ErrorKind::PermissionDenied;
            out.warnings.push(format!(
                "RAPL zone {name}: {}: {}",
                energy_path.display(),
                describe_read_error(&e)
            ));
            continue;
        }
        out.domains.push(RaplDomain {
            name,
            dir,
            kind,
            max_energy_range_uj: max,
        });
    }
    if !out.domains.iter().any(|d| d.kind == RaplKind::Package) {
        out.unavailable = Some(if denied {
            format!(
                "RAPL counters exist but are not readable (permission denied); {PERMISSION_HINT}"
            )
        } else if out.warnings.is_empty() {
            format!(
                "RAPL unavailable: no readable package zone under {}",
                base.display()
            )
        } else {
            format!("RAPL unavailable: {}", out.warnings.join("; "))
        });
    }
    out
}

/// `intel-rapl:0`, `intel-rapl:0:1`, `amd-rapl:0` style names, but not the `intel-rapl` control
/// type directory nor the `intel-rapl-mmio:*` duplicates.
fn is_rapl_zone_name(name: &str) -> bool {
    let Some((prefix, rest)) = name.split_once(':') else {
        return false;
    };
    prefix.contains("rapl")
        && !prefix.contains("mmio")
        && rest
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a sysfs integer file.
pub(crate) fn read_uj(path: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse::<u64>().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{:?}: {e}", text.trim()),
        )
    })
}

/// Turns a read error into the sentence a user needs: permission problems say how to fix them.
pub fn describe_read_error(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::PermissionDenied {
        format!("permission denied; {PERMISSION_HINT}")
    } else {
        e.to_string()
    }
}

/// Accumulates a wrapping counter into a monotonic total.
///
/// A single reading cannot tell how many times a counter wrapped since the previous one, so the
/// counter must be read at least once per wrap period; the meter's poller does that (a typical
/// range is 262,143 J, which a package drawing 200 W goes through in about 22 minutes).
#[derive(Debug, Clone)]
pub(crate) struct WrappingCounter {
    last_raw: u64,
    max_range: u64,
    total: u64,
}

impl WrappingCounter {
    pub(crate) fn new(first_raw: u64, max_range: u64) -> Self {
        WrappingCounter {
            last_raw: first_raw,
            max_range,
            total: 0,
        }
    }

    /// Feeds a new raw reading; returns the increase since the previous one.
    pub(crate) fn update(&mut self, raw: u64) -> u64 {
        let delta = if raw >= self.last_raw {
            raw - self.last_raw
        } else {
            // The counter went through max_range back to zero.
            self.max_range.saturating_sub(self.last_raw) + raw
        };
        self.last_raw = raw;
        self.total += delta;
        delta
    }

    /// The total increase since creation.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

/// Reads a set of RAPL zones and keeps monotonic totals per zone.
#[derive(Debug)]
pub(crate) struct RaplReader {
    domains: Vec<RaplDomain>,
    counters: Vec<WrappingCounter>,
    /// Read failures after discovery (counted, reported once per message).
    pub(crate) warnings: Vec<String>,
}

impl RaplReader {
    /// Takes the first reading of every zone (zones that fail now are dropped).
    pub(crate) fn new(domains: Vec<RaplDomain>) -> Self {
        let mut kept = Vec::new();
        let mut counters = Vec::new();
        let mut warnings = Vec::new();
        for d in domains {
            match read_uj(&d.dir.join("energy_uj")) {
                Ok(raw) => {
                    counters.push(WrappingCounter::new(raw, d.max_energy_range_uj));
                    kept.push(d);
                }
                Err(e) => {
                    warnings.push(format!("RAPL zone {}: {}", d.name, describe_read_error(&e)))
                }
            }
        }
        RaplReader {
            domains: kept,
            counters,
            warnings,
        }
    }

    pub(crate) fn has(&self, kind: RaplKind) -> bool {
        self.domains.iter().any(|d| d.kind == kind)
    }

    /// Reads every zone once; a zone that fails keeps its last total and adds a warning.
    pub(crate) fn poll(&mut self) {
        for (d, c) in self.domains.iter().zip(self.counters.iter_mut()) {
            match read_uj(&d.dir.join("energy_uj")) {
                Ok(raw) => {
                    c.update(raw);
                }
                Err(e) => {
                    let msg = format!("RAPL zone {}: {}", d.name, describe_read_error(&e));
                    if !self.warnings.contains(&msg) {
                        self.warnings.push(msg);
                    }
                }
            }
        }
    }

    /// Monotonic total, in joules, of all zones of one kind.
    pub(crate) fn total_j(&self, kind: RaplKind) -> f64 {
        self.domains
            .iter()
            .zip(&self.counters)
            .filter(|(d, _)| d.kind == kind)
            .map(|(_, c)| c.total() as f64 * 1e-6)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names() {
        assert!(is_rapl_zone_name("intel-rapl:0"));
        assert!(is_rapl_zone_name("intel-rapl:1:0"));
        assert!(!is_rapl_zone_name("intel-rapl"));
        assert!(!is_rapl_zone_name("intel-rapl-mmio:0"));
        assert!(!is_rapl_zone_name("intel-rapl:x"));
        assert!(!is_rapl_zone_name("dtpm:0"));
    }

    #[test]
    fn wrap_around_adds_the_distance_to_the_range_end() {
        let mut c = WrappingCounter::new(900, 1000);
        assert_eq!(c.update(950), 50);
        assert_eq!(c.update(20), 50 + 20);
        assert_eq!(c.update(20), 0);
        assert_eq!(c.total(), 120);
    }

    #[test]
    fn permission_errors_say_how_to_grant_access() {
        let e = io::Error::from(io::ErrorKind::PermissionDenied);
        let text = describe_read_error(&e);
        assert!(text.contains("chmod"), "{text}");
        let other = describe_read_error(&io::Error::from(io::ErrorKind::NotFound));
        assert!(!other.contains("chmod"));
    }
}
