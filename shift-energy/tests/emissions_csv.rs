//! `emissions.csv`: columns, units, appending, refusing foreign files, atomic replacement.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{assert_close, FakeRoot};
use shift_energy::emissions::{parse_csv, HEADER};
use shift_energy::{EmissionsCsv, EnergyError, EnergyMeter, MeterConfig, RegionReport};

fn reports() -> (FakeRoot, Vec<RegionReport>) {
    let root = FakeRoot::new();
    root.procfs(
        "AMD EPYC 7763 64-Core Processor",
        2,
        1024 * 1024,
        512 * 1024,
    );
    root.zone("intel-rapl:0", "package-0", 0, 1 << 40);
    let config = MeterConfig {
        country: Some("DE".into()),
        project_name: "mnist, conv".into(),
        ..root.config()
    };
    let meter = EnergyMeter::new(config).unwrap();
    let training = meter.start("training");
    root.set_energy("intel-rapl:0", 36_000_000); // 36 J = 1e-5 kWh
    let t = meter.stop(training).unwrap();
    let evaluation = meter.start("evaluation");
    root.set_energy("intel-rapl:0", 39_600_000); // 3.6 J
    let e = meter.stop(evaluation).unwrap();
    (root, vec![t, e])
}

#[test]
fn rows_append_and_read_back() {
    let (root, reps) = reports();
    let path = root.dir.path().join("run/emissions.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    EmissionsCsv::append(&path, &reps[0]).unwrap();
    EmissionsCsv::append(&path, &reps[1]).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), HEADER.join(","));
    assert!(
        text.contains("\"mnist, conv\""),
        "project name with a comma is quoted"
    );

    let rows = EmissionsCsv::read(&path).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].region.as_str(), rows[1].region.as_str()),
        ("training", "evaluation")
    );
    assert_eq!(rows[0].run_id, "test-run");
    // CodeCarbon's units: kWh and kg.
    assert_close(rows[0].energy_kwh, reps[0].energy_kwh());
    assert_close(rows[0].emissions_kg, reps[0].energy_kwh() * 380.95 / 1000.0);
    assert_close(rows[1].duration_s, reps[1].duration_s);
    assert_eq!(rows[0].source, "rapl+estimate");
}

#[test]
fn columns_hold_codecarbon_units() {
    let (root, reps) = reports();
    let path = root.dir.path().join("emissions.csv");
    EmissionsCsv::append(&path, &reps[0]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let records = parse_csv(&text).unwrap();
    let row = &records[1];
    let col = |name: &str| HEADER.iter().position(|h| *h == name).unwrap();
    let cpu_kwh: f64 = row[col("cpu_energy")].parse().unwrap();
    assert_close(cpu_kwh, 36.0 / 3.6e6);
    assert_eq!(row[col("country_iso_code")], "DEU");
    assert_eq!(row[col("tracking_mode")], "process");
    assert_eq!(row[col("cpu_source")], "rapl");
    assert_eq!(row[col("gpu_source")], "none");
    assert_eq!(row[col("ram_source")], "estimate");
    assert_eq!(row[col("carbon_intensity")], "380.95");
}

#[test]
fn a_foreign_or_torn_file_is_refused_and_left_alone() {
    let (root, reps) = reports();
    let path = root.dir.path().join("emissions.csv");
    std::fs::write(&path, "timestamp,duration\n1,2\n").unwrap();
    let err = EmissionsCsv::append(&path, &reps[0]).unwrap_err();
    assert!(matches!(err, EnergyError::CsvHeader { .. }), "{err}");
    assert!(err.to_string().contains("emissions.csv"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "timestamp,duration\n1,2\n"
    );

    let torn = format!("{}\n2024-01-01T00:00:00Z,proj", HEADER.join(","));
    std::fs::write(&path, &torn).unwrap();
    assert!(matches!(
        EmissionsCsv::append(&path, &reps[0]),
        Err(EnergyError::Parse { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), torn);
}

#[test]
fn appending_replaces_the_file_instead_of_writing_into_it() {
    let (root, reps) = reports();
    let dir = root.dir.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("emissions.csv");
    EmissionsCsv::append(&path, &reps[0]).unwrap();
    let before = std::fs::metadata(&path).unwrap().ino();
    // A temporary file left by a writer that crashed must not disturb the next append.
    std::fs::write(dir.join(".emissions.csv.999999.tmp"), "garbage").unwrap();
    EmissionsCsv::append_rows(&path, &reps).unwrap();
    let after = std::fs::metadata(&path).unwrap().ino();
    assert_ne!(
        before, after,
        "the old file is replaced by rename, never modified in place"
    );
    assert_eq!(EmissionsCsv::read(&path).unwrap().len(), 3);
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && !n.contains("999999"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn concurrent_appends_lose_no_row() {
    let (root, reps) = reports();
    let path = root.dir.path().join("emissions.csv");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    EmissionsCsv::append(&path, &reps[0]).unwrap();
                }
            });
        }
    });
    assert_eq!(EmissionsCsv::read(&path).unwrap().len(), 20);
}
