//! Strict RFC 4180 quoting check of one raw record.
//!
//! The csv crate is lenient: `a,"b"c,d` or a quote inside an unquoted field are accepted and
//! silently reinterpreted. A migration must not guess, so each record's raw bytes are checked
//! here and a record with broken quoting is rejected with the field that breaks it.

/// `raw` is one record including its line terminator (if any). Returns the 1-based field
/// number and the reason of the first quoting error.
pub(super) fn check(raw: &[u8]) -> Result<(), (usize, &'static str)> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let n = raw.len();
    let mut i = 0;
    let mut field = 1;
    loop {
        if i < n && raw[i] == b'"' {
            i += 1;
            loop {
                // The next quote: a doubled one, or the closing one.
                match memchr::memchr(b'"', &raw[i..]) {
                    None => {
                        return Err((field, "quoted field is not closed (missing closing quote)"));
                    }
                    Some(at) => i += at,
                }
                if i + 1 < n && raw[i + 1] == b'"' {
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            if i < n && raw[i] != b',' {
                return Err((
                    field,
                    "text after a closing quote (a quote inside a quoted field must be doubled)",
                ));
            }
        } else {
            // The field ends at the next comma; a quote before it is an error.
            match memchr::memchr2(b',', b'"', &raw[i..]) {
                Some(at) if raw[i + at] == b'"' => {
                    return Err((
                        field,
                        "quote inside an unquoted field (quote the field and double the quote)",
                    ));
                }
                Some(at) => i += at,
                None => i = n,
            }
        }
        if i >= n {
            return Ok(());
        }
        i += 1;
        field += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_rfc4180() {
        for ok in [
            &b"a,b,c\n"[..],
            b"\"a,b\",\"c\"\"d\",\r\n",
            b"\"multi\nline\",x",
            b"",
            b",,",
            b"\"\"",
        ] {
            assert_eq!(check(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn rejects_broken_quoting() {
        assert_eq!(check(b"a,\"b\"c,d\n").map_err(|e| e.0), Err(2));
        assert_eq!(check(b"a,b\"c\n").map_err(|e| e.0), Err(2));
        assert_eq!(check(b"a,\"open\n").map_err(|e| e.0), Err(2));
    }
}
