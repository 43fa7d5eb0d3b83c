//! `emissions.csv`: one row per region, CodeCarbon's column names and units where they overlap
//! (durations in seconds, energies in kWh, powers in W, emissions in kg CO2eq), then this
//! crate's own columns.
//!
//! Appending rewrites the whole file into a temporary file in the same folder, syncs it and
//! renames it over the old one, under an advisory lock on the folder: a crash at any point
//! leaves either the old file or the new one, never a torn row.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{EnergyError, Result};
use crate::report::{RegionReport, J_PER_KWH};

/// The columns, in order. The first 17 are CodeCarbon's.
pub const HEADER: &[&str] = &[
    "timestamp",
    "project_name",
    "run_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "country_iso_code",
    "cpu_model",
    "gpu_model",
    "tracking_mode",
    "source",
    "region",
    "cpu_source",
    "gpu_source",
    "ram_source",
    "carbon_intensity",
    "cpu_time",
    "notes",
];

/// Reading and appending `emissions.csv` files.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmissionsCsv;

/// One row of `emissions.csv`, the fields a report needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EmissionsRecord {
    /// Region name.
    pub region: String,
    /// Run id.
    pub run_id: String,
    /// Seconds.
    pub duration_s: f64,
    /// kWh (CPU + GPU + RAM).
    pub energy_kwh: f64,
    /// kg CO2eq.
    pub emissions_kg: f64,
    /// `estimate`, `rapl+nvml`, ...
    pub source: String,
}

impl EmissionsCsv {
    /// The row for a report, in [`HEADER`] order.
    pub fn row(r: &RegionReport) -> Vec<String> {
        let kwh = |j: f64| j / J_PER_KWH;
        vec![
            r.timestamp.clone(),
            r.project_name.clone(),
            r.run_id.clone(),
            num(r.duration_s),
            num(r.emissions_kg()),
            num(r.emissions_rate_kg_per_s()),
            num(r.cpu.mean_power_w),
            num(r.gpu.mean_power_w),
            num(r.ram.mean_power_w),
            num(kwh(r.cpu.energy_j)),
            num(kwh(r.gpu.energy_j)),
            num(kwh(r.ram.energy_j)),
            num(r.energy_kwh()),
            r.carbon.country_iso_code.clone().unwrap_or_default(),
            r.cpu_model.clone(),
            r.gpu_model.clone(),
            r.tracking_mode.as_str().to_string(),
            r.source_summary(),
            r.region.clone(),
            r.cpu.source.as_str().to_string(),
            r.gpu.source.as_str().to_string(),
            r.ram.source.as_str().to_string(),
            num(r.carbon.g_per_kwh),
            num(r.cpu_time_s),
            notes(r),
        ]
    }

    /// Appends one row to `path`, creating the file with its header when absent. An existing
    /// file must have exactly [`HEADER`] and end with a complete line.
    pub fn append(path: &Path, report: &RegionReport) -> Result<()> {
        Self::append_rows(path, std::slice::from_ref(report))
    }

    /// Appends several rows in one atomic replacement.
    pub fn append_rows(path: &Path, reports: &[RegionReport]) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let _lock = DirLock::acquire(&dir)?;
        let mut content = match std::fs::read_to_string(path) {
            Ok(text) => {
                check_existing(path, &text)?;
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut s = HEADER.join(",");
                s.push('\n');
                s
            }
            Err(e) => return Err(EnergyError::io(path, e)),
        };
        for r in reports {
            content.push_str(&encode_line(&Self::row(r)));
        }
        write_atomically(path, content.as_bytes())
    }

    /// Reads every row of an `emissions.csv` written by this crate.
    pub fn read(path: &Path) -> Result<Vec<EmissionsRecord>> {
        let text = std::fs::read_to_string(path).map_err(|e| EnergyError::io(path, e))?;
        check_existing(path, &text)?;
        let rows = parse_csv(&text).map_err(|m| EnergyError::parse(path, m))?;
        let col = |name: &str| HEADER.iter().position(|h| *h == name).unwrap_or(0);
        rows.iter()
            .skip(1)
            .enumerate()
            .map(|(i, row)| {
                let f = |name: &str| -> Result<f64> {
                    row[col(name)].parse::<f64>().map_err(|e| {
                        EnergyError::parse(path, format!("row {}: column {name}: {e}", i + 1))
                    })
                };
                Ok(EmissionsRecord {
                    region: row[col("region")].clone(),
                    run_id: row[col("run_id")].clone(),
                    duration_s: f("duration")?,
                    energy_kwh: f("energy_consumed")?,
                    emissions_kg: f("emissions")?,
                    source: row[col("source")].clone(),
                })
            })
            .collect()
    }
}

fn num(x: f64) -> String {
    // Shortest representation that reads back to the same f64.
    format!("{x:?}")
}

fn notes(r: &RegionReport) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (label, c) in [("cpu", &r.cpu), ("gpu", &r.gpu), ("ram", &r.ram)] {
        if let Some(reason) = &c.reason {
            parts.push(format!("{label}: {reason}"));
        }
    }
    parts.push(format!("carbon: {}", r.carbon.source));
    parts.extend(r.notes.iter().map(|n| format!("warning: {n}")));
    parts.join(" | ")
}

fn check_existing(path: &Path, text: &str) -> Result<()> {
    let first = text.lines().next().unwrap_or("");
    let expected = HEADER.join(",");
    if first != expected {
        return Err(EnergyError::CsvHeader {
            path: path.to_path_buf(),
            message: format!("found {first:?}, expected {expected:?}"),
        });
    }
    if !text.ends_with('\n') {
        return Err(EnergyError::parse(
            path,
            "last line is incomplete (no final newline)",
        ));
    }
    let rows = parse_csv(text).map_err(|m| EnergyError::parse(path, m))?;
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != HEADER.len())
    {
        return Err(EnergyError::parse(
            path,
            format!(
                "record {i} has {} fields, expected {}",
                r.len(),
                HEADER.len()
            ),
        ));
    }
    Ok(())
}

/// One CSV line (RFC 4180 quoting), with its newline.
pub(crate) fn encode_line(fields: &[String]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
    out
}

/// Parses RFC 4180 CSV text into records (fields unquoted).
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".to_string());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Replaces `path` atomically: temporary file, fsync, rename, fsync of the folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        atomic_write_file::AtomicWriteFile::open(path).map_err(|e| EnergyError::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.commit())
        .map_err(|e| EnergyError::io(path, e))
}

/// An exclusive `flock` on a folder, so that two processes appending to the same file do not
/// lose each other's rows.
struct DirLock(File);

impl DirLock {
    fn acquire(dir: &Path) -> Result<Self> {
        let f = File::open(dir).map_err(|e| EnergyError::io(dir, e))?;
        loop {
            // SAFETY: the descriptor is valid for the lifetime of `f`.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(DirLock(f));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(EnergyError::io(dir, e));
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is still open.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        let fields: Vec<String> = ["a", "b,c", "d\"e", "multi\nline", ""]
            .map(String::from)
            .to_vec();
        let line = encode_line(&fields);
        assert_eq!(parse_csv(&line).unwrap(), vec![fields]);
        assert!(parse_csv("\"open").is_err());
    }

    #[test]
    fn header_starts_with_codecarbon_columns() {
        assert_eq!(&HEADER[..3], &["timestamp", "project_name", "run_id"]);
        assert_eq!(HEADER[16], "tracking_mode");
        assert_eq!(HEADER[17], "source");
    }
}
