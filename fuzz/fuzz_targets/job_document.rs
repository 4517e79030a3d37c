//! The job document parser on arbitrary text (an `incoming/*.job.json` upload, a console
//! start): it never panics, and a document it accepts validates into a job spec or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::job::JobDocument;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((_, document)) = JobDocument::parse_text(text) {
        let _ = document.validate();
    }
});
