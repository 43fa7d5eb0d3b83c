//! Energy and emissions of training and inference: measured where the hardware allows,
//! estimated transparently where it does not, and always saying which.
//!
//! # Measuring
//!
//! ```no_run
//! use shift_energy::{EmissionsCsv, EnergyMeter, MeterConfig};
//! # fn main() -> Result<(), shift_energy::EnergyError> {
//! let meter = EnergyMeter::new(MeterConfig { country: Some("FR".into()), ..MeterConfig::default() })?;
//! let training = meter.start("training");
//! // ... train ...
//! let report = meter.stop(training)?;
//! EmissionsCsv::append("run/emissions.csv".as_ref(), &report)?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! Regions may nest or follow each other; each one reads the sources at its start and stop.
//! [`measure_command`] measures another program (`deepshift energy -- CMD ARGS`).
//!
//! # Sources, best first, per component
//!
//! | component | best | fallback |
//! |---|---|---|
//! | CPU | RAPL `package-*` zones (all sockets) | estimate from CPU time |
//! | GPU | NVML total-energy counter, else NVML power sampled and integrated | none (not measured) |
//! | RAM | RAPL `dram` zones | estimate from memory size |
//!
//! Every [`ComponentEnergy`] carries its [`Source`] (`rapl`, `nvml`, `estimate`, `none`) and,
//! when the best source was unavailable, the reason: no `/sys/class/powercap`, counters not
//! readable (with the `chmod` that grants access), `NVML library not found`, a GPU without an
//! energy counter. A GPU that cannot be seen is reported as `none` with 0 J rather than
//! estimated: without NVML there is no usage figure (like CPU time) to base an estimate on.
//! RAPL and NVML measure the whole socket or board, whatever else runs on the machine.
//!
//! # The estimate, and its assumptions
//!
//! * **CPU**: `energy = CPU time x P_thread`, with `P_thread = TDP / hardware threads per
//!   package`. CPU time is the process's user + system time of all its threads
//!   (`CLOCK_PROCESS_CPUTIME_ID`), plus that of measured children (`wait4`); in
//!   [`TrackingMode::Machine`] it is the busy time of all CPUs from `/proc/stat`. The TDP comes
//!   from a table of common server and desktop CPUs matched by `/proc/cpuinfo`'s model name
//!   ([`estimate::CPU_TDP_TABLE`]), or from `--cpu-tdp W` (then divided by the threads per
//!   package this OS sees). An unknown model gets the median per-thread power of its family in
//!   the table (e.g. all EPYC entries, for VMs that only say "AMD EPYC"), else of the whole
//!   table. Assumptions: a busy hardware thread draws an equal share of the TDP; idle threads
//!   and the package's idle power are not charged to the run; turbo above TDP is not modelled.
//!   On a virtual machine the per-thread share of the host's TDP is the right scale, which is
//!   why the model is per thread and not "TDP x load of the visible CPUs".
//! * **RAM**: `0.375 W per GiB` (3 W per 8 GB module, the figure CodeCarbon used before
//!   version 3) times the memory size, integrated over time: the process's resident memory
//!   (`VmRSS`, sampled by the poller) in process mode, plus a measured child's peak resident
//!   memory for the whole region (an upper bound); all installed memory (`MemTotal`) in machine
//!   mode. A linear W/GiB figure is used rather than CodeCarbon 3's per-DIMM model because the
//!   number of DIMMs cannot be read without root and a per-DIMM cost does not divide between
//!   processes.
//!
//! # Emissions
//!
//! `kg CO2eq = kWh x g/kWh / 1000`, with the intensity from `--carbon-intensity`, else the
//! country's value from [`carbon::COUNTRY_TABLE`] (Our World in Data / Ember, 2023, 55
//! countries), else the world average of 475 g/kWh.
//!
//! # Output
//!
//! [`EmissionsCsv`] writes `emissions.csv` with CodeCarbon's column names and units where they
//! overlap (energies in kWh), one row per region, replacing the file atomically.
//!
//! # Analytic inference energy
//!
//! [`analytic`] counts the operations of a network described by [`LayerDesc`] and prices them
//! with Horowitz's (ISSCC 2014) and ShiftAddNet's (NeurIPS 2020) 45 nm per-operation energies;
//! [`analytic::models`] describes the MNIST networks. See [`analytic::costs`] for the numbers,
//! their sources and what could not be verified.

pub mod analytic;
pub mod carbon;
mod clock;
mod command;
pub mod emissions;
mod error;
pub mod estimate;
mod meter;
mod nvml;
pub mod rapl;
mod report;

pub use analytic::costs::OpKind;
pub use analytic::{
    convert_to_shift, inference_energy, EnergyBreakdown, LayerDesc, LayerEnergy, OpCount, ShiftSpec,
};
pub use carbon::{CarbonIntensity, WORLD_AVERAGE_G_PER_KWH};
pub use clock::utc_timestamp;
pub use command::measure_command;
pub use emissions::{EmissionsCsv, EmissionsRecord};
pub use error::{EnergyError, Result};
pub use meter::{ChildUsage, EnergyMeter, MeterConfig, NvmlMode, RegionHandle};
pub use nvml::GpuReading;
pub use report::{ComponentEnergy, RegionReport, Source, TrackingMode, J_PER_KWH};
