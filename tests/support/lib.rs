//! Shared support for the cross-crate tests: the port contract suites (run against every
//! adapter) and helpers to build CSVs and pipelines.

pub mod contract;
pub mod faults;
pub mod infra;
pub mod local;
pub mod moto;
pub mod spy;

use std::fmt::Write;

/// A migration CSV with `n` rows `PRODUCT#SRC` → tenant `dst`; `name_of(i)` picks each name.
pub fn products_csv(n: usize, dst: &str, name_of: impl Fn(usize) -> String) -> String {
    let mut out = String::from("sourcePk,sourceSk,code,name,attributes,targetTenantCode\n");
    for i in 1..=n {
        let _ = writeln!(
            out,
            "PRODUCT#SRC,P{i:06},P{i:06},{},\"{{\"\"price\"\":{}.5,\"\"big\"\":9007199254740991}}\",{dst}",
            name_of(i),
            i
        );
    }
    out
}
