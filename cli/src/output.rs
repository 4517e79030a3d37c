//! Standard output of `migrate`: results go to stdout, one write per line. A closed pipe
//! (`migrate jobs | head`) ends the program quietly, as Unix tools do, instead of panicking
//! like `println!`; a value that cannot be encoded is an error, never an empty line.

use std::io::Write;

use serde::Serialize;

/// Writes `text` and a newline to stdout.
pub fn line(text: &str) {
    let mut body = String::with_capacity(text.len() + 1);
    body.push_str(text);
    body.push('\n');
    bytes(body.as_bytes());
}

/// Writes raw bytes to stdout (`migrate cat`).
pub fn bytes(body: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(body).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Writes a value as JSON (pretty or on one line).
pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    match text {
        Ok(text) => line(&text),
        Err(e) => {
            eprintln!("error: cannot encode the output as JSON: {e}");
            std::process::exit(1);
        }
    }
}
