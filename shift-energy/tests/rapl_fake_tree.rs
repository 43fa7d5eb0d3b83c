//! RAPL through a fake powercap tree: discovery, several packages, DRAM, wrap-around, nesting,
//! unreadable counters.

mod common;

use common::{assert_close, FakeRoot};
use shift_energy::rapl::{discover, RaplKind};
use shift_energy::{EnergyError, EnergyMeter, Source};

const MAX: u64 = 262_143_328_850;

/// Two packages with DRAM, plus zones that must be ignored (core, psys, the mmio duplicate).
fn two_socket_tree() -> FakeRoot {
    let root = FakeRoot::new();
    root.procfs(
        "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz",
        4,
        16 * 1024 * 1024,
        1024,
    );
    root.zone("intel-rapl:0", "package-0", 1_000_000, MAX);
    root.zone("intel-rapl:0:0", "core", 500, MAX);
    root.zone("intel-rapl:0:1", "dram", 2_000_000, MAX);
    root.zone("intel-rapl:1", "package-1", 3_000_000, MAX);
    root.zone("intel-rapl:1:0", "dram", 4_000_000, MAX);
    root.zone("intel-rapl:2", "psys", 9_000_000, MAX);
    root.zone("intel-rapl-mmio:0", "package-0", 1_000_000, MAX);
    std::fs::create_dir_all(root.sys().join("class/powercap/intel-rapl")).unwrap();
    root
}

#[test]
fn discovery_keeps_packages_and_dram_only() {
    let root = two_socket_tree();
    let d = discover(&root.sys());
    assert!(d.unavailable.is_none(), "{:?}", d.unavailable);
    let names: Vec<(&str, RaplKind)> = d
        .domains
        .iter()
        .map(|z| (z.name.as_str(), z.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("package-0", RaplKind::Package),
            ("dram", RaplKind::Dram),
            ("package-1", RaplKind::Package),
            ("dram", RaplKind::Dram),
        ]
    );
    assert!(d.domains.iter().all(|z| z.max_energy_range_uj == MAX));
}

#[test]
fn several_packages_are_summed_and_dram_is_ram() {
    let root = two_socket_tree();
    let meter = EnergyMeter::new(root.config()).unwrap();
    let region = meter.start("training");
    root.set_energy("intel-rapl:0", 1_000_000 + 5_000_000); // +5 J
    root.set_energy("intel-rapl:1", 3_000_000 + 7_000_000); // +7 J
    root.set_energy("intel-rapl:0:1", 2_000_000 + 1_500_000); // +1.5 J
    root.set_energy("intel-rapl:1:0", 4_000_000 + 500_000); // +0.5 J
    root.set_energy("intel-rapl:2", 99_000_000); // psys: ignored
    let r = meter.stop(region).unwrap();
    assert_eq!(r.cpu.source, Source::Rapl);
    assert!(r.cpu.reason.is_none());
    assert_close(r.cpu.energy_j, 12.0);
    assert_eq!(r.ram.source, Source::Rapl);
    assert_close(r.ram.energy_j, 2.0);
    assert_eq!(r.gpu.source, Source::None);
    assert_eq!(r.source_summary(), "rapl");
    assert_close(r.energy_kwh(), 14.0 / 3.6e6);
    assert_close(r.emissions_kg(), 14.0 / 3.6e6 * 0.475);
}

#[test]
fn wrap_around_through_max_energy_range() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    root.zone("intel-rapl:0", "package-0", 990, 1000);
    let meter = EnergyMeter::new(root.config()).unwrap();
    let region = meter.start("r");
    root.set_energy("intel-rapl:0", 30); // wrapped: 10 + 30 = 40 µJ
    let r = meter.stop(region).unwrap();
    assert_close(r.cpu.energy_j, 40e-6);
}

#[test]
fn repeated_wraps_are_caught_by_polling() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    root.zone("intel-rapl:0", "package-0", 100, 1000);
    root.zone("intel-rapl:1", "package-1", 0, 2000);
    let meter = EnergyMeter::new(root.config()).unwrap();
    let region = meter.start("long");
    for (a, b) in [(900u64, 1500u64), (200, 100), (800, 1900), (50, 300)] {
        // Each step of package 0 is less than one range: 800, 300, 600, 250 µJ.
        root.set_energy("intel-rapl:0", a);
        root.set_energy("intel-rapl:1", b);
        meter.poll();
    }
    let r = meter.stop(region).unwrap();
    let package0 = 800 + 300 + 600 + 250;
    let package1 = 1500 + 600 + 1800 + 400; // range 2000
    let expected = package0 + package1;
    assert_close(r.cpu.energy_j, expected as f64 * 1e-6);
}

#[test]
fn nested_and_sequential_regions() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    root.zone("intel-rapl:0", "package-0", 0, MAX);
    let meter = EnergyMeter::new(root.config()).unwrap();
    let outer = meter.start("outer");
    root.set_energy("intel-rapl:0", 1_000_000);
    let inner = meter.start("inner");
    root.set_energy("intel-rapl:0", 3_000_000);
    let inner_r = meter.stop(inner).unwrap();
    let second = meter.start("second");
    root.set_energy("intel-rapl:0", 7_000_000);
    let second_r = meter.stop(second).unwrap();
    let outer_r = meter.stop(outer).unwrap();
    assert_close(inner_r.cpu.energy_j, 2.0);
    assert_close(second_r.cpu.energy_j, 4.0);
    assert_close(outer_r.cpu.energy_j, 7.0);
    assert_eq!(outer_r.region, "outer");
    // No DRAM zone: RAM falls back to the estimate and says why.
    assert_eq!(outer_r.ram.source, Source::Estimate);
    assert!(outer_r
        .ram
        .reason
        .as_deref()
        .unwrap()
        .contains("no RAPL DRAM zone"));
    assert_eq!(outer_r.source_summary(), "rapl+estimate");
}

#[test]
fn unreadable_counters_fall_back_to_the_estimate_with_a_reason() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let zone = root.zone("intel-rapl:0", "package-0", 0, MAX);
    // A directory where the counter should be: reading it fails (as root, a chmod would not).
    std::fs::remove_file(zone.join("energy_uj")).unwrap();
    std::fs::create_dir(zone.join("energy_uj")).unwrap();
    let meter = EnergyMeter::new(root.config()).unwrap();
    let r = meter.stop(meter.start("r")).unwrap();
    assert_eq!(r.cpu.source, Source::Estimate);
    let reason = r.cpu.reason.unwrap();
    assert!(
        reason.contains("RAPL unavailable") && reason.contains("package-0"),
        "{reason}"
    );
    assert!(!meter.warnings().is_empty());
}

#[test]
fn no_powercap_folder_means_estimate() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let d = discover(&root.sys());
    assert!(d.domains.is_empty());
    assert!(d.unavailable.unwrap().contains("cannot list"));
}

#[test]
fn a_handle_from_another_meter_is_refused() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let a = EnergyMeter::new(root.config()).unwrap();
    let b = EnergyMeter::new(root.config()).unwrap();
    let h = a.start("x");
    assert!(matches!(b.stop(h), Err(EnergyError::ForeignRegion { .. })));
}
