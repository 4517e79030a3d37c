//! The bare-SQLite reference of `../shared/bench/README.md`, measured in the same process and
//! session as the pipeline so the two figures compare: WAL, synchronous=NORMAL, one transaction,
//! prepared statements, `items(pk, sk, item, PRIMARY KEY(pk, sk))`, each CSV row parsed (its
//! attributes with exact numbers) into a data-table-like JSON item, then SELECT by key and
//! INSERT.

use std::path::Path;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};

pub struct Baseline {
    pub seconds: f64,
    pub db_bytes: u64,
}

pub fn run(csv_path: &Path, db_path: &Path) -> Result<Baseline, String> {
    let started = Instant::now();
    let _ = std::fs::remove_file(db_path);
    let sql = |e: rusqlite::Error| format!("bare SQLite: {e}");
    let mut conn = Connection::open(db_path).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    conn.execute_batch(
        "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, item TEXT NOT NULL,
                             PRIMARY KEY (pk, sk))",
    )
    .map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    {
        let mut select = tx
            .prepare("SELECT item FROM items WHERE pk = ?1 AND sk = ?2")
            .map_err(sql)?;
        let mut insert = tx
            .prepare("INSERT INTO items (pk, sk, item) VALUES (?1, ?2, ?3)")
            .map_err(sql)?;
        let mut reader =
            csv::Reader::from_path(csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?;
        let headers = reader
            .headers()
            .map_err(|e| format!("{}: {e}", csv_path.display()))?
            .clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| format!("{}: no `{name}` column", csv_path.display()))
        };
        let (pk_at, sk_at, code_at, name_at, attributes_at, tenant_at) = (
            column("sourcePk")?,
            column("sourceSk")?,
            column("code")?,
            column("name")?,
            column("attributes")?,
            column("targetTenantCode")?,
        );
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| format!("{}: {e}", csv_path.display()))?
        {
            let field = |i: usize| record.get(i).unwrap_or("");
            let attributes = shared::value::attributes_from_json_str(field(attributes_at))
                .map_err(|e| format!("line {}: {e}", record.position().map_or(0, |p| p.line())))?;
            let pk = field(pk_at);
            let sk = field(sk_at);
            let item = serde_json::json!({
                "pk": pk, "sk": sk, "id": format!("{pk}#{sk}"), "code": field(code_at),
                "name": field(name_at), "tenantCode": field(tenant_at), "type": "PRODUCT",
                "version": 1, "isDeleted": false, "createdAt": "2026-01-01T00:00:00+00:00",
                "attributes": serde_json::from_str::<serde_json::Value>(
                    &shared::value::attributes_to_json_string(&attributes)
                ).unwrap_or_default(),
            })
            .to_string();
            let existing: Option<String> = select
                .query_row(params![pk, sk], |r| r.get(0))
                .optional()
                .map_err(sql)?;
            if existing.is_none() {
                insert.execute(params![pk, sk, item]).map_err(sql)?;
            }
        }
    }
    tx.commit().map_err(sql)?;
    drop(conn);
    Ok(Baseline {
        seconds: started.elapsed().as_secs_f64(),
        db_bytes: super::file_bytes(db_path),
    })
}
