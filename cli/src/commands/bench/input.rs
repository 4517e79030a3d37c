//! The benchmark's input files: generated rows, or a given migration CSV (e.g. the reference
//! input of `../shared/bench/gen_migration_csv.py`), and a copy of either with every tenth row's
//! `name` changed (the "10 % changed" phase).

use std::io::Write;
use std::path::Path;

/// Writes N generated rows: `PRODUCT#BENCH`, four attributes, one exact 38-digit number.
pub fn generate(path: &Path, rows: u64, changed_every: Option<u64>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "sourcePk,sourceSk,code,name,attributes,targetTenantCode"
    )?;
    for i in 1..=rows {
        let name = match changed_every {
            Some(n) if i % n == 0 => format!("Product {i} (v2)"),
            _ => format!("Product {i}"),
        };
        writeln!(
            out,
            "PRODUCT#BENCH,P{i:08},P{i:08},\"{name}\",\"{{\"\"price\"\":{}.25,\"\"stock\"\":{},\"\"category\"\":\"\"C{}\"\",\"\"serial\"\":9007199254740991}}\",bench",
            i % 1000,
            i % 97,
            i % 20
        )?;
    }
    out.flush()
}

/// Copies a migration CSV, streaming, with ` (v2)` appended to the `name` of every tenth row.
/// Returns the number of data rows.
pub fn copy_with_changes(from: &Path, to: &Path, every: u64) -> Result<u64, String> {
    let err = |e: csv::Error| format!("{}: {e}", from.display());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(from)
        .map_err(err)?;
    let headers = reader.headers().map_err(err)?.clone();
    let name = headers
        .iter()
        .position(|h| h == "name")
        .ok_or_else(|| format!("{}: no `name` column to change", from.display()))?;
    let mut writer = csv::Writer::from_path(to).map_err(|e| format!("{}: {e}", to.display()))?;
    writer
        .write_record(&headers)
        .map_err(|e| format!("{}: {e}", to.display()))?;
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    while reader.read_record(&mut record).map_err(err)? {
        rows += 1;
        if rows.is_multiple_of(every) {
            let changed: Vec<String> = record
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if i == name {
                        format!("{f} (v2)")
                    } else {
                        f.to_string()
                    }
                })
                .collect();
            writer.write_record(&changed)
        } else {
            writer.write_record(&record)
        }
        .map_err(|e| format!("{}: {e}", to.display()))?;
    }
    writer
        .flush()
        .map_err(|e| format!("{}: {e}", to.display()))?;
    Ok(rows)
}
