//! The RDS step of the tenant migration guide: the SQL that lowercases `tenant_code` in the app's
//! read-model tables for the tenants a normalize job migrated. The pipeline does not connect to
//! RDS; the report holds the statements, ready to run (README: when).

use serde::Serialize;

use crate::error::Error;

/// A table name as the job names it: `table` or `schema.table`, plain identifiers only (the
/// name goes into SQL text, so nothing that could quote or end a statement).
pub fn check_table_name(name: &str) -> Result<(), Error> {
    let ident = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| ident(p)) {
        return Err(Error::invalid(format!(
            "job document: rdsTables: {name:?} is not a table name (letters, digits, '_', optionally schema.table)"
        )));
    }
    Ok(())
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The statements for one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RdsStatements {
    pub table: String,
    /// How many rows the update will change (run it first, and again after: 0).
    pub count: String,
    pub update: String,
}

/// For each table: the count and the update of the rows of `tenants` whose code is not lowercase.
pub fn statements(tables: &[String], tenants: &[String]) -> Vec<RdsStatements> {
    let mut tenants: Vec<&String> = tenants.iter().collect();
    tenants.sort();
    tenants.dedup();
    let list = tenants
        .iter()
        .map(|t| literal(t))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = format!("tenant_code <> LOWER(tenant_code) AND tenant_code IN ({list})");
    tables
        .iter()
        .map(|table| RdsStatements {
            table: table.clone(),
            count: format!("SELECT COUNT(*) FROM {table} WHERE {filter};"),
            update: format!("UPDATE {table} SET tenant_code = LOWER(tenant_code) WHERE {filter};"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_tenants_and_quote_them() {
        let sql = statements(&["app.products".into()], &["MY_T".into(), "O'K".into()]);
        assert_eq!(
            sql[0].update,
            "UPDATE app.products SET tenant_code = LOWER(tenant_code) WHERE tenant_code <> LOWER(tenant_code) AND tenant_code IN ('MY_T', 'O''K');"
        );
        assert!(
            sql[0]
                .count
                .starts_with("SELECT COUNT(*) FROM app.products WHERE")
        );
        assert!(check_table_name("products").is_ok());
        assert!(check_table_name("app.products").is_ok());
        for bad in ["", "a;drop table x", "a.b.c", "1abc", "t\"x", "a b"] {
            assert!(check_table_name(bad).is_err(), "{bad:?}");
        }
    }
}
