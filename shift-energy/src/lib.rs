#![doc = include_str!("../README.md")]
//!
//! ## The estimate in detail, and its assumptions
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
