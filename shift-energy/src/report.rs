//! What a measured region reports.

use std::fmt;

use crate::carbon::CarbonIntensity;

/// Where a component's energy came from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// RAPL hardware counters (CPU package, DRAM).
    Rapl,
    /// NVML: a GPU's energy counter or its sampled power.
    Nvml,
    /// The model of [`crate::estimate`]: CPU time times per-thread power, memory size times
    /// power per GiB.
    Estimate,
    /// Not measured: no such device could be found (no GPU through NVML).
    None,
}

impl Source {
    /// `rapl`, `nvml`, `estimate` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rapl => "rapl",
            Source::Nvml => "nvml",
            Source::Estimate => "estimate",
            Source::None => "none",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose consumption the estimate attributes to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrackingMode {
    /// This process (and any child measured with [`crate::measure_command`]): its CPU time and
    /// its resident memory.
    #[default]
    Process,
    /// The whole machine: busy time of all CPUs from `/proc/stat`, all installed memory.
    Machine,
}

impl TrackingMode {
    /// `process` or `machine`, as CodeCarbon writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackingMode::Process => "process",
            TrackingMode::Machine => "machine",
        }
    }
}

/// The energy of one component (CPU, GPU or RAM) over a region.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentEnergy {
    /// Joules.
    pub energy_j: f64,
    /// Mean power over the region, watts.
    pub mean_power_w: f64,
    /// Where the number came from.
    pub source: Source,
    /// Why a better source was unavailable, and how the estimate was made (None for
    /// hardware counters).
    pub reason: Option<String>,
}

/// Everything measured for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionReport {
    /// The region's name (`training`, `evaluation`, ...).
    pub region: String,
    /// The meter's project name.
    pub project_name: String,
    /// The meter's run id.
    pub run_id: String,
    /// When the region stopped, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub timestamp: String,
    /// Wall-clock duration, seconds.
    pub duration_s: f64,
    /// CPU time of the measured process (and measured children) in the region, seconds; in
    /// machine mode, busy CPU time of the whole machine.
    pub cpu_time_s: f64,
    /// CPU package(s).
    pub cpu: ComponentEnergy,
    /// GPU(s).
    pub gpu: ComponentEnergy,
    /// Memory.
    pub ram: ComponentEnergy,
    /// The carbon intensity used.
    pub carbon: CarbonIntensity,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// GPU names, empty when none.
    pub gpu_model: String,
    /// Attribution of the estimate.
    pub tracking_mode: TrackingMode,
    /// Warnings met while measuring (unreadable counters and how to fix them, ...).
    pub notes: Vec<String>,
}

/// Joules per kilowatt-hour.
pub const J_PER_KWH: f64 = 3.6e6;

impl RegionReport {
    /// CPU + GPU + RAM energy, joules.
    pub fn energy_j(&self) -> f64 {
        self.cpu.energy_j + self.gpu.energy_j + self.ram.energy_j
    }

    /// CPU + GPU + RAM energy, kWh.
    pub fn energy_kwh(&self) -> f64 {
        self.energy_j() / J_PER_KWH
    }

    /// kg CO2eq.
    pub fn emissions_kg(&self) -> f64 {
        self.carbon.emissions_kg(self.energy_kwh())
    }

    /// kg CO2eq per second of the region (0 for an empty region).
    pub fn emissions_rate_kg_per_s(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.emissions_kg() / self.duration_s
        } else {
            0.0
        }
    }

    /// The distinct sources of the measured components, CPU then GPU then RAM, joined by `+`
    /// (`estimate` on a machine without counters, `rapl+nvml` on a server with both).
    pub fn source_summary(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for s in [self.cpu.source, self.gpu.source, self.ram.source] {
            if s != Source::None && !seen.contains(&s.as_str()) {
                seen.push(s.as_str());
            }
        }
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join("+")
        }
    }
}

impl fmt::Display for RegionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {:.3} s, {:.6} kWh, {:.3e} kg CO2eq ({} g/kWh, {})",
            self.region,
            self.duration_s,
            self.energy_kwh(),
            self.emissions_kg(),
            self.carbon.g_per_kwh,
            self.carbon.source
        )?;
        for (label, c) in [("cpu", &self.cpu), ("gpu", &self.gpu), ("ram", &self.ram)] {
            write!(
                f,
                "  {label}: {:.3} J, {:.3} W mean, source {}",
                c.energy_j, c.mean_power_w, c.source
            )?;
            match &c.reason {
                Some(r) => writeln!(f, " ({r})")?,
                None => writeln!(f)?,
            }
        }
        for n in &self.notes {
            writeln!(f, "  warning: {n}")?;
        }
        Ok(())
    }
}
