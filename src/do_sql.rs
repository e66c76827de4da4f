//! Small helpers for Durable Object SQLite storage, shared by the objects' glue.

use worker::{Result, SqlStorage, SqlStorageValue};

use crate::counters::SqlValue;

/// A pure storage op's parameter as a binding value.
pub fn to_sql(value: SqlValue) -> SqlStorageValue {
    match value {
        SqlValue::Integer(i) => SqlStorageValue::Integer(i),
        SqlValue::Text(s) => SqlStorageValue::String(s),
    }
}

/// Every row of a query, as raw values.
pub fn rows(
    sql: &SqlStorage,
    query: &str,
    params: impl Into<Option<Vec<SqlStorageValue>>>,
) -> Result<Vec<Vec<SqlStorageValue>>> {
    sql.exec(query, params)?.raw().collect()
}

pub fn text_at(row: &[SqlStorageValue], i: usize) -> Option<String> {
    match row.get(i) {
        Some(SqlStorageValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// SQLite integers may come back as JS numbers (floats) through the binding.
pub fn int_at(row: &[SqlStorageValue], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(SqlStorageValue::Integer(v)) => Some(*v),
        Some(SqlStorageValue::Float(v)) => Some(*v as i64),
        _ => None,
    }
}
