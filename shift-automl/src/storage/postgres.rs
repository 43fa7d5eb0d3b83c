//! The server backend: PostgreSQL, for workers on several machines. A transaction takes the
//! study's row `FOR UPDATE`, so asks and tells of all workers are serialised per study;
//! waiting trials are claimed with `FOR UPDATE SKIP LOCKED`.

use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row};

use super::columns::{self, TrialRow, TRIAL_COLUMNS};
use super::record::{NewStudy, Provenance, StoredTrial, StudyRecord, TrialState};
use super::{Storage, StorageError, StudyTx, SCHEMA_VERSION};
use crate::scheduler::Event;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hpo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hpo_studies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    space_json TEXT NOT NULL,
    method TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    provenance_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hpo_trials (
    study_id BIGINT NOT NULL REFERENCES hpo_studies(id),
    number BIGINT NOT NULL,
    state TEXT NOT NULL,
    config_json TEXT NOT NULL,
    budget DOUBLE PRECISION NOT NULL,
    parent BIGINT,
    seed BIGINT NOT NULL,
    objectives_json TEXT,
    metadata_json TEXT NOT NULL,
    error TEXT,
    attempt BIGINT NOT NULL,
    worker TEXT,
    asked_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    heartbeat_at DOUBLE PRECISION,
    provenance_json TEXT,
    lost_json TEXT NOT NULL,
    PRIMARY KEY (study_id, number)
);
CREATE INDEX IF NOT EXISTS hpo_trials_state ON hpo_trials(study_id, state);
CREATE TABLE IF NOT EXISTS hpo_events (
    study_id BIGINT NOT NULL REFERENCES hpo_studies(id),
    seq BIGINT NOT NULL,
    event_json TEXT NOT NULL,
    PRIMARY KEY (study_id, seq)
);
";

/// Key of the advisory lock that serialises creating the tables (concurrent `CREATE TABLE IF
/// NOT EXISTS` can collide in PostgreSQL's catalogue).
const INIT_LOCK: i64 = 0x6470_5f68_706f;

/// A PostgreSQL study database.
pub struct PgStorage {
    url: String,
    client: Client,
}

fn backend<'a>(url: &'a str, what: &str) -> impl Fn(postgres::Error) -> StorageError + 'a {
    let what = what.to_string();
    move |e| StorageError::Backend {
        url: url.to_string(),
        problem: format!("{what}: {e}"),
    }
}

impl PgStorage {
    /// Connects (without TLS: use a trusted network or an SSH tunnel) and creates the tables
    /// when missing.
    pub fn open(url: &str, conn: &str) -> Result<Self, StorageError> {
        let mut client = Client::connect(conn, NoTls).map_err(backend(url, "connecting"))?;
        let mut tx = client
            .transaction()
            .map_err(backend(url, "starting a transaction"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INIT_LOCK])
            .map_err(backend(url, "locking the schema"))?;
        tx.batch_execute(SCHEMA)
            .map_err(backend(url, "creating the tables"))?;
        let found = tx
            .query_opt(
                "SELECT value FROM hpo_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(backend(url, "reading the schema version"))?
            .map(|r| r.get::<_, String>(0));
        match found {
            None => {
                tx.execute(
                    "INSERT INTO hpo_meta (key, value) VALUES ('schema_version', $1)",
                    &[&SCHEMA_VERSION.to_string()],
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
        Ok(PgStorage {
            url: url.to_string(),
            client,
        })
    }
}

fn study_id(
    c: &mut impl GenericClient,
    url: &str,
    name: &str,
    lock: bool,
) -> Result<i64, StorageError> {
    let sql = if lock {
        "SELECT id FROM hpo_studies WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT id FROM hpo_studies WHERE name = $1"
    };
    let row = c
        .query_opt(sql, &[&name])
        .map_err(backend(url, "looking up the study"))?;
    match row {
        Some(r) => Ok(r.get(0)),
        None => {
            let names: Vec<String> = c
                .query("SELECT name FROM hpo_studies ORDER BY name", &[])
                .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                .unwrap_or_default();
            Err(super::no_study(url, name, &names))
        }
    }
}

fn trial_row(r: &Row) -> TrialRow {
    TrialRow {
        number: r.get(0),
        state: r.get(1),
        config_json: r.get(2),
        budget: r.get(3),
        parent: r.get(4),
        seed: r.get(5),
        objectives_json: r.get(6),
        metadata_json: r.get(7),
        error: r.get(8),
        attempt: r.get(9),
        worker: r.get(10),
        asked_at: r.get(11),
        started_at: r.get(12),
        finished_at: r.get(13),
        heartbeat_at: r.get(14),
        provenance_json: r.get(15),
        lost_json: r.get(16),
    }
}

fn read_trials(
    c: &mut impl GenericClient,
    url: &str,
    study: &str,
    id: i64,
    state: Option<TrialState>,
) -> Result<Vec<StoredTrial>, StorageError> {
    let sql = format!(
        "SELECT {TRIAL_COLUMNS} FROM hpo_trials WHERE study_id = $1 AND ($2::TEXT IS NULL OR state = $2) ORDER BY number"
    );
    let state = state.map(|s| s.as_str().to_string());
    let rows = c
        .query(&sql, &[&id, &state])
        .map_err(backend(url, "reading trials"))?;
    rows.iter()
        .map(|r| {
            trial_row(r)
                .into_trial()
                .map_err(|problem| StorageError::Corrupt {
                    url: url.to_string(),
                    study: study.to_string(),
                    problem,
                })
        })
        .collect()
}

fn write_trial(
    c: &mut impl GenericClient,
    url: &str,
    id: i64,
    t: &StoredTrial,
    insert: bool,
) -> Result<(), StorageError> {
    let r = TrialRow::from_trial(t);
    let sql = if insert {
        format!(
            "INSERT INTO hpo_trials (study_id, {TRIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        )
    } else {
        "UPDATE hpo_trials SET state = $3, config_json = $4, budget = $5, parent = $6, seed = $7, \
         objectives_json = $8, metadata_json = $9, error = $10, attempt = $11, worker = $12, \
         asked_at = $13, started_at = $14, finished_at = $15, heartbeat_at = $16, \
         provenance_json = $17, lost_json = $18 WHERE study_id = $1 AND number = $2"
            .to_string()
    };
    let n = c
        .execute(
            &sql,
            &[
                &id,
                &r.number,
                &r.state,
                &r.config_json,
                &r.budget,
                &r.parent,
                &r.seed,
                &r.objectives_json,
                &r.metadata_json,
                &r.error,
                &r.attempt,
                &r.worker,
                &r.asked_at,
                &r.started_at,
                &r.finished_at,
                &r.heartbeat_at,
                &r.provenance_json,
                &r.lost_json,
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

impl Storage for PgStorage {
    fn url(&self) -> &str {
        &self.url
    }

    fn create_study(&mut self, s: &NewStudy) -> Result<(), StorageError> {
        let url = self.url.as_str();
        let n = self
            .client
            .execute(
                "INSERT INTO hpo_studies (name, space_json, method, settings_json, created_at, provenance_json) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
                &[
                    &s.name,
                    &s.space_json,
                    &s.method,
                    &columns::settings_json(&s.settings),
                    &super::unix_now(),
                    &columns::provenance_json(&s.provenance),
                ],
            )
            .map_err(backend(url, "creating the study"))?;
        if n == 0 {
            return Err(StorageError::StudyExists {
                url: url.to_string(),
                study: s.name.clone(),
            });
        }
        Ok(())
    }

    fn study_names(&mut self) -> Result<Vec<String>, StorageError> {
        let url = self.url.as_str();
        let rows = self
            .client
            .query("SELECT name FROM hpo_studies ORDER BY name", &[])
            .map_err(backend(url, "listing studies"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn load_study(&mut self, name: &str) -> Result<StudyRecord, StorageError> {
        let url = self.url.as_str();
        // one snapshot for the study and all its trials
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(backend(url, "starting a read"))?;
        let id = study_id(&mut tx, url, name, false)?;
        let r = tx
            .query_one(
                "SELECT space_json, method, settings_json, created_at, provenance_json FROM hpo_studies WHERE id = $1",
                &[&id],
            )
            .map_err(backend(url, "reading the study"))?;
        let corrupt = |problem: String| StorageError::Corrupt {
            url: url.to_string(),
            study: name.to_string(),
            problem,
        };
        let settings: String = r.get(2);
        let prov: String = r.get(4);
        let trials = read_trials(&mut tx, url, name, id, None)?;
        tx.commit().map_err(backend(url, "ending a read"))?;
        Ok(StudyRecord {
            name: name.to_string(),
            schema_version: SCHEMA_VERSION,
            space_json: r.get(0),
            method: r.get(1),
            settings: columns::parse_settings(&settings).map_err(corrupt)?,
            created_at: r.get(3),
            provenance: columns::parse_provenance(&prov).map_err(corrupt)?,
            trials,
        })
    }

    fn begin<'a>(&'a mut self, study: &str) -> Result<Box<dyn StudyTx + 'a>, StorageError> {
        let url = self.url.as_str();
        let mut tx = self
            .client
            .transaction()
            .map_err(backend(url, "starting a transaction"))?;
        // the study's row lock serialises every state change of the study across workers
        let id = study_id(&mut tx, url, study, true)?;
        Ok(Box::new(PgTx {
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
        let n = self
            .client
            .execute(
                "UPDATE hpo_trials SET heartbeat_at = $1 WHERE study_id = (SELECT id FROM hpo_studies WHERE name = $2) \
                 AND number = $3 AND worker = $4 AND state = 'running'",
                &[&now, &study, &(number as i64), &worker],
            )
            .map_err(backend(url, "writing a heartbeat"))?;
        Ok(n == 1)
    }
}

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    url: &'a str,
    study: String,
    id: i64,
}

impl StudyTx for PgTx<'_> {
    fn trials(&mut self, state: Option<TrialState>) -> Result<Vec<StoredTrial>, StorageError> {
        read_trials(&mut self.tx, self.url, &self.study, self.id, state)
    }

    fn trial_count(&mut self) -> Result<u64, StorageError> {
        let r = self
            .tx
            .query_one(
                "SELECT COUNT(*) FROM hpo_trials WHERE study_id = $1",
                &[&self.id],
            )
            .map_err(backend(self.url, "counting trials"))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn events_after(&mut self, seq: u64) -> Result<Vec<(u64, Event)>, StorageError> {
        let rows = self
            .tx
            .query(
                "SELECT seq, event_json FROM hpo_events WHERE study_id = $1 AND seq > $2 ORDER BY seq",
                &[&self.id, &(seq as i64)],
            )
            .map_err(backend(self.url, "reading events"))?;
        rows.iter()
            .map(|r| {
                let s: i64 = r.get(0);
                let text: String = r.get(1);
                columns::parse_event(s, &text)
                    .map(|e| (s as u64, e))
                    .map_err(|problem| StorageError::Corrupt {
                        url: self.url.to_string(),
                        study: self.study.clone(),
                        problem,
                    })
            })
            .collect()
    }

    fn append_event(&mut self, event: &Event) -> Result<u64, StorageError> {
        let r = self
            .tx
            .query_one(
                "INSERT INTO hpo_events (study_id, seq, event_json) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2 FROM hpo_events WHERE study_id = $1 RETURNING seq",
                &[&self.id, &columns::event_json(event)],
            )
            .map_err(backend(self.url, "writing an event"))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn claim_waiting(
        &mut self,
        worker: &str,
        provenance: &Provenance,
        now: f64,
    ) -> Result<Option<StoredTrial>, StorageError> {
        let sql = format!(
            "SELECT {TRIAL_COLUMNS} FROM hpo_trials WHERE study_id = $1 AND state = 'waiting' \
             ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED"
        );
        let row = self
            .tx
            .query_opt(&sql, &[&self.id])
            .map_err(backend(self.url, "claiming a trial"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut t = trial_row(&row)
            .into_trial()
            .map_err(|problem| StorageError::Corrupt {
                url: self.url.to_string(),
                study: self.study.clone(),
                problem,
            })?;
        super::record::start_run(&mut t, worker, provenance, now);
        write_trial(&mut self.tx, self.url, self.id, &t, false)?;
        Ok(Some(t))
    }

    fn insert_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError> {
        write_trial(&mut self.tx, self.url, self.id, trial, true)
    }

    fn update_trial(&mut self, trial: &StoredTrial) -> Result<(), StorageError> {
        write_trial(&mut self.tx, self.url, self.id, trial, false)
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let url = self.url;
        self.tx.commit().map_err(backend(url, "committing"))
    }
}
