//! Storage URLs: which backend, and where.

use std::path::PathBuf;

use super::{Storage, StorageError};

/// A parsed storage location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A SQLite database file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgresql://user@host:port/db`).
    Postgres(String),
}

impl StorageUrl {
    /// Parses `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite:path.db`, a plain path,
    /// or `postgresql://...` / `postgres://...`.
    pub fn parse(url: &str) -> Result<StorageUrl, StorageError> {
        let bad = |problem: &str| StorageError::Url {
            url: url.to_string(),
            problem: problem.to_string(),
        };
        let u = url.trim();
        if u.is_empty() {
            return Err(bad("empty storage URL"));
        }
        if u.starts_with("postgresql://") || u.starts_with("postgres://") {
            return Ok(StorageUrl::Postgres(u.to_string()));
        }
        let path = if let Some(rest) = u.strip_prefix("sqlite://") {
            // sqlite:///abs/path keeps its leading slash; sqlite://rel/path is relative
            rest
        } else if let Some(rest) = u.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = u.split_once("://") {
            return Err(bad(&format!(
                "unknown scheme '{scheme}' (expected sqlite:///path/study.db, a plain path, or postgresql://user@host:port/db)"
            )));
        } else {
            u
        };
        if path.is_empty() {
            return Err(bad("no database file after 'sqlite://'"));
        }
        Ok(StorageUrl::Sqlite(PathBuf::from(path)))
    }
}

/// Opens (and, for a new SQLite file or an empty PostgreSQL database, initialises) the storage
/// at `url`.
pub fn open(url: &str) -> Result<Box<dyn Storage>, StorageError> {
    match StorageUrl::parse(url)? {
        #[cfg(feature = "sqlite")]
        StorageUrl::Sqlite(path) => Ok(Box::new(super::sqlite::SqliteStorage::open(url, &path)?)),
        #[cfg(not(feature = "sqlite"))]
        StorageUrl::Sqlite(_) => Err(StorageError::Url {
            url: url.to_string(),
            problem: "this build has no SQLite support (shift-automl feature 'sqlite')".into(),
        }),
        #[cfg(feature = "postgres")]
        StorageUrl::Postgres(conn) => Ok(Box::new(super::postgres::PgStorage::open(url, &conn)?)),
        #[cfg(not(feature = "postgres"))]
        StorageUrl::Postgres(_) => Err(StorageError::Url {
            url: url.to_string(),
            problem: "this build has no PostgreSQL support (build with the 'postgres' feature)"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let p = |s: &str| StorageUrl::parse(s).unwrap();
        assert_eq!(
            p("sqlite:///tmp/a.db"),
            StorageUrl::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(p("sqlite://a.db"), StorageUrl::Sqlite("a.db".into()));
        assert_eq!(p("study.db"), StorageUrl::Sqlite("study.db".into()));
        assert_eq!(
            p("postgresql://u@h:5432/d"),
            StorageUrl::Postgres("postgresql://u@h:5432/d".into())
        );
        assert!(StorageUrl::parse("mysql://x").is_err());
        assert!(StorageUrl::parse("").is_err());
        assert!(StorageUrl::parse("sqlite://").is_err());
    }
}
