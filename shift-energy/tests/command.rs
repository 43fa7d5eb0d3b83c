//! `measure_command`: a child's CPU time and exit status.

mod common;

use common::{assert_close, FakeRoot};
use shift_energy::{measure_command, EnergyError, Source};

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn exit_status_is_passed_through() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let (status, report) = measure_command(&cmd(&["sh", "-c", "exit 3"]), root.config()).unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(report.region, "command");
}

#[test]
fn the_child_cpu_time_is_charged() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let busy = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
    let (status, r) = measure_command(&cmd(&["sh", "-c", busy]), root.config()).unwrap();
    assert!(status.success());
    assert!(r.cpu_time_s > 0.0, "the shell loop used CPU time");
    assert_eq!(r.cpu.source, Source::Estimate);
    assert_close(r.cpu.energy_j, r.cpu_time_s * 280.0 / 128.0);
    // The child's peak resident memory is charged for the whole region.
    assert!(r.ram.energy_j > 0.0);
}

#[test]
fn bad_commands_are_typed_errors() {
    let root = FakeRoot::new();
    root.procfs("AMD EPYC 7763 64-Core Processor", 2, 1024 * 1024, 1024);
    let err = measure_command(&cmd(&["/nonexistent/program"]), root.config()).unwrap_err();
    assert!(matches!(err, EnergyError::Command { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/program"));
    let err = measure_command(&[], root.config()).unwrap_err();
    assert!(matches!(err, EnergyError::Command { .. }));
}
