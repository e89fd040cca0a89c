//! The parser's fast path: one pass over a flat JSON object, borrowing every string from the record.
//!
//! Transactions, metrics and activity events are almost always a flat object of plain strings, numbers and literals.
//! This scanner reads exactly that and nothing else: on anything it does not handle (an escape, a control or
//! invalid UTF-8 byte in a string, a nested object or array, a duplicate field, whitespace JSON does not allow,
//! any syntax error) it gives up and the record takes serde_json's path, which decides and words the error. So
//! both paths find the same fields with the same values on every record the fast path accepts, and everything
//! after (types, ranges, error texts) is shared. `parse_reference` runs the serde path alone; the property test
//! below and the `stream` fuzz target check that `parse` agrees with it on every input.

use super::{Found, Scalar, ScalarSeed, role};
use crate::config::Config;
use serde::de::DeserializeSeed;
use std::borrow::Cow;

/// Puts the configured fields of `record` (trimmed, non-empty) into `found` (fresh from [`Found::new`]); `None` to
/// take the serde path, with `found` partly filled.
///
/// The caller's `Found` rather than a returned one: the struct is a few hundred bytes, and under wasmtime every
/// move of it is a `memory.copy` call out of the module.
// Its own function, never inlined: inlined into `parse_with` (which LLVM does for wasm32, not natively) the scan's
// loops run in a 50 KB function and Cranelift spills their registers (-3.9 M instructions in the kernel bench).
#[inline(never)]
pub(super) fn scan<'a>(config: &Config, record: &'a [u8], found: &mut Found<'a>) -> Option<()> {
    if record.first() != Some(&b'{') {
        return None;
    }
    let mut i = skip_ws(record, 1);
    if record.get(i) == Some(&b'}') {
        return (i + 1 == record.len()).then_some(());
    }
    loop {
        if record.get(i) != Some(&b'"') {
            return None;
        }
        let (name, next) = string(record, i + 1)?;
        i = skip_ws(record, next);
        if record.get(i) != Some(&b':') {
            return None;
        }
        let (value, next) = scalar(record, skip_ws(record, i + 1))?;
        if let Some(role) = role(config, name) {
            let slot = found.slot(role);
            if slot.is_some() {
                return None;
            }
            *slot = Some(value);
        }
        i = skip_ws(record, next);
        match record.get(i) {
            Some(b',') => i = skip_ws(record, i + 1),
            Some(b'}') => return (i + 1 == record.len()).then_some(()),
            _ => return None,
        }
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_ws(s: &[u8], mut i: usize) -> usize {
    // Compact records have no whitespace at all: one compare settles the common byte (a `match` on the four
    // whitespace bytes compiles to a jump table per call).
    while let Some(&b) = s.get(i) {
        if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// A string without escapes whose body starts at `start`; returns it and the index after its closing quote.
#[inline(always)]
fn string(s: &[u8], start: usize) -> Option<(&str, usize)> {
    let body = s.get(start..)?;
    let (len, ascii) = string_end(body)?;
    let text = &body[..len];
    let text = if ascii {
        // SAFETY: `string_end` saw no byte at or above 0x80 in `text`, and ASCII is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(text) }
    } else {
        std::str::from_utf8(text).ok()?
    };
    Some((text, start + len + 1))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Where the string body `b` ends (its closing quote) and whether it is all ASCII; `None` if a backslash or a
/// control byte comes first, or no quote does. Eight bytes per step: under wasmtime without guard pages every
/// memory access pays an explicit bounds check, so one 8-byte load costs what one byte would.
#[inline(always)]
fn string_end(b: &[u8]) -> Option<(usize, bool)> {
    let mut high = 0u64;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        // Bit 7 of a byte is set in `hits` at the first byte that is `"`, `\\` or below 0x20 (the lowest set
        // bit is exact; bytes above it may be false hits, which is why only the lowest is used).
        let hits = zero_bytes(word ^ (ONES * b'"' as u64)) | zero_bytes(word ^ (ONES * b'\\' as u64)) | below_0x20(word);
        if hits != 0 {
            let at = (hits.trailing_zeros() / 8) as usize;
            high |= word & HIGHS & ((1u64 << (at * 8)) - 1);
            return (b[i + at] == b'"').then_some((i + at, high == 0));
        }
        high |= word & HIGHS;
        i += 8;
    }
    let at = i + b[i..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    let ascii = high == 0 && b[i..at].is_ascii();
    (b[at] == b'"').then_some((at, ascii))
}

/// Bit 7 set in the lowest zero byte of `w` (and possibly in bytes above it).
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Bit 7 set in the lowest byte of `w` below 0x20 (and possibly in bytes above it).
fn below_0x20(w: u64) -> u64 {
    w.wrapping_sub(ONES * 0x20) & !w & HIGHS
}

/// A string, number or literal starting at `i`; returns it and the index after it.
fn scalar(s: &[u8], i: usize) -> Option<(Scalar<'_>, usize)> {
    match *s.get(i)? {
        b'"' => string(s, i + 1).map(|(text, next)| (Scalar::Str(Cow::Borrowed(text)), next)),
        b't' if s[i..].starts_with(b"true") => Some((Scalar::Bool(true), i + 4)),
        b'f' if s[i..].starts_with(b"false") => Some((Scalar::Bool(false), i + 5)),
        b'n' if s[i..].starts_with(b"null") => Some((Scalar::Null, i + 4)),
        b'-' | b'0'..=b'9' => {
            let rest = &s[i..];
            let negative = rest[0] == b'-';
            let (int_digits, int_value) = digit_run(rest, usize::from(negative));
            let int_end = usize::from(negative) + int_digits;
            let len = int_end
                + rest[int_end..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(rest.len() - int_end);
            let token = &rest[..len];
            let value = match plain_number(token, negative, int_digits, int_value) {
                Some(value) => value,
                None => number(token)?,
            };
            Some((value, i + len))
        }
        _ => None,
    }
}

/// What serde_json makes of the two shapes nearly every event's numbers have, computed the way it computes them
/// (serde_json 1.0 without `float_roundtrip`, the build's configuration), so the value is bit-for-bit the same:
/// an integer of at most 18 digits (timestamps, counts; `-0` is the float -0.0) and a decimal `int.frac` of at
/// most 19 digits in all (amounts, metrics), whose value is the digits as one integer (below 10^19: it fits a u64),
/// converted to f64 and divided by the power of ten, exact in f64 for the at most 18 digits after the point. `None` for every other token (exponents, more digits,
/// a leading zero, anything malformed): serde_json reads it.
#[inline(always)]
fn plain_number(token: &[u8], negative: bool, int_digits: usize, int_value: u64) -> Option<Scalar<'static>> {
    let int_end = usize::from(negative) + int_digits;
    if int_digits == 0 || (int_digits > 1 && token[usize::from(negative)] == b'0') {
        return None;
    }
    if int_end == token.len() {
        if int_digits > 18 {
            return None;
        }
        return Some(match (negative, int_value) {
            (false, v) => Scalar::Int(v.into()),
            (true, 0) => Scalar::Float(-0.0),
            (true, v) => Scalar::Int(-i128::from(v)),
        });
    }
    if token[int_end] != b'.' {
        return None;
    }
    let (frac_digits, frac_value) = digit_run(token, int_end + 1);
    if frac_digits == 0 || int_end + 1 + frac_digits != token.len() || int_digits + frac_digits > 19 {
        return None;
    }
    let significand = int_value * POW10_U64[frac_digits] + frac_value;
    let f = significand as f64 / EXACT_POW10[frac_digits];
    Some(Scalar::Float(if negative { -f } else { f }))
}

/// 10^0 ..= 10^18, every one exactly representable in f64 (serde_json's own table holds the same values).
const EXACT_POW10: [f64; 19] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// 10^0 ..= 10^19 as integers.
const POW10_U64: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

/// The run of ASCII digits starting at `i`: how many, and their value (exact while there are at most 19; beyond,
/// only the count means anything). Eight digits per step with SWAR arithmetic on one 8-byte load: a 13-digit
/// timestamp is two steps, not thirteen.
#[inline(always)]
fn digit_run(s: &[u8], mut i: usize) -> (usize, u64) {
    let start = i;
    let mut value = 0u64;
    while let Some(chunk) = s.get(i..i + 8) {
        // Each byte minus '0' (by XOR: digits become 0..=9, every other byte has a bit set in its high nibble
        // or a low nibble of 10..=15, which adding 6 carries into bit 4).
        let a = u64::from_le_bytes(chunk.try_into().ok().unwrap_or_default()) ^ (ONES * 0x30);
        let not_digit = (a & (ONES * 0xF0)) | (((a & (ONES * 0x0F)) + ONES * 0x06) & (ONES * 0x10));
        if not_digit == 0 {
            value = value.wrapping_mul(100_000_000).wrapping_add(eight_digits(a));
            i += 8;
            continue;
        }
        let k = (not_digit.trailing_zeros() / 8) as usize;
        if k > 0 {
            // The k digits moved to the top bytes; the zero bytes below them are leading zeros.
            value = value.wrapping_mul(POW10_U64[k]).wrapping_add(eight_digits(a << (8 * (8 - k))));
        }
        return (i + k - start, value);
    }
    while let Some(&d @ b'0'..=b'9') = s.get(i) {
        value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        i += 1;
    }
    (i - start, value)
}

/// The value of eight decimal digits, one per byte of `a` (0..=9 each, the first digit in the lowest byte).
#[inline(always)]
fn eight_digits(a: u64) -> u64 {
    let a = (a.wrapping_mul(10).wrapping_add(a >> 8)) & 0x00FF_00FF_00FF_00FF;
    let a = (a.wrapping_mul(100).wrapping_add(a >> 16)) & 0x0000_FFFF_0000_FFFF;
    (a.wrapping_mul(10_000).wrapping_add(a >> 32)) & 0xFFFF_FFFF
}

/// A number token [`plain_number`] does not take (an exponent, many digits, malformed), through serde_json itself.
fn number(token: &[u8]) -> Option<Scalar<'_>> {
    let mut de = serde_json::Deserializer::from_slice(token);
    let value = ScalarSeed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, parse_reference, parse_view};
    use crate::config::Config;
    use proptest::prelude::*;

    fn configs() -> Vec<Config> {
        [
            "{}",
            r#"{"key_field":"userId,merchantId","label_field":"label","timestamp_unit":"s","allow_negative":true,"log_transform":false}"#,
            r#"{"event_id_field":"","timestamp_field":"","velocity":false,"attribute_fields":"label,x"}"#,
            // More keys and attributes than the two slots kept inline.
            r#"{"key_field":"userId,x,label","label_field":"","attribute_fields":"merchantId,transactionId,timestamp,amount","timestamp_field":"","velocity":false}"#,
        ]
        .iter()
        .map(|c| Config::from_json(c.as_bytes()).unwrap())
        .collect()
    }

    /// Field values, valid JSON and not, so generated records hit both paths and every fallback.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec![
                "0", "-0", "7", "100.0", "1e3", "-12.5", "123456789012345678", "1234567890123456789",
                "99999999999999999999", "1234567890000", "1700000000", "2.5e-3", "1e400", "true", "false", "null",
            ])
            .prop_map(str::to_string),
            // Numbers of every length around the fast path's limits (18 integer digits, 19 in all), with and
            // without a sign, a leading zero or a fraction.
            3 => "-?(0|[1-9][0-9]{0,20}|0[0-9]{1,3})(\\.[0-9]{0,24})?",
            1 => prop::sample::select(vec!["01", "1.", "-", "1e", "tru", "nul", "[1,2]", "{\"a\":1}", "-.5", "1.5e3", "1.2.3", "-0.0"]).prop_map(str::to_string),
            1 => "[a-z0-9 \\\\\"é\u{1}-]{0,8}".prop_map(|s| format!("\"{s}\"")),
            4 => "[a-z0-9 é-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        ]
    }

    /// Pieces of JSON and of not-JSON, for records that are not even shaped like an object.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["{", "}", ",", ":", " ", "\t\n\r\x0c", "\"userId\"", "\"amount\""]).prop_map(str::to_string),
            value(),
            any::<u8>().prop_map(|b| String::from_utf8_lossy(&[b]).into_owned()),
        ]
    }

    /// A flat record with the brief's fields, values drawn from the pieces above.
    fn record() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            1 => prop::collection::vec(piece(), 0..24).prop_map(|p| p.concat().into_bytes()),
            4 => (
                // Mostly distinct names (a repeated one is an error), now and then one twice.
                prop::sample::subsequence(vec!["userId", "amount", "timestamp", "transactionId", "merchantId", "label", "x", "amount"], 0..=8)
                    .prop_shuffle(),
                prop::collection::vec(value(), 8),
                prop::sample::select(vec!["", "", " ", "\n ", "\x0c"]),
            )
                .prop_map(|(names, values, ws)| {
                    let body: Vec<String> = names.iter().zip(&values).map(|(n, v)| format!("\"{n}\"{ws}:{ws}{v}")).collect();
                    format!("{ws}{{{ws}{}{ws}}}", body.join(",")).into_bytes()
                }),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn the_fast_path_agrees_with_serde_on_every_record(raw in record()) {
            for config in configs() {
                let parsed = parse(&config, &raw);
                prop_assert_eq!(&parsed, &parse_reference(&config, &raw), "{}", String::from_utf8_lossy(&raw));
                // The kernel encodes the view straight into the blob: the same bytes as the owned event's.
                if let Ok(event) = parsed {
                    let mut direct = Vec::new();
                    parse_view(&config, &raw).unwrap().encode_into(&mut direct);
                    prop_assert_eq!(direct, event.encode());
                }
            }
        }
    }

    /// The agreement test above means something only if generated records take both paths often.
    #[test]
    fn generated_records_take_both_paths() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let config = Config::default();
        let mut runner = TestRunner::deterministic();
        let (mut fast, mut total) = (0, 0);
        for _ in 0..4096 {
            let raw = record().new_tree(&mut runner).unwrap().current();
            let trimmed = super::super::trim_ascii(&raw);
            if !trimmed.is_empty() {
                total += 1;
                fast += usize::from(super::scan(&config, trimmed, &mut super::Found::new(&config)).is_some());
            }
        }
        assert!(fast * 10 > total && fast * 10 < total * 9, "{fast} of {total} records took the fast path");
    }

    #[test]
    fn digit_runs_are_read_at_every_length_and_offset() {
        for offset in 0..9 {
            for len in 0..=24usize {
                let digits: String = (0..len).map(|k| char::from(b'0' + ((k * 7 + 3) % 10) as u8)).collect();
                for end in ["", "x", ".5", "\"", " "] {
                    let text = format!("{}{digits}{end}", "-".repeat(offset));
                    let (count, value) = super::digit_run(text.as_bytes(), offset);
                    assert_eq!(count, len, "{text:?} from {offset}");
                    if len <= 19 {
                        assert_eq!(value, digits.parse::<u64>().unwrap_or(0), "{text:?} from {offset}");
                    }
                }
            }
        }
    }

    #[test]
    fn plain_numbers_are_what_serde_json_makes_of_them() {
        for token in [
            "0",
            "-0",
            "7",
            "-7",
            "100.0",
            "-12.5",
            "0.1",
            "-0.0",
            "123.45",
            "999999999999999999",
            "-999999999999999999",
            "1234567890.123456789",
            "0.0000000000000000000001",
            "9007199254740993.0",
            "1.7976931348623157",
        ] {
            let mut fast = super::super::Found::new(&Config::default());
            let record = format!("{{\"amount\":{token}}}");
            super::scan(&Config::default(), record.as_bytes(), &mut fast).unwrap();
            let expected = super::number(token.as_bytes()).unwrap();
            let got = fast.slot(super::super::Role::Value).clone().unwrap();
            match (&got, &expected) {
                (super::Scalar::Float(a), super::Scalar::Float(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{token}"),
                _ => assert_eq!(got, expected, "{token}"),
            }
        }
    }

    #[test]
    fn string_ends_are_found_at_every_offset() {
        for len in 0..20 {
            for end in [b'"', b'\\', 0x1f] {
                for fill in [b'a', 0xc3] {
                    let mut body = vec![fill; len];
                    body.push(end);
                    body.extend_from_slice(b"\"\\x");
                    let expected = (end == b'"').then_some((len, fill == b'a' || len == 0));
                    assert_eq!(super::string_end(&body), expected, "len {len}, end {end:#x}, fill {fill:#x}");
                }
            }
            assert_eq!(super::string_end(&vec![b'a'; len]), None, "unterminated, len {len}");
        }
    }

    #[test]
    fn the_fast_path_takes_the_briefs_records() {
        let config = Config::default();
        for raw in [
            &br#"{"userId":"user001","amount":100.0,"timestamp":1234567890000,"transactionId":"txn-001","merchantId":"merchant-001"}"#[..],
            br#" { "userId" : "u\xc3\xa9" , "amount" : 7 , "timestamp" : 1700000000000 , "extra" : [1] } "#,
        ] {
            let trimmed = super::super::trim_ascii(raw);
            let fast = super::scan(&config, trimmed, &mut super::Found::new(&config));
            assert_eq!(fast.is_some(), !raw.contains(&b'['), "{}", String::from_utf8_lossy(raw));
        }
    }
}
