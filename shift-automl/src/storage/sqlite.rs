//! The embedded backend: one SQLite file, in WAL mode, shared by any number of processes on
//! one machine (not over NFS: SQLite's locks need a local file system; use PostgreSQL there).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::columns::{self, TrialRow, TRIAL_COLUMNS};
use super::record::{NewStudy, Provenance, StoredTrial, StudyRecord, TrialState};
use super::{Storage, StorageError, StudyTx, SCHEMA_VERSION};
use crate::scheduler::Event;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hpo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hpo_studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    space_json TEXT NOT NULL,
    method TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    provenance_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hpo_trials (
    study_id INTEGER NOT NULL REFERENCES hpo_studies(id),
    number INTEGER NOT NULL,
    state TEXT NOT NULL,
    config_json TEXT NOT NULL,
    budget REAL NOT NULL,
    parent INTEGER,
    seed INTEGER NOT NULL,
    objectives_json TEXT,
    metadata_json TEXT NOT NULL,
    error TEXT,
    attempt INTEGER NOT NULL,
    worker TEXT,
    asked_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    provenance_json TEXT,
    lost_json TEXT NOT NULL,
    PRIMARY KEY (study_id, number)
);
CREATE INDEX IF NOT EXISTS hpo_trials_state ON hpo_trials(study_id, state);
CREATE TABLE IF NOT EXISTS hpo_events (
    study_id INTEGER NOT NULL REFERENCES hpo_studies(id),
    seq INTEGER NOT NULL,
    event_json TEXT NOT NULL,
    PRIMARY KEY (study_id, seq)
);
";

/// A SQLite study database.
pub struct SqliteStorage {
    url: String,
    conn: Connection,
}

fn backend<'a>(url: &'a str, what: &str) -> impl Fn(rusqlite::Error) -> StorageError + 'a {
    let what = what.to_string();
    move |e| StorageError::Backend {
        url: url.to_string(),
        problem: format!("{what}: {e}"),
    }
}

impl SqliteStorage {
    /// Opens `path` (creating the file and tables when missing) and checks the schema version.
    pub fn open(url: &str, path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(StorageError::Url {
                    url: url.to_string(),
                    problem: format!("folder {} does not exist", dir.display()),
                });
            }
        }
        let mut conn = Connection::open(path).map_err(backend(url, "opening the database"))?;
        // Writers queue on the lock instead of failing: a worker may hold it while its method
        // proposes (a GP fit), which takes well under this.
        conn.busy_timeout(Duration::from_secs(120))
            .map_err(backend(url, "setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend(url, "switching to WAL"))?;
        // FULL: a committed trial also survives a power cut, not only a killed process
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend(url, "setting synchronous"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend(url, "locking the database"))?;
        tx.execute_batch(SCHEMA)
            .map_err(backend(url, "creating the tables"))?;
        let found: Option<String> = tx
            .query_row(
                "SELECT value FROM hpo_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend(url, "reading the schema version"))?;
        match found {
            None => {
                tx.execute(
                    "INSERT INTO hpo_meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(backend(url, "writing the schema version"))?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => {
                return Err(StorageError::Schema {
                    url: url.to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
        }
        tx.commit().map_err(backend(url, "initialising"))?;
        Ok(SqliteStorage {
            url: url.to_string(),
            conn,
        })
    }
}

fn study_id(conn: &Connection, url: &str, name: &str) -> Result<i64, StorageError> {
    let id: Option<i64> = conn
        .query_row("SELECT id FROM hpo_studies WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend(url, "looking up the study"))?;
    match id {
        Some(id) => Ok(id),
        None => {
            let mut names = Vec::new();
            if let Ok(mut st) = conn.prepare("SELECT name FROM hpo_studies ORDER BY name") {
                if let Ok(rows) = st.query_map([], |r| r.get::<_, String>(0)) {
                    names = rows.flatten().collect();
                }
            }
            Err(super::no_study(url, name, &names))
        }
    }
}

fn trial_row(r: &Row<'_>) -> rusqlite::Result<TrialRow> {
    Ok(TrialRow {
        number: r.get(0)?,
        state: r.get(1)?,
        config_json: r.get(2)?,
        budget: r.get(3)?,
        parent: r.get(4)?,
        seed: r.get(5)?,
        objectives_json: r.get(6)?,
        metadata_json: r.get(7)?,
        error: r.get(8)?,
        attempt: r.get(9)?,
        worker: r.get(10)?,
        asked_at: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
        heartbeat_at: r.get(14)?,
        provenance_json: r.get(15)?,
        lost_json: r.get(16)?,
    })
}

fn read_trials(
    conn: &Connection,
    url: &str,
    study: &str,
    id: i64,
    state: Option<TrialState>,
) -> Result<Vec<StoredTrial>, StorageError> {
    let sql = format!(
        "SELECT {TRIAL_COLUMNS} FROM hpo_trials WHERE study_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY number"
    );
    let mut st = conn.prepare(&sql).map_err(backend(url, "reading trials"))?;
    let rows = st
        .query_map(params![id, state.map(TrialState::as_str)], trial_row)
        .map_err(backend(url, "reading trials"))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(backend(url, "reading trials"))?;
        out.push(row.into_trial().map_err(|problem| StorageError::Corrupt {
            url: url.to_string(),
            study: study.to_string(),
            problem,
        })?);
    }
    Ok(out)
}

fn write_trial(
    conn: &Connection,
    url: &str,
    id: i64,
    t: &StoredTrial,
    insert: bool,
) -> Result<(), StorageError> {
    let r = TrialRow::from_trial(t);
    let sql = if insert {
        format!(
            "INSERT INTO hpo_trials (study_id, {TRIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        )
    } else {
        "UPDATE hpo_trials SET state = ?3, config_json = ?4, budget = ?5, parent = ?6, seed = ?7, \
         objectives_json = ?8, metadata_json = ?9, error = ?10, attempt = ?11, worker = ?12, \
         asked_at = ?13, started_at = ?14, finished_at = ?15, heartbeat_at = ?16, \
         provenance_json = ?17, lost_json = ?18 WHERE study_id = ?1 AND number = ?2"
            .to_string()
    };
    let n = conn
        .execute(
            &sql,
            params![
                id,
                r.number,
                r.state,
                r.config_json,
                r.budget,
                r.parent,
                r.seed,
                r.objectives_json,
                r.metadata_json,
                r.error,
                r.attempt,
                r.worker,
                r.asked_at,
                r.started_at,
                r.finished_at,
                r.heartbeat_at,
                r.provenance_json,
                r.lost_json
            ],
        )
        .map_err(backend(url, &format!("writing trial {}", t.number)))?;
    if n != 1 {
        return Err(StorageError::Backend {
            url: url.to_string(),
            problem: format!("trial {} has no row to update", t.number),
        });
    }
    Ok(())
}

impl Storage for SqliteStorage {
    fn url(&self) -> &str {
        &self.url
    }

    fn create_study(&mut self, s: &NewStudy) -> Result<(), StorageError> {
        let url = self.url.as_str();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend(url, "locking the database"))?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM hpo_studies WHERE name = ?1",
                [&s.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend(url, "looking up the study"))?;
        if exists.is_some() {
            return Err(StorageError::StudyExists {
                url: url.to_string(),
                study: s.name.clone(),
            });
        }
        tx.execute(
            "INSERT INTO hpo_studies (name, space_json, method, settings_json, created_at, provenance_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                s.name,
                s.space_json,
                s.method,
                columns::settings_json(&s.settings),
                super::unix_now(),
                columns::provenance_json(&s.provenance)
            ],
        )
        .map_err(backend(url, "creating the study"))?;
        tx.commit().map_err(backend(url, "creating the study"))
    }

    fn study_names(&mut self) -> Result<Vec<String>, StorageError> {
        let url = self.url.as_str();
        let mut st = self
            .conn
            .prepare("SELECT name FROM hpo_studies ORDER BY name")
            .map_err(backend(url, "listing studies"))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(backend(url, "listing studies"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(backend(url, "listing studies"))
    }

    fn load_study(&mut self, name: &str) -> Result<StudyRecord, StorageError> {
        let url = self.url.as_str();
        // one read transaction: the study and its trials as of one instant
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(backend(url, "starting a read"))?;
        let id = study_id(&tx, url, name)?;
        let (space_json, method, settings, created_at, prov): (String, String, String, f64, String) = tx
            .query_row(
                "SELECT space_json, method, settings_json, created_at, provenance_json FROM hpo_studies WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map_err(backend(url, "reading the study"))?;
        let corrupt = |problem: String| StorageError::Corrupt {
            url: url.to_string(),
            study: name.to_string(),
            problem,
        };
        let trials = read_trials(&tx, url, name, id, None)?;
        Ok(StudyRecord {
            name: name.to_string(),
            schema_version: SCHEMA_VERSION,
            space_json,
            method,
            settings: columns::parse_settings(&settings).map_err(corrupt)?,
            created_at,
            provenance: columns::parse_provenance(&prov).map_err(corrupt)?,
            trials,
        })
    }

    fn begin<'a>(&'a mut self, study: &str) -> Result<Box<dyn StudyTx + 'a>, StorageError> {
        let url = self.url.as_str();
        // IMMEDIATE takes the write lock now, so two workers can never both read the same
        // state and then both act on it
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend(url, "locking the database"))?;
        let id = study_id(&tx, url, study)?;
        Ok(Box::new(SqliteTx {
            tx,
            url,
            study: study.to_string(),
            id,
        }))
    }

    fn heartbeat(
        &mut self,
        study: &str,
        number: u64,
        worker: &str,
        now: f64,
    ) -> Result<bool, StorageError> {
        let url = self.url.as_str();
        let id = study_id(&self.conn, url, study)?;
        let n = self
            .conn
            .execute(
                "UPDATE hpo_trials SET heartbeat_at = ?1 WHERE study_id = ?2 AND number = ?3 AND worker = ?4 AND state = 'running'",
                params![now, id, number as i64, worker],
            )
            .map_err(backend(url, "writing a heartbeat"))?;
        Ok(n == 1)
    }
}

struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    url: &'a str,
    study: String,
    id: i64,
}

impl StudyTx for SqliteTx<'_> {
    fn trials(&mut self, state: Option<TrialState>) -> Result<Vec<StoredTrial>, StorageError> {
        read_trials(&self.tx, self.url, &self.study, self.id, state)
    }

    fn trial_count(&mut self) -> Result<u64, StorageError> {
        let n: i64 = self
            .tx
            .query_row(
                "SELECT COUNT(*) FROM hpo_trials WHERE study_id = ?1",
                [self.id],
                |r| r.get(0),
            )
            .map_err(backend(self.url, "counting trials"))?;
        Ok(n as u64)
    }

    fn events_after(&mut self, seq: u64) -> Result<Vec<(u64, Event)>, StorageError> {
        let url = self.url;
        let mut st = self
            .tx
            .prepare("SELECT seq, event_json FROM hpo_events WHERE study_id = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(backend(url, "reading events"))?;
        let rows = st
            .query_map(params![self.id, seq as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend(url, "reading events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, text) = row.map_err(backend(url, "reading events"))?;
            let e = columns::parse_event(s, &text).map_err(|problem| StorageError::Corrupt {
                url: url.to_string(),
                study: self.study.clone(),
                problem,
            })?;
            out.push((s as u64, e));
        }
        Ok(out)
    }

    fn append_event(&mut self, event: &Event) -> Result<u64, StorageError> {
        let next: i64 = self
            .tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM hpo_events WHERE study_id = ?1",
                [self.id],
                |r| r.get(0),
            )
            .map_err(backend(self.url, "numbering an event"))?;
        self.tx
            .execute(
                "INSERT INTO hpo_events (study_id, seq, event_json) VALUES (?1, ?2, ?3)",
                params![self.id, next, columns::event_json(event)],
            )
            .map_err(backend(self.url, "writing an event"))?;
        Ok(next as u64)
    }

    fn claim_waiting(
        &mut self,
        worker: &str,
        provenance: &Provenance,
        now: f64,
    ) -> Result<Option<StoredTrial>, StorageError> {
        // the IMMEDIATE transaction already excludes every other writer
        let Some(mut t) = read_trials(
            &self.tx,
            self.url,
            &self.study,
            self.id,
            Some(TrialState::Waiting),
        )?
        .into_iter()
        .next() else {
            return Ok(None);
        };
        super::record::start_run(&mut t, worker, provenance, now);
        write_trial(&self.tx, self.url, self.id, &t, false)?;
        Ok(Some(t))
    }

    fn insert_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError> {
        write_trial(&self.tx, self.url, self.id, trial, true)
    }

    fn update_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError> {
        write_trial(&self.tx, self.url, self.id, trial, false)
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let url = self.url;
        self.tx.commit().map_err(backend(url, "committing"))
    }
}
