//! Study files: the SQLite database of `deepshift hpo run/resume/status --storage FILE`. The
//! bytes become the database file, which is opened as the CLI opens it
//! (`storage::open`: schema version, tables), and every study in it is loaded and joined by a
//! worker that replays its stored history (`Worker::open` + `sync`: settings, space JSON,
//! trial rows, event log), as `resume` and `status` do.
//!
//! SQLite reads only from a file, so each input is written to one file in memory-backed
//! `/dev/shm` (a byte-level entry point would need unsafe `sqlite3_deserialize` code in
//! shift-automl, used by nothing but this target).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shift_automl::storage;
use shift_automl::study::Worker;

fn db_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("deepshift-fuzz-study-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the fuzz folder");
        dir.join("study.db")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = db_path();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    std::fs::write(path, data).expect("writing the input file");
    let url = path.display().to_string();
    let mut store = match storage::open(&url) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let names = match store.study_names() {
        Ok(n) => n,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    drop(store);
    for name in names.iter().take(4) {
        let Ok(store) = storage::open(&url) else {
            return;
        };
        match Worker::open(store, name, "deepshift-fuzz") {
            Ok(mut worker) => {
                if let Err(e) = worker.sync() {
                    let _ = e.to_string();
                }
                if let Err(e) = worker.load() {
                    let _ = e.to_string();
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
