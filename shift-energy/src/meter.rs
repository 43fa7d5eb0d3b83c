//! The meter: named regions, nested or sequential, each reading the counters at start and stop.
//!
//! Every source is turned into a monotonic total (joules, CPU seconds, GiB-seconds of memory)
//! that a region subtracts between its start and its stop, so regions can nest freely. A poller
//! thread reads the sources every `poll_interval` so that RAPL wrap-arounds are not missed in
//! long regions, GPU power samples are integrated, and resident memory is followed over time.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::carbon::CarbonIntensity;
use crate::clock::utc_timestamp;
use crate::error::{EnergyError, Result};
use crate::estimate::{self, CpuPowerModel, RAM_WATTS_PER_GIB};
use crate::nvml::{GpuMeter, GpuReading};
use crate::rapl::{self, RaplKind, RaplReader};
use crate::report::{ComponentEnergy, RegionReport, Source, TrackingMode};

/// Whether and how to look for NVIDIA GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NvmlMode {
    /// Load `libnvidia-ml.so.1` (or `libnvidia-ml.so`) if present.
    #[default]
    Auto,
    /// Do not look for GPUs.
    Disabled,
    /// Load NVML from this path.
    Library(PathBuf),
}

/// How to build an [`EnergyMeter`].
#[derive(Debug, Clone, PartialEq)]
pub struct MeterConfig {
    /// Root of sysfs (`/sys`); tests point it at a fake tree.
    pub sysfs_root: PathBuf,
    /// Root of procfs (`/proc`): `cpuinfo`, `meminfo`, `stat`, `self/status`.
    pub procfs_root: PathBuf,
    /// GPU discovery.
    pub nvml: NvmlMode,
    /// `--cpu-tdp W`: package TDP to use instead of the table.
    pub cpu_tdp_override: Option<f64>,
    /// `--country`: ISO 3166-1 alpha-2 or alpha-3 code.
    pub country: Option<String>,
    /// `--carbon-intensity G_PER_KWH`: overrides the country's value.
    pub carbon_intensity: Option<f64>,
    /// `project_name` column.
    pub project_name: String,
    /// `run_id` column; empty means "make one from the time and the process id".
    pub run_id: String,
    /// Attribution of the estimate.
    pub tracking_mode: TrackingMode,
    /// How often the poller reads the sources; `None` means no poller (sources are read only at
    /// region starts and stops and on [`EnergyMeter::poll`]), which is fine for regions much
    /// shorter than a RAPL wrap period (~20 minutes) and for deterministic tests.
    pub poll_interval: Option<Duration>,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            sysfs_root: PathBuf::from("/sys"),
            procfs_root: PathBuf::from("/proc"),
            nvml: NvmlMode::Auto,
            cpu_tdp_override: None,
            country: None,
            carbon_intensity: None,
            project_name: "deepshift".to_string(),
            run_id: String::new(),
            tracking_mode: TrackingMode::Process,
            poll_interval: Some(Duration::from_secs(1)),
        }
    }
}

/// Resource usage of a child process, added to a region by [`EnergyMeter::stop_with_child`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChildUsage {
    /// User + system CPU seconds of the child (and its waited-for descendants).
    pub cpu_s: f64,
    /// Peak resident memory of the child, bytes.
    pub max_rss_bytes: u64,
}

/// Monotonic totals at one instant.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    t: Instant,
    rapl_package_j: f64,
    rapl_dram_j: f64,
    gpu_j: f64,
    cpu_s: f64,
    ram_gib_s: f64,
}

#[derive(Debug)]
enum RamSize {
    /// Follow this process's resident set.
    ProcessRss,
    /// A fixed size: all installed memory.
    Fixed(u64),
}

#[derive(Debug)]
struct Probes {
    procfs_root: PathBuf,
    mode: TrackingMode,
    rapl: Option<RaplReader>,
    gpu: Option<GpuMeter>,
    ram_size: Option<RamSize>,
    last_ram_bytes: u64,
    last_t: Instant,
    cpu_s: f64,
    ram_gib_s: f64,
    warnings: Vec<String>,
}

impl Probes {
    fn read_cpu_s(&mut self) -> f64 {
        match self.mode {
            TrackingMode::Process => estimate::process_cpu_seconds(),
            TrackingMode::Machine => match estimate::read_machine_busy_s(&self.procfs_root) {
                Ok(s) => s,
                Err(e) => {
                    push_once(&mut self.warnings, e.to_string());
                    self.cpu_s
                }
            },
        }
    }

    fn read_ram_bytes(&mut self) -> u64 {
        match self.ram_size {
            Some(RamSize::Fixed(b)) => b,
            Some(RamSize::ProcessRss) => match estimate::read_self_rss(&self.procfs_root) {
                Some(b) => b,
                None => {
                    let msg = format!(
                        "{}: VmRSS unreadable; keeping the last value",
                        self.procfs_root.join("self/status").display()
                    );
                    push_once(&mut self.warnings, msg);
                    self.last_ram_bytes
                }
            },
            None => 0,
        }
    }

    fn poll(&mut self) -> Snapshot {
        if let Some(r) = &mut self.rapl {
            r.poll();
        }
        if let Some(g) = &mut self.gpu {
            g.poll();
        }
        let now = Instant::now();
        self.cpu_s = self.read_cpu_s();
        let bytes = self.read_ram_bytes();
        let dt = now.duration_since(self.last_t).as_secs_f64();
        self.ram_gib_s += 0.5 * (estimate::gib(bytes) + estimate::gib(self.last_ram_bytes)) * dt;
        self.last_ram_bytes = bytes;
        self.last_t = now;
        Snapshot {
            t: now,
            rapl_package_j: self
                .rapl
                .as_ref()
                .map_or(0.0, |r| r.total_j(RaplKind::Package)),
            rapl_dram_j: self
                .rapl
                .as_ref()
                .map_or(0.0, |r| r.total_j(RaplKind::Dram)),
            gpu_j: self.gpu.as_ref().map_or(0.0, GpuMeter::total_j),
            cpu_s: self.cpu_s,
            ram_gib_s: self.ram_gib_s,
        }
    }

    fn all_warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        if let Some(r) = &self.rapl {
            w.extend(r.warnings.iter().cloned());
        }
        if let Some(g) = &self.gpu {
            w.extend(g.warnings.iter().cloned());
        }
        w
    }
}

fn push_once(v: &mut Vec<String>, msg: String) {
    if !v.contains(&msg) {
        v.push(msg);
    }
}

struct Shared {
    probes: Mutex<Probes>,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn probes(&self) -> MutexGuard<'_, Probes> {
        // A panic in another thread while polling leaves totals that are still monotonic.
        self.probes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A started region; give it back to [`EnergyMeter::stop`].
#[derive(Debug)]
#[must_use = "a region is measured only when it is stopped"]
pub struct RegionHandle {
    name: String,
    meter_id: usize,
    start: Snapshot,
}

impl RegionHandle {
    /// The region's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Measures the energy and emissions of named regions of code.
pub struct EnergyMeter {
    shared: Arc<Shared>,
    poller: Option<JoinHandle<()>>,
    config: MeterConfig,
    run_id: String,
    carbon: CarbonIntensity,
    cpu_model: String,
    cpu_power: CpuPowerModel,
    gpu_model: String,
    cpu_reason: Option<String>,
    gpu_reason: Option<String>,
    ram_reason: Option<String>,
}

impl std::fmt::Debug for EnergyMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnergyMeter")
            .field("config", &self.config)
            .field("cpu_model", &self.cpu_model)
            .field("gpu_model", &self.gpu_model)
            .finish_non_exhaustive()
    }
}

impl EnergyMeter {
    /// Finds the best source for each component and starts the poller. Fails only on invalid
    /// configuration (unknown country, negative TDP, unreadable `/proc/stat` in machine mode);
    /// missing counters are recorded as reasons in every report.
    pub fn new(config: MeterConfig) -> Result<Self> {
        if let Some(tdp) = config.cpu_tdp_override {
            if !tdp.is_finite() || tdp <= 0.0 {
                return Err(EnergyError::InvalidConfig {
                    what: "CPU TDP",
                    message: format!("{tdp} W: must be a finite number > 0"),
                });
            }
        }
        if let Some(iv) = config.poll_interval {
            if iv.is_zero() {
                return Err(EnergyError::InvalidConfig {
                    what: "poll interval",
                    message: "must be > 0 (use None for no poller)".to_string(),
                });
            }
        }
        let carbon = CarbonIntensity::resolve(config.country.as_deref(), config.carbon_intensity)?;
        let mut warnings = Vec::new();
        let cpu_info = match estimate::read_cpuinfo(&config.procfs_root) {
            Ok(c) => c,
            Err(e) => {
                warnings.push(e.to_string());
                estimate::parse_cpuinfo("")
            }
        };
        let cpu_power = estimate::cpu_power_model(&cpu_info, config.cpu_tdp_override);

        let discovery = rapl::discover(&config.sysfs_root);
        warnings.extend(discovery.warnings.iter().cloned());
        let rapl = Some(RaplReader::new(discovery.domains)).filter(|r| r.has(RaplKind::Package));
        let rapl_reason = discovery.unavailable.clone().unwrap_or_default();

        let (gpu, gpu_reason) = match &config.nvml {
            NvmlMode::Disabled => (None, Some("NVML disabled by configuration".to_string())),
            NvmlMode::Auto => split(GpuMeter::probe(None)),
            NvmlMode::Library(p) => split(GpuMeter::probe(Some(p))),
        };
        let gpu_model = gpu.as_ref().map(GpuMeter::model).unwrap_or_default();
        let gpu_reason = gpu_reason.or_else(|| {
            let g = gpu.as_ref()?;
            let sampled: Vec<String> = g
                .readings()
                .into_iter()
                .filter(|(_, r)| *r == GpuReading::PowerSampling)
                .map(|(i, _)| i.to_string())
                .collect();
            (!sampled.is_empty()).then(|| {
                format!(
                    "GPU {} has no total-energy counter; power sampled and integrated",
                    sampled.join(", ")
                )
            })
        });

        let cpu_reason = (rapl.is_none()).then(|| {
            format!(
                "{rapl_reason}; estimated as {} CPU time x {:.3} W per thread ({})",
                config.tracking_mode.as_str(),
                cpu_power.watts_per_thread,
                cpu_power.basis
            )
        });
        let has_dram = rapl.as_ref().is_some_and(|r| r.has(RaplKind::Dram));
        let (ram_size, ram_reason) = if has_dram {
            (None, None)
        } else {
            let why = if rapl.is_some() {
                "no RAPL DRAM zone".to_string()
            } else {
                rapl_reason.clone()
            };
            ram_size_for(&config, &why, &mut warnings)
        };

        let mut probes = Probes {
            procfs_root: config.procfs_root.clone(),
            mode: config.tracking_mode,
            rapl,
            gpu,
            ram_size,
            last_ram_bytes: 0,
            last_t: Instant::now(),
            cpu_s: 0.0,
            ram_gib_s: 0.0,
            warnings,
        };
        if config.tracking_mode == TrackingMode::Machine {
            // Fails here, not in a region, when /proc/stat is unreadable.
            probes.cpu_s = estimate::read_machine_busy_s(&config.procfs_root)?;
        }
        probes.last_ram_bytes = probes.read_ram_bytes();
        probes.poll();
        let shared = Arc::new(Shared {
            probes: Mutex::new(probes),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let poller = config
            .poll_interval
            .map(|iv| spawn_poller(Arc::clone(&shared), iv));
        let run_id = if config.run_id.is_empty() {
            default_run_id()
        } else {
            config.run_id.clone()
        };
        Ok(EnergyMeter {
            shared,
            poller,
            run_id,
            carbon,
            cpu_model: cpu_info.model,
            cpu_power,
            gpu_model,
            cpu_reason,
            gpu_reason,
            ram_reason,
            config,
        })
    }

    /// Starts a region.
    pub fn start(&self, name: &str) -> RegionHandle {
        let start = self.shared.probes().poll();
        RegionHandle {
            name: name.to_string(),
            meter_id: self.id(),
            start,
        }
    }

    /// Stops a region and reports it.
    pub fn stop(&self, handle: RegionHandle) -> Result<RegionReport> {
        self.stop_with_child(handle, ChildUsage::default())
    }

    /// Stops a region, adding the CPU time and memory of a child process that ran inside it
    /// and was waited for (the estimate cannot see other processes; RAPL and NVML already do).
    pub fn stop_with_child(&self, handle: RegionHandle, child: ChildUsage) -> Result<RegionReport> {
        if handle.meter_id != self.id() {
            return Err(EnergyError::ForeignRegion { name: handle.name });
        }
        let (end, notes) = {
            let mut p = self.shared.probes();
            let end = p.poll();
            (end, p.all_warnings())
        };
        let s = handle.start;
        let duration_s = end.t.duration_since(s.t).as_secs_f64();
        let mut cpu_time_s = (end.cpu_s - s.cpu_s).max(0.0);
        if self.config.tracking_mode == TrackingMode::Process {
            cpu_time_s += child.cpu_s;
        }
        let component = |energy_j: f64, source: Source, reason: &Option<String>| ComponentEnergy {
            energy_j,
            mean_power_w: if duration_s > 0.0 {
                energy_j / duration_s
            } else {
                0.0
            },
            source,
            reason: reason.clone(),
        };
        let cpu = match &self.cpu_reason {
            None => component(end.rapl_package_j - s.rapl_package_j, Source::Rapl, &None),
            Some(_) => component(
                cpu_time_s * self.cpu_power.watts_per_thread,
                Source::Estimate,
                &self.cpu_reason,
            ),
        };
        let gpu = if self.gpu_model.is_empty() {
            component(0.0, Source::None, &self.gpu_reason)
        } else {
            component(end.gpu_j - s.gpu_j, Source::Nvml, &self.gpu_reason)
        };
        let ram = match &self.ram_reason {
            None => component(end.rapl_dram_j - s.rapl_dram_j, Source::Rapl, &None),
            Some(_) => {
                let mut gib_s = end.ram_gib_s - s.ram_gib_s;
                if self.config.tracking_mode == TrackingMode::Process {
                    // Only the child's peak is known: an upper bound over the region.
                    gib_s += estimate::gib(child.max_rss_bytes) * duration_s;
                }
                component(
                    gib_s * RAM_WATTS_PER_GIB,
                    Source::Estimate,
                    &self.ram_reason,
                )
            }
        };
        Ok(RegionReport {
            region: handle.name,
            project_name: self.config.project_name.clone(),
            run_id: self.run_id.clone(),
            timestamp: utc_timestamp(SystemTime::now()),
            duration_s,
            cpu_time_s,
            cpu,
            gpu,
            ram,
            carbon: self.carbon.clone(),
            cpu_model: self.cpu_model.clone(),
            gpu_model: self.gpu_model.clone(),
            tracking_mode: self.config.tracking_mode,
            notes,
        })
    }

    /// Reads every source now (what the poller does periodically).
    pub fn poll(&self) {
        self.shared.probes().poll();
    }

    /// The carbon intensity in use.
    pub fn carbon(&self) -> &CarbonIntensity {
        &self.carbon
    }

    /// The per-thread CPU power the estimate uses, and its basis.
    pub fn cpu_power_model(&self) -> &CpuPowerModel {
        &self.cpu_power
    }

    /// The run id written to every row.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Warnings collected so far (unreadable counters with how to grant access, ...).
    pub fn warnings(&self) -> Vec<String> {
        self.shared.probes().all_warnings()
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }
}

impl Drop for EnergyMeter {
    fn drop(&mut self) {
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.poller.take() {
            let _ = h.join();
        }
    }
}

fn split(r: std::result::Result<GpuMeter, String>) -> (Option<GpuMeter>, Option<String>) {
    match r {
        Ok(g) => (Some(g), None),
        Err(reason) => (None, Some(reason)),
    }
}

fn ram_size_for(
    config: &MeterConfig,
    why: &str,
    warnings: &mut Vec<String>,
) -> (Option<RamSize>, Option<String>) {
    let per = format!("{RAM_WATTS_PER_GIB} W/GiB");
    match config.tracking_mode {
        TrackingMode::Process if estimate::read_self_rss(&config.procfs_root).is_some() => (
            Some(RamSize::ProcessRss),
            Some(format!(
                "{why}; estimated as {per} x resident memory of the process"
            )),
        ),
        mode => match estimate::read_mem_total(&config.procfs_root) {
            Ok(total) => {
                if mode == TrackingMode::Process {
                    warnings.push(format!(
                        "{}: no VmRSS; RAM estimated from all installed memory",
                        config.procfs_root.join("self/status").display()
                    ));
                }
                (
                    Some(RamSize::Fixed(total)),
                    Some(format!(
                        "{why}; estimated as {per} x installed memory ({:.1} GiB)",
                        estimate::gib(total)
                    )),
                )
            }
            Err(e) => {
                warnings.push(e.to_string());
                (
                    None,
                    Some(format!(
                        "{why}; memory size unknown ({e}), RAM energy not estimated"
                    )),
                )
            }
        },
    }
}

fn spawn_poller(shared: Arc<Shared>, interval: Duration) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("shift-energy-poller".to_string())
        .spawn(move || loop {
            {
                let stop = shared.stop.lock().unwrap_or_else(|p| p.into_inner());
                let (stop, _) = shared
                    .wake
                    .wait_timeout_while(stop, interval, |s| !*s)
                    .unwrap_or_else(|p| p.into_inner());
                if *stop {
                    return;
                }
            }
            shared.probes().poll();
        })
        .expect("spawning a thread only fails when the OS is out of resources")
}

fn default_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}
