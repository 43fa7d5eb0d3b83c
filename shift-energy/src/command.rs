//! Measuring another command (`deepshift energy -- CMD ARGS`).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

use crate::error::{EnergyError, Result};
use crate::estimate;
use crate::meter::{ChildUsage, EnergyMeter, MeterConfig};
use crate::report::RegionReport;

/// Runs `cmd[0]` with arguments `cmd[1..]` (standard streams inherited) in a region named
/// `command`, and returns its exit status with the region's report.
///
/// The child's CPU time and peak memory come from `wait4`, which covers the child and every
/// descendant it waited for; RAPL and NVML, when present, see the whole machine anyway.
pub fn measure_command(cmd: &[String], config: MeterConfig) -> Result<(ExitStatus, RegionReport)> {
    let Some((program, args)) = cmd.split_first() else {
        return Err(EnergyError::Command {
            program: String::new(),
            message: "no command given".to_string(),
        });
    };
    let meter = EnergyMeter::new(config)?;
    let region = meter.start("command");
    let child = Command::new(program)
        .args(args)
        .spawn()
        .map_err(|e| EnergyError::Command {
            program: program.clone(),
            message: format!("cannot start: {e}"),
        })?;
    let pid = libc::pid_t::try_from(child.id()).map_err(|_| EnergyError::Command {
        program: program.clone(),
        message: "process id out of range".to_string(),
    })?;
    let (status, usage) = wait4(pid).map_err(|e| EnergyError::Command {
        program: program.clone(),
        message: format!("waiting for it failed: {e}"),
    })?;
    // The child was reaped by wait4; std's handle must not wait for it again.
    drop(child);
    let report = meter.stop_with_child(region, usage)?;
    Ok((status, report))
}

fn wait4(pid: libc::pid_t) -> std::io::Result<(ExitStatus, ChildUsage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: status and ru are valid and writable; pid is our own child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let (cpu_s, max_rss_bytes) = estimate::rusage_to_parts(&ru);
    Ok((
        ExitStatus::from_raw(status),
        ChildUsage {
            cpu_s,
            max_rss_bytes,
        },
    ))
}
