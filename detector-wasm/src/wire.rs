//! The batch framing of the ABI, the one implementation both sides use: the kernel ([`crate::abi`]) reads requests and
//! writes answers with it, the hosts (anomaly-host's `Runner` and its JNI session) write requests and read answers
//! — or, after a trap, split a request and write the answer themselves. The layouts are documented in
//! [`crate::abi`] ("Framing"); here each of the four messages has one `write_*` and one `read_*` function, and a test
//! reads back what every writer wrote.
//!
//! | message | written by | read by |
//! |---|---|---|
//! | record (`parse_batch` request) | [`write_record`] | [`read_record`] |
//! | detect item (`detect_batch` request) | [`write_detect_item`] | [`read_detect_item`] |
//! | parse result (`parse_batch` answer) | [`write_parsed`] | [`read_parsed`] |
//! | detect result (`detect_batch` answer) | [`write_detected`] | [`read_detected`] |
//!
//! [`read_batch`] reads `count` messages of one kind and refuses bytes left over.

/// A bounds-checked cursor over bytes; every read fails cleanly instead of panicking.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("framing: {len} bytes wanted at offset {}, only {} left", self.pos, self.bytes.len() - self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A u32 length followed by that many bytes.
    pub fn sized(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.bytes(len)
    }
}

/// Appends a u32 length followed by the bytes.
pub fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Result tag: an event, or a verdict.
pub const TAG_OK: u8 = 0;
/// Result tag: a dead letter.
pub const TAG_DEAD_LETTER: u8 = 1;

/// One `parse_batch` result, borrowed from an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed<'a> {
    Event { key: &'a [u8], event: &'a [u8] },
    DeadLetter(&'a [u8]),
}

/// One `detect_batch` result, borrowed from an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detected<'a> {
    Verdict { flags: u8, score: f64, state: &'a [u8], verdict: &'a [u8] },
    DeadLetter(&'a [u8]),
}

/// A parse result, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOutcome {
    Event { key: Vec<u8>, event: Vec<u8> },
    DeadLetter(Vec<u8>),
}

/// A detect result, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectOutcome {
    Verdict { flags: u8, score: f64, state: Vec<u8>, verdict: Vec<u8> },
    DeadLetter(Vec<u8>),
}

impl Parsed<'_> {
    /// The result with its bytes copied out of the answer.
    pub fn into_owned(self) -> ParseOutcome {
        match self {
            Parsed::Event { key, event } => ParseOutcome::Event { key: key.to_vec(), event: event.to_vec() },
            Parsed::DeadLetter(d) => ParseOutcome::DeadLetter(d.to_vec()),
        }
    }
}

impl Detected<'_> {
    /// The result with its bytes copied out of the answer.
    pub fn into_owned(self) -> DetectOutcome {
        match self {
            Detected::Verdict { flags, score, state, verdict } => {
                DetectOutcome::Verdict { flags, score, state: state.to_vec(), verdict: verdict.to_vec() }
            }
            Detected::DeadLetter(d) => DetectOutcome::DeadLetter(d.to_vec()),
        }
    }
}

impl ParseOutcome {
    /// The result as it is framed.
    pub fn as_frame(&self) -> Parsed<'_> {
        match self {
            ParseOutcome::Event { key, event } => Parsed::Event { key, event },
            ParseOutcome::DeadLetter(d) => Parsed::DeadLetter(d),
        }
    }
}

impl DetectOutcome {
    /// The result as it is framed.
    pub fn as_frame(&self) -> Detected<'_> {
        match self {
            DetectOutcome::Verdict { flags, score, state, verdict } => Detected::Verdict { flags: *flags, score: *score, state, verdict },
            DetectOutcome::DeadLetter(d) => Detected::DeadLetter(d),
        }
    }

    /// Whether the kernel judged the event an anomaly.
    pub fn is_anomaly(&self) -> bool {
        matches!(self, DetectOutcome::Verdict { flags, .. } if flags & crate::abi::FLAG_ANOMALY != 0)
    }
}

/// Appends one record (a raw event) to a `parse_batch` request.
pub fn write_record(out: &mut Vec<u8>, raw: &[u8]) {
    put_sized(out, raw);
}

/// Reads one record of a `parse_batch` request.
pub fn read_record<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], String> {
    r.sized()
}

/// Appends one (state, event) item to a `detect_batch` request; the state is empty for a new key.
pub fn write_detect_item(out: &mut Vec<u8>, state: &[u8], event: &[u8]) {
    put_sized(out, state);
    put_sized(out, event);
}

/// Reads one (state, event) item of a `detect_batch` request.
pub fn read_detect_item<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], &'a [u8]), String> {
    Ok((r.sized()?, r.sized()?))
}

/// Appends one result to a `parse_batch` answer.
pub fn write_parsed(out: &mut Vec<u8>, parsed: Parsed<'_>) {
    match parsed {
        Parsed::Event { key, event } => {
            out.push(TAG_OK);
            put_sized(out, key);
            put_sized(out, event);
        }
        Parsed::DeadLetter(json) => {
            out.push(TAG_DEAD_LETTER);
            put_sized(out, json);
        }
    }
}

/// Reads one result of a `parse_batch` answer.
pub fn read_parsed<'a>(r: &mut Reader<'a>) -> Result<Parsed<'a>, String> {
    match r.u8()? {
        TAG_OK => Ok(Parsed::Event { key: r.sized()?, event: r.sized()? }),
        TAG_DEAD_LETTER => Ok(Parsed::DeadLetter(r.sized()?)),
        tag => Err(format!("unknown parse result tag {tag}")),
    }
}

/// Appends one result to a `detect_batch` answer.
pub fn write_detected(out: &mut Vec<u8>, detected: Detected<'_>) {
    match detected {
        Detected::Verdict { flags, score, state, verdict } => {
            out.push(TAG_OK);
            out.push(flags);
            out.extend_from_slice(&score.to_le_bytes());
            put_sized(out, state);
            put_sized(out, verdict);
        }
        Detected::DeadLetter(json) => {
            out.push(TAG_DEAD_LETTER);
            put_sized(out, json);
        }
    }
}

/// Reads one result of a `detect_batch` answer.
pub fn read_detected<'a>(r: &mut Reader<'a>) -> Result<Detected<'a>, String> {
    match r.u8()? {
        TAG_OK => Ok(Detected::Verdict { flags: r.u8()?, score: r.f64()?, state: r.sized()?, verdict: r.sized()? }),
        TAG_DEAD_LETTER => Ok(Detected::DeadLetter(r.sized()?)),
        tag => Err(format!("unknown detect result tag {tag}")),
    }
}

/// Reads the `count` messages of a batch with `read` (one of the `read_*` functions above); bytes left over after
/// them mean the framing and the count disagree, and are refused.
pub fn read_batch<'a, T>(bytes: &'a [u8], count: usize, read: impl Fn(&mut Reader<'a>) -> Result<T, String>) -> Result<Vec<T>, String> {
    let mut r = Reader::new(bytes);
    // The count comes from the other side: never reserve more than the bytes could hold.
    let mut out = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        out.push(read(&mut r)?);
    }
    r.expect_end(count)?;
    Ok(out)
}

impl Reader<'_> {
    /// Fails when bytes are left after the `count` messages read.
    pub fn expect_end(&self, count: usize) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(format!("{count} messages declared but {} of {} bytes were left over", self.bytes.len() - self.pos, self.bytes.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_written() {
        let mut records = Vec::new();
        write_record(&mut records, b"{\"a\":1}");
        write_record(&mut records, b"");
        assert_eq!(read_batch(&records, 2, read_record).unwrap(), [&b"{\"a\":1}"[..], b""]);

        let mut items = Vec::new();
        write_detect_item(&mut items, b"s", b"e");
        write_detect_item(&mut items, b"", b"f");
        assert_eq!(read_batch(&items, 2, read_detect_item).unwrap(), [(&b"s"[..], &b"e"[..]), (&b""[..], &b"f"[..])]);

        let parsed = [Parsed::Event { key: b"k", event: &[1, 2, 3] }, Parsed::DeadLetter(b"{}")];
        let mut answer = Vec::new();
        parsed.iter().for_each(|p| write_parsed(&mut answer, *p));
        assert_eq!(read_batch(&answer, 2, read_parsed).unwrap(), parsed);
        assert_eq!(parsed.map(Parsed::into_owned).iter().map(ParseOutcome::as_frame).collect::<Vec<_>>(), parsed);

        let detected = [Detected::Verdict { flags: 5, score: 2.5, state: &[9; 4], verdict: b"v" }, Detected::DeadLetter(b"d")];
        let mut answer = Vec::new();
        detected.iter().for_each(|d| write_detected(&mut answer, *d));
        assert_eq!(read_batch(&answer, 2, read_detected).unwrap(), detected);
        assert_eq!(detected.map(Detected::into_owned).iter().map(DetectOutcome::as_frame).collect::<Vec<_>>(), detected);
    }

    #[test]
    fn counts_that_disagree_with_the_bytes_are_refused() {
        let mut items = Vec::new();
        write_detect_item(&mut items, b"s", b"e");
        write_detect_item(&mut items, b"", b"f");
        assert!(read_batch(&items, 1, read_detect_item).unwrap_err().contains("left over"));
        assert!(read_batch(&items, 3, read_detect_item).is_err());
        assert!(read_batch(&[7], 1, read_parsed).unwrap_err().contains("unknown parse result tag 7"));
        assert!(read_batch(&[], usize::MAX, read_record).is_err(), "a huge count reserves nothing and fails cleanly");
    }
}
