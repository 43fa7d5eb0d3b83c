//! The estimate (no RAPL, no NVML) through fake procfs trees, and the missing-NVML path.

mod common;

use common::{assert_close, FakeRoot};
use shift_energy::{
    EnergyError, EnergyMeter, MeterConfig, NvmlMode, Source, TrackingMode, WORLD_AVERAGE_G_PER_KWH,
};

fn burn_cpu() -> u64 {
    // Enough work to move the process CPU clock; the result keeps it from being optimised out.
    let mut x = 0u64;
    for i in 0..20_000_000u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
    }
    std::hint::black_box(x)
}

#[test]
fn process_mode_uses_cpu_time_and_resident_memory() {
    let root = FakeRoot::new();
    root.procfs(
        "AMD EPYC 7763 64-Core Processor",
        2,
        16 * 1024 * 1024,
        1024 * 1024,
    );
    let meter = EnergyMeter::new(root.config()).unwrap();
    let region = meter.start("training");
    burn_cpu();
    let r = meter.stop(region).unwrap();

    assert_eq!(r.cpu.source, Source::Estimate);
    assert!(r.cpu_time_s > 0.0);
    assert_close(r.cpu.energy_j, r.cpu_time_s * 280.0 / 128.0);
    let reason = r.cpu.reason.as_deref().unwrap();
    assert!(reason.contains("RAPL unavailable"), "{reason}");
    assert!(reason.contains("EPYC 7763 in the TDP table"), "{reason}");

    // 1 GiB resident for the whole region at 0.375 W/GiB.
    assert_eq!(r.ram.source, Source::Estimate);
    assert_close(r.ram.energy_j, 0.375 * r.duration_s);
    assert_close(r.ram.mean_power_w, 0.375);

    assert_eq!(r.gpu.source, Source::None);
    assert_eq!(r.gpu.energy_j, 0.0);
    assert_eq!(r.source_summary(), "estimate");
    assert_eq!(r.tracking_mode, TrackingMode::Process);
    assert_eq!(r.cpu_model, "AMD EPYC 7763 64-Core Processor");
    assert_eq!(r.carbon.g_per_kwh, WORLD_AVERAGE_G_PER_KWH);
    assert_close(r.energy_j(), r.cpu.energy_j + r.ram.energy_j);
}

#[test]
fn resident_memory_is_integrated_over_polls() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 16 * 1024 * 1024, 0);
    let meter = EnergyMeter::new(root.config()).unwrap();
    let region = meter.start("r");
    root.set_rss(2 * 1024 * 1024); // 2 GiB from now on
    meter.poll();
    meter.poll();
    let r = meter.stop(region).unwrap();
    // Between 0 and 2 GiB on average over the region, never more.
    assert!(r.ram.energy_j > 0.0);
    assert!(r.ram.energy_j <= 2.0 * 0.375 * r.duration_s * (1.0 + 1e-9));
}

#[test]
fn machine_mode_uses_proc_stat_and_installed_memory() {
    let root = FakeRoot::new();
    root.procfs("Mystery CPU 9000", 4, 8 * 1024 * 1024, 1024);
    root.set_stat(1_000, 50_000);
    let config = MeterConfig {
        tracking_mode: TrackingMode::Machine,
        cpu_tdp_override: Some(40.0),
        ..root.config()
    };
    let meter = EnergyMeter::new(config).unwrap();
    let region = meter.start("eval");
    root.set_stat(1_000 + 400, 50_000 + 100);
    let r = meter.stop(region).unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    assert_close(r.cpu_time_s, 400.0 / hz);
    // --cpu-tdp 40 W over the 4 threads of the package this OS sees.
    assert_close(r.cpu.energy_j, r.cpu_time_s * 10.0);
    assert!(r.cpu.reason.as_deref().unwrap().contains("--cpu-tdp 40 W"));
    // 8 GiB installed.
    assert_close(r.ram.energy_j, 8.0 * 0.375 * r.duration_s);
    assert_eq!(r.tracking_mode, TrackingMode::Machine);
}

#[test]
fn machine_mode_without_proc_stat_is_a_typed_error() {
    let root = FakeRoot::new();
    root.procfs("Mystery CPU 9000", 4, 8 * 1024 * 1024, 1024);
    let config = MeterConfig {
        tracking_mode: TrackingMode::Machine,
        ..root.config()
    };
    let err = EnergyMeter::new(config).unwrap_err();
    assert!(matches!(err, EnergyError::Io { .. }), "{err}");
    assert!(err.to_string().contains("stat"));
}

#[test]
fn unknown_model_uses_the_family_median_and_says_so() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC", 2, 1024 * 1024, 1024);
    let meter = EnergyMeter::new(root.config()).unwrap();
    let basis = &meter.cpu_power_model().basis;
    assert!(
        basis.contains("not in the TDP table") && basis.contains("--cpu-tdp"),
        "{basis}"
    );
}

#[test]
fn missing_nvml_library_is_reported_not_fatal() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let config = MeterConfig {
        nvml: NvmlMode::Library(root.dir.path().join("libnvidia-ml.so.1")),
        ..root.config()
    };
    let meter = EnergyMeter::new(config).unwrap();
    let r = meter.stop(meter.start("r")).unwrap();
    assert_eq!(r.gpu.source, Source::None);
    assert_eq!(r.gpu.energy_j, 0.0);
    assert!(r.gpu_model.is_empty());
    let reason = r.gpu.reason.unwrap();
    assert!(reason.contains("NVML library not found"), "{reason}");
}

#[test]
fn automatic_nvml_discovery_either_finds_a_gpu_or_says_why_not() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let config = MeterConfig {
        nvml: NvmlMode::Auto,
        ..root.config()
    };
    let meter = EnergyMeter::new(config).unwrap();
    let r = meter.stop(meter.start("r")).unwrap();
    match r.gpu.source {
        Source::Nvml => assert!(!r.gpu_model.is_empty()),
        Source::None => assert!(!r.gpu.reason.unwrap().is_empty()),
        other => panic!("unexpected GPU source {other}"),
    }
}

#[test]
fn invalid_configuration_is_refused() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let bad_tdp = MeterConfig {
        cpu_tdp_override: Some(-5.0),
        ..root.config()
    };
    assert!(matches!(
        EnergyMeter::new(bad_tdp),
        Err(EnergyError::InvalidConfig { .. })
    ));
    let bad_country = MeterConfig {
        country: Some("Atlantis".into()),
        ..root.config()
    };
    assert!(matches!(
        EnergyMeter::new(bad_country),
        Err(EnergyError::UnknownCountry { .. })
    ));
    let fr = MeterConfig {
        country: Some("FR".into()),
        ..root.config()
    };
    let meter = EnergyMeter::new(fr).unwrap();
    assert_eq!(meter.carbon().country_iso_code.as_deref(), Some("FRA"));
}

#[test]
fn the_poller_runs_and_stops_with_the_meter() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let config = MeterConfig {
        poll_interval: Some(std::time::Duration::from_millis(1)),
        ..root.config()
    };
    let meter = EnergyMeter::new(config).unwrap();
    let r = meter.stop(meter.start("r")).unwrap();
    assert_eq!(r.cpu.source, Source::Estimate);
    drop(meter); // joins the poller; a hang here would fail the test run
}
