//! The estimate used where no power counter exists: CPU time times a per-thread power derived
//! from the CPU's TDP, and RAM power proportional to memory size. The model and its assumptions
//! are described in the crate documentation.

use std::path::Path;

use crate::error::{EnergyError, Result};

/// Watts per GiB of memory: 3 W per 8 GB DDR3/DDR4 module, the figure CodeCarbon used before
/// version 3 (from Crucial's "How much power does memory use?").
pub const RAM_WATTS_PER_GIB: f64 = 3.0 / 8.0;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One CPU model of the TDP table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSpec {
    /// Family, used when only the family can be recognised (`"AMD EPYC"` on many VMs).
    pub family: &'static str,
    /// Model as it appears in `/proc/cpuinfo`'s `model name`, without vendor marks.
    pub model: &'static str,
    /// Thermal design power (Intel: processor base power), watts.
    pub tdp_w: f64,
    /// Hardware threads per package.
    pub threads: u32,
}

impl CpuSpec {
    /// The power attributed to one busy hardware thread.
    pub fn watts_per_thread(&self) -> f64 {
        self.tdp_w / f64::from(self.threads)
    }
}

const fn spec(family: &'static str, model: &'static str, tdp_w: f64, threads: u32) -> CpuSpec {
    CpuSpec {
        family,
        model,
        tdp_w,
        threads,
    }
}

/// TDP and thread counts of common server and desktop CPUs, from the manufacturers'
/// specification pages (AMD product pages, Intel ARK), cross-checked against the TDP column of
/// CodeCarbon 3.3.2's `cpu_power.csv`. Intel desktop parts list the processor base power
/// (125 W), not the turbo limit.
pub const CPU_TDP_TABLE: &[CpuSpec] = &[
    spec("AMD EPYC", "EPYC 7302", 155.0, 32),
    spec("AMD EPYC", "EPYC 7402", 180.0, 48),
    spec("AMD EPYC", "EPYC 7502", 180.0, 64),
    spec("AMD EPYC", "EPYC 7702", 200.0, 128),
    spec("AMD EPYC", "EPYC 7742", 225.0, 128),
    spec("AMD EPYC", "EPYC 7313", 155.0, 32),
    spec("AMD EPYC", "EPYC 7443", 200.0, 48),
    spec("AMD EPYC", "EPYC 7543", 225.0, 64),
    spec("AMD EPYC", "EPYC 7713", 225.0, 128),
    spec("AMD EPYC", "EPYC 7763", 280.0, 128),
    spec("AMD EPYC", "EPYC 9124", 200.0, 32),
    spec("AMD EPYC", "EPYC 9354", 280.0, 64),
    spec("AMD EPYC", "EPYC 9454", 290.0, 96),
    spec("AMD EPYC", "EPYC 9554", 360.0, 128),
    spec("AMD EPYC", "EPYC 9654", 360.0, 192),
    spec("AMD EPYC", "EPYC 9754", 360.0, 256),
    spec("Intel Xeon", "Xeon E5-2680 v4", 120.0, 28),
    spec("Intel Xeon", "Xeon E5-2690 v4", 135.0, 28),
    spec("Intel Xeon", "Xeon E5-2698 v4", 135.0, 40),
    spec("Intel Xeon", "Xeon Silver 4210", 85.0, 20),
    spec("Intel Xeon", "Xeon Silver 4214", 85.0, 24),
    spec("Intel Xeon", "Xeon Gold 6130", 125.0, 32),
    spec("Intel Xeon", "Xeon Gold 6148", 150.0, 40),
    spec("Intel Xeon", "Xeon Gold 6248", 150.0, 40),
    spec("Intel Xeon", "Xeon Platinum 8175M", 240.0, 48),
    spec("Intel Xeon", "Xeon Platinum 8259CL", 210.0, 48),
    spec("Intel Xeon", "Xeon Platinum 8280", 205.0, 56),
    spec("Intel Xeon", "Xeon Gold 6338", 205.0, 64),
    spec("Intel Xeon", "Xeon Gold 6348", 235.0, 56),
    spec("Intel Xeon", "Xeon Platinum 8358", 250.0, 64),
    spec("Intel Xeon", "Xeon Platinum 8375C", 300.0, 64),
    spec("Intel Xeon", "Xeon Platinum 8380", 270.0, 80),
    spec("Intel Xeon", "Xeon Gold 6430", 270.0, 64),
    spec("Intel Xeon", "Xeon Platinum 8468", 350.0, 96),
    spec("Intel Xeon", "Xeon Platinum 8480+", 350.0, 112),
    spec("AMD Ryzen", "Ryzen 5 5600X", 65.0, 12),
    spec("AMD Ryzen", "Ryzen 7 5800X", 105.0, 16),
    spec("AMD Ryzen", "Ryzen 9 5900X", 105.0, 24),
    spec("AMD Ryzen", "Ryzen 9 5950X", 105.0, 32),
    spec("AMD Ryzen", "Ryzen 7 7700X", 105.0, 16),
    spec("AMD Ryzen", "Ryzen 9 7950X", 170.0, 32),
    spec("AMD Ryzen", "Ryzen Threadripper 3990X", 280.0, 128),
    spec("Intel Core", "Core i7-8700K", 95.0, 12),
    spec("Intel Core", "Core i9-9900K", 95.0, 16),
    spec("Intel Core", "Core i5-1135G7", 28.0, 8),
    spec("Intel Core", "Core i7-1165G7", 28.0, 8),
    spec("Intel Core", "Core i7-12700K", 125.0, 20),
    spec("Intel Core", "Core i9-12900K", 125.0, 24),
    spec("Intel Core", "Core i9-13900K", 125.0, 32),
];

/// What `/proc/cpuinfo` says about the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    /// The first `model name` (or `Model`/`cpu model` on other architectures).
    pub model: String,
    /// Number of `processor` entries (logical CPUs visible to this OS).
    pub logical_cpus: usize,
    /// Number of distinct `physical id`s (1 when absent).
    pub packages: usize,
}

impl CpuInfo {
    /// Logical CPUs per package, as this OS sees them.
    pub fn threads_per_package(&self) -> usize {
        (self.logical_cpus / self.packages.max(1)).max(1)
    }
}

/// Parses the text of `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model = None;
    let mut logical = 0;
    let mut ids = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => logical += 1,
            "model name" | "Model" | "cpu model" | "Processor"
                if model.is_none() && !value.is_empty() =>
            {
                model = Some(value.to_string());
            }
            "physical id" if !ids.iter().any(|i| i == value) => ids.push(value.to_string()),
            _ => {}
        }
    }
    CpuInfo {
        model: model.unwrap_or_else(|| "unknown".to_string()),
        logical_cpus: logical.max(1),
        packages: ids.len().max(1),
    }
}

/// Reads and parses `<procfs>/cpuinfo`.
pub fn read_cpuinfo(procfs_root: &Path) -> Result<CpuInfo> {
    let path = procfs_root.join("cpuinfo");
    let text = std::fs::read_to_string(&path).map_err(|e| EnergyError::io(&path, e))?;
    Ok(parse_cpuinfo(&text))
}

/// Total memory in bytes from the text of `/proc/meminfo` (`MemTotal: N kB`).
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    parse_kb_field(text, "MemTotal")
}

/// Reads `<procfs>/meminfo` and returns the total memory in bytes.
pub fn read_mem_total(procfs_root: &Path) -> Result<u64> {
    let path = procfs_root.join("meminfo");
    let text = std::fs::read_to_string(&path).map_err(|e| EnergyError::io(&path, e))?;
    parse_meminfo_total(&text).ok_or_else(|| EnergyError::parse(&path, "no `MemTotal: N kB` line"))
}

/// A `Key:   N kB` field of `/proc/meminfo` or `/proc/PID/status`, in bytes.
pub(crate) fn parse_kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let mut it = rest.split_whitespace();
        let n: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") | None => Some(n * 1024),
            _ => None,
        }
    })
}

/// Resident memory of the process, in bytes, from `<procfs>/self/status` (`VmRSS`).
pub(crate) fn read_self_rss(procfs_root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(procfs_root.join("self").join("status")).ok()?;
    parse_kb_field(&text, "VmRSS")
}

/// Busy CPU seconds of the whole machine since boot, from the `cpu` line of `<procfs>/stat`:
/// user + nice + system + irq + softirq (guest time is already in user; steal is time the
/// hypervisor gave to someone else, idle and iowait are not busy).
pub(crate) fn read_machine_busy_s(procfs_root: &Path) -> Result<f64> {
    let path = procfs_root.join("stat");
    let text = std::fs::read_to_string(&path).map_err(|e| EnergyError::io(&path, e))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| EnergyError::parse(&path, "no aggregate `cpu` line"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| EnergyError::parse(&path, format!("bad `cpu` line: {e}")))?;
    if f.len() < 7 {
        return Err(EnergyError::parse(
            &path,
            "`cpu` line has fewer than 7 fields",
        ));
    }
    let busy_ticks = f[0] + f[1] + f[2] + f[5] + f[6];
    Ok(busy_ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU time (user + system, all threads) consumed by this process so far, in seconds.
pub fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        // getrusage cannot fail with RUSAGE_SELF and a valid pointer.
        rusage_seconds(libc::RUSAGE_SELF).0
    }
}

/// (user + system seconds, max RSS bytes) of getrusage(who).
pub(crate) fn rusage_seconds(who: libc::c_int) -> (f64, u64) {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is valid and writable.
    unsafe { libc::getrusage(who, &mut ru) };
    rusage_to_parts(&ru)
}

pub(crate) fn rusage_to_parts(ru: &libc::rusage) -> (f64, u64) {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let max_rss = u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024;
    (tv(ru.ru_utime) + tv(ru.ru_stime), max_rss)
}

/// How the CPU's per-thread power was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuPowerModel {
    /// Watts charged per second of CPU time.
    pub watts_per_thread: f64,
    /// The package TDP behind it (when known).
    pub tdp_w: Option<f64>,
    /// One sentence: where the number comes from.
    pub basis: String,
}

fn normalize(s: &str) -> String {
    let cleaned = s
        .replace("(R)", " ")
        .replace("(TM)", " ")
        .replace("(tm)", " ");
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The table entry whose model name occurs in `model_name`, preferring the longest match;
/// the match must end at a word boundary so that `i9-13900K` does not match `i9-13900KS`.
pub fn lookup_cpu(model_name: &str) -> Option<&'static CpuSpec> {
    let name = normalize(model_name);
    CPU_TDP_TABLE
        .iter()
        .filter(|s| {
            let key = normalize(s.model);
            name.match_indices(&key).any(|(i, _)| {
                let end = i + key.len();
                name[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
            })
        })
        .max_by_key(|s| s.model.len())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The per-thread power for this CPU: `--cpu-tdp` over the threads per package when given,
/// else the table entry for the model, else the median of the model's family in the table,
/// else the median of the whole table.
pub fn cpu_power_model(cpu: &CpuInfo, tdp_override: Option<f64>) -> CpuPowerModel {
    if let Some(tdp) = tdp_override {
        let threads = cpu.threads_per_package();
        return CpuPowerModel {
            watts_per_thread: tdp / threads as f64,
            tdp_w: Some(tdp),
            basis: format!("--cpu-tdp {tdp} W over {threads} threads per package"),
        };
    }
    if let Some(s) = lookup_cpu(&cpu.model) {
        return CpuPowerModel {
            watts_per_thread: s.watts_per_thread(),
            tdp_w: Some(s.tdp_w),
            basis: format!(
                "{} in the TDP table: {} W over {} threads",
                s.model, s.tdp_w, s.threads
            ),
        };
    }
    let name = normalize(&cpu.model);
    let family = CPU_TDP_TABLE.iter().map(|s| s.family).find(|f| {
        let word = f
            .split_whitespace()
            .last()
            .unwrap_or(f)
            .to_ascii_uppercase();
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|t| t == word)
    });
    let (pool, what): (Vec<f64>, String) = match family {
        Some(f) => (
            CPU_TDP_TABLE
                .iter()
                .filter(|s| s.family == f)
                .map(CpuSpec::watts_per_thread)
                .collect(),
            format!("median of the {f} entries"),
        ),
        None => (
            CPU_TDP_TABLE
                .iter()
                .map(CpuSpec::watts_per_thread)
                .collect(),
            "median of the whole table".to_string(),
        ),
    };
    let w = median(pool);
    CpuPowerModel {
        watts_per_thread: w,
        tdp_w: None,
        basis: format!(
            "CPU model {:?} not in the TDP table; {what}: {w:.2} W per thread (pass --cpu-tdp W \
             to set the package TDP)",
            cpu.model
        ),
    }
}

/// Memory in GiB for a byte count.
pub(crate) fn gib(bytes: u64) -> f64 {
    bytes as f64 / GIB
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookup_prefers_exact_model_and_respects_word_ends() {
        let s = lookup_cpu("AMD EPYC 7763 64-Core Processor").unwrap();
        assert_eq!(s.tdp_w, 280.0);
        let s = lookup_cpu("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz").unwrap();
        assert_eq!((s.tdp_w, s.threads), (270.0, 80));
        assert!(lookup_cpu("13th Gen Intel(R) Core(TM) i9-13900KS").is_none());
        assert_eq!(
            lookup_cpu("13th Gen Intel(R) Core(TM) i9-13900K")
                .unwrap()
                .threads,
            32
        );
        assert!(lookup_cpu("AMD EPYC").is_none());
    }

    #[test]
    fn cpuinfo_and_meminfo_parse() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 1\n";
        let c = parse_cpuinfo(text);
        assert_eq!(c.model, "AMD EPYC 7763 64-Core Processor");
        assert_eq!(
            (c.logical_cpus, c.packages, c.threads_per_package()),
            (2, 2, 1)
        );
        assert_eq!(
            parse_meminfo_total("MemTotal:       24684096 kB\nMemFree: 1 kB\n"),
            Some(24684096 * 1024)
        );
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn power_model_rungs() {
        let known = CpuInfo {
            model: "AMD EPYC 7763 64-Core Processor".into(),
            logical_cpus: 256,
            packages: 2,
        };
        let m = cpu_power_model(&known, None);
        assert!((m.watts_per_thread - 280.0 / 128.0).abs() < 1e-12);
        let over = cpu_power_model(&known, Some(256.0));
        assert!((over.watts_per_thread - 2.0).abs() < 1e-12);
        let family = CpuInfo {
            model: "AMD EPYC".into(),
            logical_cpus: 2,
            packages: 1,
        };
        let m = cpu_power_model(&family, None);
        let epyc: Vec<f64> = CPU_TDP_TABLE
            .iter()
            .filter(|s| s.family == "AMD EPYC")
            .map(|s| s.watts_per_thread())
            .collect();
        assert!((m.watts_per_thread - median(epyc)).abs() < 1e-12);
        assert!(m.basis.contains("AMD EPYC entries"), "{}", m.basis);
        let unknown = CpuInfo {
            model: "Mystery 9000".into(),
            logical_cpus: 4,
            packages: 1,
        };
        let m = cpu_power_model(&unknown, None);
        assert!(m.basis.contains("whole table"));
        assert!(m.watts_per_thread > 1.0 && m.watts_per_thread < 6.0);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
