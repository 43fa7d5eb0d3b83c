//! NVIDIA GPUs through NVML, loaded at run time by `nvml-wrapper` (no NVIDIA library is needed
//! to build, nor to run without a GPU: a missing library is a reason, not an error).
//!
//! Per device, the total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, millijoules
//! since the driver loaded, Volta and newer) is used where supported; otherwise the board power
//! (`nvmlDeviceGetPowerUsage`, milliwatts) is sampled by the meter's poller and integrated with
//! the trapezoidal rule.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;

/// Library names tried in order: drivers install `libnvidia-ml.so.1`; the unversioned name only
/// comes with development packages.
const LIB_NAMES: [&str; 2] = ["libnvidia-ml.so.1", "libnvidia-ml.so"];

/// How one device's energy is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuReading {
    /// The device's total-energy counter.
    EnergyCounter,
    /// Power samples integrated over time.
    PowerSampling,
}

#[derive(Debug)]
struct Device {
    index: u32,
    name: String,
    reading: GpuReading,
    last_mj: u64,
    last_power_w: f64,
    last_t: Instant,
    total_j: f64,
}

/// The GPUs found through NVML, with a monotonic energy total per device.
pub(crate) struct GpuMeter {
    nvml: Nvml,
    devices: Vec<Device>,
    pub(crate) warnings: Vec<String>,
}

impl std::fmt::Debug for GpuMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuMeter")
            .field("devices", &self.devices)
            .finish()
    }
}

fn describe(e: &NvmlError) -> String {
    match e {
        NvmlError::LibloadingError(inner) => format!("NVML library not found ({inner})"),
        NvmlError::DriverNotLoaded => "NVIDIA driver not loaded".to_string(),
        NvmlError::NoPermission => "no permission to talk to the NVIDIA driver".to_string(),
        other => format!("NVML error: {other}"),
    }
}

impl GpuMeter {
    /// Loads NVML from `lib_path`, or from the usual library names when `None`, and takes the
    /// first reading of every device. `Err` carries the reason no GPU can be measured.
    pub(crate) fn probe(lib_path: Option<&Path>) -> Result<Self, String> {
        let nvml = match lib_path {
            Some(p) => Nvml::builder()
                .lib_path(p.as_os_str())
                .init()
                .map_err(|e| format!("{} [{}]", describe(&e), p.display()))?,
            None => {
                let mut first_error = None;
                let mut found = None;
                for name in LIB_NAMES {
                    match Nvml::builder().lib_path(OsStr::new(name)).init() {
                        Ok(n) => {
                            found = Some(n);
                            break;
                        }
                        Err(e) => {
                            first_error.get_or_insert_with(|| describe(&e));
                        }
                    }
                }
                found.ok_or_else(|| {
                    format!(
                        "{} [tried {}]",
                        first_error.unwrap_or_default(),
                        LIB_NAMES.join(", ")
                    )
                })?
            }
        };
        let count = nvml.device_count().map_err(|e| describe(&e))?;
        if count == 0 {
            return Err("NVML loaded but reports no GPU".to_string());
        }
        let mut devices = Vec::new();
        let mut warnings = Vec::new();
        for index in 0..count {
            let dev = match nvml.device_by_index(index) {
                Ok(d) => d,
                Err(e) => {
                    warnings.push(format!("GPU {index}: {}", describe(&e)));
                    continue;
                }
            };
            let name = dev.name().unwrap_or_else(|_| format!("GPU {index}"));
            let now = Instant::now();
            let (reading, last_mj, last_power_w) = match dev.total_energy_consumption() {
                Ok(mj) => (GpuReading::EnergyCounter, mj, 0.0),
                Err(counter_err) => match dev.power_usage() {
                    Ok(mw) => (GpuReading::PowerSampling, 0, f64::from(mw) * 1e-3),
                    Err(e) => {
                        warnings.push(format!(
                            "GPU {index} ({name}): neither energy counter ({}) nor power reading \
                             ({}); not measured",
                            describe(&counter_err),
                            describe(&e)
                        ));
                        continue;
                    }
                },
            };
            devices.push(Device {
                index,
                name,
                reading,
                last_mj,
                last_power_w,
                last_t: now,
                total_j: 0.0,
            });
        }
        if devices.is_empty() {
            return Err(format!("no GPU could be read: {}", warnings.join("; ")));
        }
        Ok(GpuMeter {
            nvml,
            devices,
            warnings,
        })
    }

    /// Reads every device once.
    pub(crate) fn poll(&mut self) {
        for d in &mut self.devices {
            let dev = match self.nvml.device_by_index(d.index) {
                Ok(dev) => dev,
                Err(e) => {
                    push_once(
                        &mut self.warnings,
                        format!("GPU {}: {}", d.index, describe(&e)),
                    );
                    continue;
                }
            };
            let now = Instant::now();
            match d.reading {
                GpuReading::EnergyCounter => match dev.total_energy_consumption() {
                    Ok(mj) => {
                        // The counter only restarts when the driver reloads.
                        let delta = if mj >= d.last_mj { mj - d.last_mj } else { mj };
                        d.total_j += delta as f64 * 1e-3;
                        d.last_mj = mj;
                    }
                    Err(e) => push_once(
                        &mut self.warnings,
                        format!("GPU {}: {}", d.index, describe(&e)),
                    ),
                },
                GpuReading::PowerSampling => match dev.power_usage() {
                    Ok(mw) => {
                        let p = f64::from(mw) * 1e-3;
                        let dt = now.duration_since(d.last_t).as_secs_f64();
                        d.total_j += 0.5 * (p + d.last_power_w) * dt;
                        d.last_power_w = p;
                    }
                    Err(e) => push_once(
                        &mut self.warnings,
                        format!("GPU {}: {}", d.index, describe(&e)),
                    ),
                },
            }
            d.last_t = now;
        }
    }

    /// Monotonic total of all devices, joules.
    pub(crate) fn total_j(&self) -> f64 {
        self.devices.iter().map(|d| d.total_j).sum()
    }

    /// `2 x NVIDIA H100 80GB HBM3`, or the names joined by `, ` when they differ.
    pub(crate) fn model(&self) -> String {
        let first = &self.devices[0].name;
        if self.devices.iter().all(|d| &d.name == first) {
            if self.devices.len() == 1 {
                first.clone()
            } else {
                format!("{} x {first}", self.devices.len())
            }
        } else {
            self.devices
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// How the devices are read, for the report.
    pub(crate) fn readings(&self) -> Vec<(u32, GpuReading)> {
        self.devices.iter().map(|d| (d.index, d.reading)).collect()
    }
}

fn push_once(v: &mut Vec<String>, msg: String) {
    if !v.contains(&msg) {
        v.push(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_a_reason_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("libnvidia-ml.so.1");
        let reason = GpuMeter::probe(Some(&missing)).unwrap_err();
        assert!(reason.contains("NVML library not found"), "{reason}");
    }
}
