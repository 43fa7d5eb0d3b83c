//! Fake sysfs and procfs trees for the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use shift_energy::{MeterConfig, NvmlMode};

/// A temporary folder holding `sys/` and `proc/`.
pub struct FakeRoot {
    pub dir: tempfile::TempDir,
}

impl FakeRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sys/class")).unwrap();
        fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        FakeRoot { dir }
    }

    pub fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    /// Adds a powercap zone directory.
    pub fn zone(&self, dir: &str, name: &str, energy_uj: u64, max_uj: u64) -> PathBuf {
        let p = self.sys().join("class/powercap").join(dir);
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("name"), format!("{name}\n")).unwrap();
        fs::write(p.join("energy_uj"), format!("{energy_uj}\n")).unwrap();
        fs::write(p.join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
        p
    }

    pub fn set_energy(&self, dir: &str, energy_uj: u64) {
        let p = self
            .sys()
            .join("class/powercap")
            .join(dir)
            .join("energy_uj");
        fs::write(p, format!("{energy_uj}\n")).unwrap();
    }

    /// Writes cpuinfo (one package, `threads` logical CPUs), meminfo and self/status.
    pub fn procfs(&self, model: &str, threads: usize, mem_kb: u64, rss_kb: u64) {
        let mut cpuinfo = String::new();
        for i in 0..threads {
            cpuinfo.push_str(&format!(
                "processor\t: {i}\nvendor_id\t: AuthenticAMD\nmodel name\t: {model}\nphysical id\t: 0\n\n"
            ));
        }
        fs::write(self.proc().join("cpuinfo"), cpuinfo).unwrap();
        fs::write(
            self.proc().join("meminfo"),
            format!("MemTotal:       {mem_kb} kB\nMemFree:        1000 kB\n"),
        )
        .unwrap();
        self.set_rss(rss_kb);
    }

    pub fn set_rss(&self, rss_kb: u64) {
        fs::write(
            self.proc().join("self/status"),
            format!("Name:\ttest\nVmHWM:\t{rss_kb} kB\nVmRSS:\t{rss_kb} kB\nThreads:\t1\n"),
        )
        .unwrap();
    }

    /// /proc/stat with the given busy (user) and idle ticks.
    pub fn set_stat(&self, user_ticks: u64, idle_ticks: u64) {
        fs::write(
            self.proc().join("stat"),
            format!("cpu  {user_ticks} 0 0 {idle_ticks} 0 0 0 0 0 0\ncpu0 {user_ticks} 0 0 {idle_ticks} 0 0 0 0 0 0\n"),
        )
        .unwrap();
    }

    /// A deterministic config: no poller, no NVML, world-average carbon intensity.
    pub fn config(&self) -> MeterConfig {
        MeterConfig {
            sysfs_root: self.sys(),
            procfs_root: self.proc(),
            nvml: NvmlMode::Disabled,
            poll_interval: None,
            run_id: "test-run".to_string(),
            ..MeterConfig::default()
        }
    }
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

pub fn assert_close(a: f64, b: f64) {
    assert!(close(a, b), "{a} != {b}");
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
