//! Replaying a stream through the kernel, one state per key, and scoring it against its labels: the one engine behind
//! `packager run` (the `.wasm` under wasmtime), its HTML report, and the playground (this crate compiled in).
//!
//! The engine does what the Flink job does around the kernel: number the lines, skip blank ones, send records to
//! `parse` in batches, keep each key's state bytes (a map here, Flink keyed state there), send (state, event) items to
//! `detect` — never two events of one key in one batch, since the second must see the first one's state — and
//! store the new state. Each line comes out in input order as an [`Item`]: a verdict with its flags and (when the
//! kernel rendered it) its JSON, or a dead letter. Along the way it counts a [`Summary`]: events, keys, anomalies,
//! warm-up, invalid records and, for labeled input, the [`Confusion`] against the labels; [`Class`] says whether a
//! verdict is a hit, a false alarm or a miss.
//!
//! What runs the kernel's two batch calls is a [`Batches`]: anomaly-host's `Runner` (the `.wasm` under wasmtime,
//! surviving traps) for `packager run`, [`InProcess`] (this crate's [`abi::Kernel`] driven through the same framing)
//! for the playground. Both speak the ABI, so both give the same verdicts byte for byte.

use crate::abi::{self, FLAG_ANOMALY, FLAG_LABEL_POSITIVE, FLAG_LABELED, FLAG_STATE_RESET, FLAG_WARMUP};
use crate::config::Config;
use crate::event::Event;
pub use crate::score::{Class, Confusion};
use crate::wire::{self, DetectOutcome, ParseOutcome, read_batch};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

/// The kernel's two batch calls, as a replay needs them.
pub trait Batches {
    /// Why a call failed (not a bad record: those are dead letters in the answer).
    type Error;
    /// Parses raw records; one outcome per record, in order.
    fn parse(&mut self, records: &[&[u8]]) -> Result<Vec<ParseOutcome>, Self::Error>;
    /// Detects over (state, event) items of distinct keys; one outcome per item, in order.
    fn detect(&mut self, items: &[(&[u8], &[u8])]) -> Result<Vec<DetectOutcome>, Self::Error>;
    /// Kernel traps survived so far (a trapped record becomes a dead letter).
    fn traps(&self) -> u64 {
        0
    }
}

/// The kernel compiled into this program, driven through its ABI exactly as a host drives the `.wasm`.
pub struct InProcess {
    kernel: abi::Kernel,
    request: Vec<u8>,
}

impl InProcess {
    /// A kernel configured with `config`; the kernel's refusal, if any, as its message.
    pub fn new(config: &Config) -> Result<InProcess, String> {
        let mut kernel = InProcess { kernel: abi::Kernel::new(), request: config.to_json().into_bytes() };
        kernel.call(|k, len| k.configure(len))?;
        Ok(kernel)
    }

    /// Copies the request into the kernel's input and calls `entry`; a negative answer is the kernel's message.
    fn call(&mut self, entry: impl FnOnce(&mut abi::Kernel, usize) -> i32) -> Result<&[u8], String> {
        let len = self.request.len();
        self.kernel.input_reserve(len)[..len].copy_from_slice(&self.request);
        if entry(&mut self.kernel, len) < 0 {
            return Err(String::from_utf8_lossy(self.kernel.output()).into_owned());
        }
        Ok(self.kernel.output())
    }
}

impl Batches for InProcess {
    type Error = String;

    fn parse(&mut self, records: &[&[u8]]) -> Result<Vec<ParseOutcome>, String> {
        self.request.clear();
        records.iter().for_each(|r| wire::write_record(&mut self.request, r));
        let answer = self.call(|k, len| k.parse_batch(records.len() as u32, len))?;
        Ok(read_batch(answer, records.len(), wire::read_parsed)?.into_iter().map(wire::Parsed::into_owned).collect())
    }

    fn detect(&mut self, items: &[(&[u8], &[u8])]) -> Result<Vec<DetectOutcome>, String> {
        self.request.clear();
        items.iter().for_each(|(state, event)| wire::write_detect_item(&mut self.request, state, event));
        let answer = self.call(|k, len| k.detect_batch(items.len() as u32, len))?;
        Ok(read_batch(answer, items.len(), wire::read_detected)?.into_iter().map(wire::Detected::into_owned).collect())
    }
}

/// What happened to one input line.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A scored event; `verdict` is the kernel's JSON (empty when not rendered: a normal event under `emit = anomalies`).
    /// `event` is the event blob parse returned and `prior_state` the key's state it was judged against (empty for a
    /// new key): what a caller needs to plot an event without asking the kernel to render every verdict
    /// ([`crate::event::EventBlob::read`], [`crate::Detector::expected_band`]).
    Verdict { flags: u8, score: f64, verdict: Vec<u8>, key: Vec<u8>, label: Option<String>, event: Vec<u8>, prior_state: Vec<u8> },
    /// A record that could not be scored: the kernel's dead-letter JSON.
    DeadLetter(Vec<u8>),
}

impl Outcome {
    /// Whether this is an anomaly.
    pub fn is_anomaly(&self) -> bool {
        matches!(self, Outcome::Verdict { flags, .. } if flags & FLAG_ANOMALY != 0)
    }

    /// How a verdict compares with its label (`None` for a dead letter, or an unflagged event that is not a miss).
    pub fn class(&self) -> Option<Class> {
        match self {
            Outcome::Verdict { flags, .. } => Class::of(*flags),
            Outcome::DeadLetter(_) => None,
        }
    }
}

/// One input line and its outcome; `line` counts from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: u64,
    pub outcome: Outcome,
}

/// Totals over a replay.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub events: u64,
    pub keys: u64,
    pub anomalies: u64,
    pub warmup: u64,
    /// Keys whose stored state could not be read and started afresh.
    pub state_resets: u64,
    pub invalid: u64,
    pub kernel_traps: u64,
    /// Present when the input carried labels.
    pub labels: Option<Confusion>,
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError<E> {
    /// Reading the input failed.
    Read(std::io::Error),
    /// The sink failed (writing the output).
    Write(std::io::Error),
    /// A kernel call failed.
    Kernel(E),
}

impl<E: std::fmt::Display> std::fmt::Display for ReplayError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Read(e) => write!(f, "reading input: {e}"),
            ReplayError::Write(e) => write!(f, "writing output: {e}"),
            ReplayError::Kernel(e) => e.fmt(f),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for ReplayError<E> {}

/// A line waiting for its batch.
enum Pending {
    /// A record for the kernel to parse.
    Record(Vec<u8>),
    /// A record refused before the kernel saw it (a malformed CSV row): its dead-letter JSON.
    Refused(Vec<u8>),
}

/// A replay in progress: the kernel, one state per key, and the totals.
pub struct Replay<B: Batches> {
    batches: B,
    states: HashMap<Vec<u8>, Vec<u8>>,
    batch_size: usize,
    /// Longest line [`Replay::run`] keeps, bytes; the rest of a longer line is skipped unread.
    max_line_bytes: usize,
    pending: Vec<(u64, Pending)>,
    summary: Summary,
    next_line: u64,
}

type Sink<'a> = dyn FnMut(&Item) -> std::io::Result<()> + 'a;

impl<B: Batches> Replay<B> {
    /// A replay through `batches`, `batch_size` records per kernel call.
    pub fn new(batches: B, batch_size: usize) -> Replay<B> {
        Replay {
            batches,
            states: HashMap::new(),
            batch_size: batch_size.max(1),
            max_line_bytes: usize::MAX,
            pending: Vec::new(),
            summary: Summary::default(),
            next_line: 1,
        }
    }

    /// Keeps at most `cap` bytes of each line [`Replay::run`] reads and skips the rest of it, so input without line
    /// breaks cannot fill the memory. A host reading untrusted files passes the kernel's `max_record_bytes` + 1: a
    /// longer line still reaches the kernel, which refuses it for its size, as the Flink job's file source does.
    pub fn with_max_line_bytes(mut self, cap: usize) -> Replay<B> {
        self.max_line_bytes = cap;
        self
    }

    /// Reads every line of `input` through the kernel, calling `sink` for each non-blank line in input order.
    pub fn run<R: BufRead>(
        &mut self,
        mut input: R,
        mut sink: impl FnMut(&Item) -> std::io::Result<()>,
    ) -> Result<(), ReplayError<B::Error>> {
        loop {
            let mut buf = Vec::new();
            if read_line_capped(&mut input, &mut buf, self.max_line_bytes).map_err(ReplayError::Read)? == 0 {
                break;
            }
            let line = self.next_line;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            self.push(line, buf, &mut sink)?;
        }
        self.flush(&mut sink)
    }

    /// Queues the record of input line `line` (blank records are skipped); a full batch goes to the kernel.
    pub fn push(&mut self, line: u64, record: Vec<u8>, sink: &mut Sink<'_>) -> Result<(), ReplayError<B::Error>> {
        self.next_line = line + 1;
        if record.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.queue(line, Pending::Record(record), sink)
    }

    /// Queues a record of line `line` refused before the kernel (its dead-letter JSON), so it comes out in its place.
    pub fn push_dead_letter(&mut self, line: u64, dead_letter: Vec<u8>, sink: &mut Sink<'_>) -> Result<(), ReplayError<B::Error>> {
        self.next_line = line + 1;
        self.queue(line, Pending::Refused(dead_letter), sink)
    }

    /// Sends what is queued through the kernel.
    pub fn flush(&mut self, sink: &mut Sink<'_>) -> Result<(), ReplayError<B::Error>> {
        let pending = std::mem::take(&mut self.pending);
        self.batch(&pending, sink)
    }

    /// Totals so far.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        s.keys = self.states.len() as u64;
        s.kernel_traps = self.batches.traps();
        s
    }

    fn queue(&mut self, line: u64, entry: Pending, sink: &mut Sink<'_>) -> Result<(), ReplayError<B::Error>> {
        self.pending.push((line, entry));
        if self.pending.len() >= self.batch_size { self.flush(sink) } else { Ok(()) }
    }

    fn batch(&mut self, pending: &[(u64, Pending)], sink: &mut Sink<'_>) -> Result<(), ReplayError<B::Error>> {
        let records: Vec<&[u8]> = pending
            .iter()
            .filter_map(|(_, p)| match p {
                Pending::Record(r) => Some(r.as_slice()),
                Pending::Refused(_) => None,
            })
            .collect();
        let parsed = if records.is_empty() { Vec::new() } else { self.batches.parse(&records).map_err(ReplayError::Kernel)? };
        let mut results: Vec<Option<Outcome>> = vec![None; parsed.len()];
        let mut group: Vec<usize> = Vec::new();
        let mut group_keys: HashSet<&[u8]> = HashSet::new();
        for (i, p) in parsed.iter().enumerate() {
            match p {
                ParseOutcome::DeadLetter(d) => results[i] = Some(Outcome::DeadLetter(d.clone())),
                ParseOutcome::Event { key, .. } => {
                    if !group_keys.insert(key.as_slice()) {
                        self.detect_group(&parsed, &group, &mut results)?;
                        group.clear();
                        group_keys.clear();
                        group_keys.insert(key.as_slice());
                    }
                    group.push(i);
                }
            }
        }
        self.detect_group(&parsed, &group, &mut results)?;
        let mut results = results.into_iter();
        for (line, entry) in pending {
            let outcome = match entry {
                Pending::Record(_) => results.next().flatten().expect("every parsed record has an outcome"),
                Pending::Refused(dead) => Outcome::DeadLetter(dead.clone()),
            };
            self.count(&outcome);
            sink(&Item { line: *line, outcome }).map_err(ReplayError::Write)?;
        }
        Ok(())
    }

    fn detect_group(
        &mut self,
        parsed: &[ParseOutcome],
        group: &[usize],
        results: &mut [Option<Outcome>],
    ) -> Result<(), ReplayError<B::Error>> {
        if group.is_empty() {
            return Ok(());
        }
        let event_of = |i: usize| match &parsed[i] {
            ParseOutcome::Event { key, event } => (key, event),
            ParseOutcome::DeadLetter(_) => unreachable!("groups hold events only"),
        };
        let items: Vec<(&[u8], &[u8])> = group
            .iter()
            .map(|&i| {
                let (key, event) = event_of(i);
                (self.states.get(key).map_or(&[][..], Vec::as_slice), event.as_slice())
            })
            .collect();
        let detected = self.batches.detect(&items).map_err(ReplayError::Kernel)?;
        for (&i, outcome) in group.iter().zip(detected) {
            let (key, event) = event_of(i);
            results[i] = Some(match outcome {
                DetectOutcome::Verdict { flags, score, state, verdict } => {
                    let prior_state = match self.states.entry(key.clone()) {
                        Entry::Occupied(mut e) => std::mem::replace(e.get_mut(), state),
                        Entry::Vacant(e) => {
                            e.insert(state);
                            Vec::new()
                        }
                    };
                    let label =
                        if flags & FLAG_LABELED != 0 { Event::decode(event).ok().and_then(|e| e.label).map(|l| l.kind) } else { None };
                    Outcome::Verdict { flags, score, verdict, key: key.clone(), label, event: event.clone(), prior_state }
                }
                DetectOutcome::DeadLetter(d) => Outcome::DeadLetter(d),
            });
        }
        Ok(())
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::DeadLetter(_) => self.summary.invalid += 1,
            Outcome::Verdict { flags, label, .. } => {
                self.summary.events += 1;
                let anomaly = flags & FLAG_ANOMALY != 0;
                if anomaly {
                    self.summary.anomalies += 1;
                }
                if flags & FLAG_STATE_RESET != 0 {
                    self.summary.state_resets += 1;
                }
                if flags & FLAG_WARMUP != 0 {
                    self.summary.warmup += 1;
                }
                if flags & FLAG_LABELED != 0 {
                    let positive = (flags & FLAG_LABEL_POSITIVE != 0).then(|| label.as_deref().unwrap_or("anomaly"));
                    self.summary.labels.get_or_insert_with(Confusion::default).add(anomaly, positive);
                }
            }
        }
    }
}

/// Reads one line (through its `\n`) into `buf`, keeping at most `cap` bytes of it and skipping the rest, so a file
/// without line breaks cannot fill the memory. Returns how many bytes the line took in the input (0 at its end).
fn read_line_capped<R: BufRead>(input: &mut R, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(total);
        }
        let (taken, ends_line) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..taken.min(room)]);
        input.consume(taken);
        total += taken;
        if ends_line {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_kept_up_to_the_cap_and_the_rest_of_it_skipped() {
        use std::io::{BufReader, Read};
        // 64 MiB without a line break, then a short line: only the cap is ever held.
        let endless = std::io::repeat(b'a').take(64 << 20).chain(&b"\nnext\n"[..]);
        let mut input = BufReader::with_capacity(4096, endless);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut input, &mut buf, 1000).unwrap(), (64 << 20) + 1);
        assert_eq!(buf.len(), 1000);
        assert!(buf.capacity() < 1 << 16, "the skipped part was not buffered: capacity {}", buf.capacity());
        buf.clear();
        assert_eq!(read_line_capped(&mut input, &mut buf, 1000).unwrap(), 5);
        assert_eq!(buf, b"next\n");
        buf.clear();
        assert_eq!(read_line_capped(&mut input, &mut buf, 1000).unwrap(), 0);
    }

    const STREAM: &str = concat!(
        "{\"userId\":\"a\",\"amount\":10,\"timestamp\":1767225600000,\"transactionId\":\"t1\",\"label\":\"normal\"}\n",
        "\n",
        "{broken\n",
        "{\"userId\":\"a\",\"amount\":11,\"timestamp\":1767225660000,\"transactionId\":\"t2\",\"label\":\"normal\"}\r\n",
        "{\"userId\":\"b\",\"amount\":12,\"timestamp\":1767225720000,\"transactionId\":\"t3\",\"label\":\"amount_spike\"}\n",
        "{\"userId\":\"a\",\"amount\":12,\"timestamp\":1767225780000,\"transactionId\":\"t4\",\"label\":\"normal\"}\n",
    );

    fn replay(batch_size: usize) -> (Vec<Item>, Summary) {
        let config = Config { min_events: 2, emit: crate::config::Emit::All, ..Config::default() };
        let mut replay = Replay::new(InProcess::new(&config).unwrap(), batch_size);
        let mut items = Vec::new();
        replay
            .run(STREAM.as_bytes(), |item| {
                items.push(item.clone());
                Ok(())
            })
            .unwrap();
        (items, replay.summary())
    }

    #[test]
    fn lines_keep_their_numbers_blank_ones_are_skipped_and_every_batch_size_agrees() {
        let (items, summary) = replay(256);
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 3, 4, 5, 6]);
        assert!(matches!(items[1].outcome, Outcome::DeadLetter(_)));
        assert_eq!((summary.events, summary.keys, summary.invalid, summary.warmup), (4, 2, 1, 3));
        let labels = summary.labels.as_ref().unwrap();
        assert_eq!(labels.labeled(), 4);
        assert_eq!(labels.by_kind["amount_spike"], (0, 1), "b's first event is in warm-up: a miss");
        assert_eq!(items[3].outcome.class(), Some(Class::Miss));
        // One key twice in a batch must not see a stale state: batches of 1 give the same verdicts (compared as
        // text, since a warm-up score is NaN).
        assert!(format!("{:?}", replay(1)) == format!("{:?}", (items, summary)), "batch size changes the verdicts");
    }

    #[test]
    fn refused_records_come_out_in_their_place() {
        let mut replay = Replay::new(InProcess::new(&Config::default()).unwrap(), 8);
        let mut lines = Vec::new();
        let mut sink = |item: &Item| {
            lines.push((item.line, matches!(item.outcome, Outcome::DeadLetter(_))));
            Ok(())
        };
        replay.push(2, br#"{"userId":"a","amount":1,"timestamp":1767225600000}"#.to_vec(), &mut sink).unwrap();
        replay.push_dead_letter(3, b"{}".to_vec(), &mut sink).unwrap();
        replay.push(4, br#"{"userId":"a","amount":2,"timestamp":1767225660000}"#.to_vec(), &mut sink).unwrap();
        replay.flush(&mut sink).unwrap();
        assert_eq!(lines, [(2, false), (3, true), (4, false)]);
        assert_eq!(replay.summary().invalid, 1);
    }

    #[test]
    fn a_refused_configuration_is_the_kernels_message() {
        let config = Config { threshold_multiplier: -1.0, ..Config::default() };
        assert!(InProcess::new(&config).err().unwrap().contains("threshold_multiplier"));
    }
}
