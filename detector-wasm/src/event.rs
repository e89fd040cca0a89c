//! The one event parser: raw JSON bytes → [`Event`] (key, value, time, id, label, attributes).
//!
//! Only the configured fields are read; every other field is skipped without being built, but the whole record must
//! still be one valid JSON object. Every way an event can be unusable is a [`ParseError`] that names the field and the
//! fix; nothing here panics on any input (see `fuzz/`).

use crate::config::{Config, TimestampUnit};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

mod fast;

/// Longest key and event id accepted, in bytes (Kinesis partition keys are at most 256 characters).
pub const MAX_ID_BYTES: usize = 256;
/// Longest attribute value copied into verdicts, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 256;
/// The UTF-8 byte-order mark, ignored at the start of a record.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Earliest plausible event time: 2000-01-01T00:00:00Z, in ms.
pub const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
/// Latest plausible event time: 2100-01-01T00:00:00Z, in ms.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;

/// An event reduced to what the detectors need.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The key the baseline belongs to (`userId`; a composite key's parts joined by [`composite_key`]).
    pub key: String,
    /// The event id, or `raw:<hash of the record>` when the record has none.
    pub event_id: String,
    /// The value scored (`amount`).
    pub value: f64,
    /// Event time in ms since the epoch, when a timestamp field is configured.
    pub timestamp_ms: Option<i64>,
    /// The ground-truth label of labeled input.
    pub label: Option<Label>,
    /// Configured attributes copied into the verdict (`merchantId`), in configuration order.
    pub attributes: Vec<(String, Attribute)>,
}

/// A label read from labeled input: whether the event is a true anomaly, and which kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub positive: bool,
    pub kind: String,
}

/// An attribute value copied into verdicts as it was sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// Why a record cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The field at fault; `None` when the record as a whole is unusable.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for ParseError {}

fn field_error(field: &str, reason: String) -> ParseError {
    ParseError { field: Some(field.to_string()), reason }
}

/// A scalar as it appeared in the record.
#[derive(Debug, Clone, PartialEq)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Composite(&'static str),
}

impl Scalar<'_> {
    fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => format!("the boolean {b}"),
            Scalar::Int(i) => format!("the number {i}"),
            Scalar::Float(x) => format!("the number {x}"),
            Scalar::Str(s) => format!("the string \"{}\"", truncate(s, 40)),
            Scalar::Composite(kind) => format!("an {kind}"),
        }
    }
}

fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v as i128))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v as i128))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite("object"))
    }
}

/// Which configured role a field name plays.
#[derive(Clone, Copy)]
enum Role {
    Key(usize),
    Value,
    Timestamp,
    EventId,
    Label,
    Attribute(usize),
}

/// One value slot per configured field of a kind (keys, attributes). The first two live inline, so the usual
/// configuration (one key, an attribute or two) parses a record without allocating.
struct Slots<'a> {
    len: usize,
    inline: [Option<Scalar<'a>>; 2],
    rest: Vec<Option<Scalar<'a>>>,
}

impl<'a> Slots<'a> {
    fn new(len: usize) -> Slots<'a> {
        Slots { len, inline: [None, None], rest: (2..len).map(|_| None).collect() }
    }

    fn get_mut(&mut self, i: usize) -> &mut Option<Scalar<'a>> {
        match i {
            0 | 1 => &mut self.inline[i],
            _ => &mut self.rest[i - 2],
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Option<Scalar<'a>>> + Clone {
        self.inline[..self.len.min(2)].iter().chain(&self.rest)
    }

    fn into_iter(self) -> impl Iterator<Item = Option<Scalar<'a>>> {
        let [a, b] = self.inline;
        [a, b].into_iter().take(self.len).chain(self.rest)
    }
}

/// The configured fields found in one record, before their types are checked.
struct Found<'a> {
    keys: Slots<'a>,
    value: Option<Scalar<'a>>,
    timestamp: Option<Scalar<'a>>,
    event_id: Option<Scalar<'a>>,
    label: Option<Scalar<'a>>,
    attributes: Slots<'a>,
    duplicate: Option<String>,
}

impl<'a> Found<'a> {
    fn new(config: &Config) -> Found<'a> {
        Found {
            keys: Slots::new(config.key_field.len()),
            value: None,
            timestamp: None,
            event_id: None,
            label: None,
            attributes: Slots::new(config.attribute_fields.len()),
            duplicate: None,
        }
    }

    /// Where the value of a field playing `role` goes.
    fn slot(&mut self, role: Role) -> &mut Option<Scalar<'a>> {
        match role {
            Role::Key(i) => self.keys.get_mut(i),
            Role::Value => &mut self.value,
            Role::Timestamp => &mut self.timestamp,
            Role::EventId => &mut self.event_id,
            Role::Label => &mut self.label,
            Role::Attribute(i) => self.attributes.get_mut(i),
        }
    }
}

/// Which configured role the field `name` plays, if any. Inlined into the fast path in the kernel: worth ~300
/// instructions a record under wasmtime, while natively LLVM's own choice (a call) is the faster one.
#[cfg_attr(target_arch = "wasm32", inline(always))]
fn role(c: &Config, name: &str) -> Option<Role> {
    let is = |field: &str| same(field.as_bytes(), name.as_bytes());
    if let Some(i) = c.key_field.iter().position(|k| is(k)) {
        return Some(Role::Key(i));
    }
    if is(&c.value_field) {
        return Some(Role::Value);
    }
    if !c.timestamp_field.is_empty() && is(&c.timestamp_field) {
        return Some(Role::Timestamp);
    }
    if !c.event_id_field.is_empty() && is(&c.event_id_field) {
        return Some(Role::EventId);
    }
    if !c.label_field.is_empty() && is(&c.label_field) {
        return Some(Role::Label);
    }
    c.attribute_fields.iter().position(|a| is(a)).map(Role::Attribute)
}

/// `a == b`, eight bytes per compare. For field names: on wasm32 `==` on slices calls compiler-builtins' `memcmp`,
/// one byte per step (~200 instructions for each of the half-dozen names a record is matched against).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Whole words from the front, then the last (possibly overlapping) word.
    let half = |s: &[u8], at: usize| s[at..].first_chunk::<4>().map(|w| u32::from_ne_bytes(*w));
    let word = |s: &[u8], at: usize| s[at..].first_chunk::<8>().map(|w| u64::from_ne_bytes(*w));
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => (0..n / 8).all(|i| word(a, 8 * i) == word(b, 8 * i)) && word(a, n - 8) == word(b, n - 8),
    }
}

struct RecordVisitor<'c> {
    config: &'c Config,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Found<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = Found::new(self.config);
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let Some(role) = role(self.config, &name) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = map.next_value_seed(ScalarSeed)?;
            let duplicate = found.duplicate.is_none() && found.slot(role).is_some();
            if duplicate {
                found.duplicate = Some(name.into_owned());
            }
            *found.slot(role) = Some(value);
        }
        Ok(found)
    }
}

/// Parses one raw record into an [`Event`] under `config`.
pub fn parse(config: &Config, raw: &[u8]) -> Result<Event, ParseError> {
    parse_view(config, raw).map(EventView::into_event)
}

/// [`parse`] without the fast path: serde_json reads every record. The reference `parse` is tested against.
#[doc(hidden)]
pub fn parse_reference(config: &Config, raw: &[u8]) -> Result<Event, ParseError> {
    parse_with(config, raw, false).map(EventView::into_event)
}

/// Parses one raw record into an [`EventView`]: what [`parse`] checks, without copying the strings out.
pub fn parse_view<'a>(config: &'a Config, raw: &'a [u8]) -> Result<EventView<'a>, ParseError> {
    parse_with(config, raw, true)
}

/// A parsed and checked event that still borrows its strings from the record (and its attribute names from the
/// configuration). The kernel encodes it straight into the event blob; [`parse`] makes an owned [`Event`] of it.
pub struct EventView<'a> {
    config: &'a Config,
    key: Cow<'a, str>,
    event_id: Cow<'a, str>,
    value: f64,
    timestamp_ms: Option<i64>,
    label: Option<(bool, Cow<'a, str>)>,
    attributes: Slots<'a>,
}

impl<'a> EventView<'a> {
    /// The key the baseline belongs to.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The configured attributes present, in configuration order, as [`Event::attributes`] holds them.
    fn attributes(&self) -> impl Iterator<Item = (&str, AttributeRef<'_>)> + Clone {
        self.config.attribute_fields.iter().zip(self.attributes.iter()).filter_map(|(name, v)| {
            let value = match v.as_ref()? {
                Scalar::Str(s) => AttributeRef::Str(truncate(s, MAX_ATTRIBUTE_BYTES)),
                Scalar::Int(i) => AttributeRef::Num(*i as f64),
                Scalar::Float(x) => AttributeRef::Num(*x),
                Scalar::Bool(b) => AttributeRef::Bool(*b),
                Scalar::Null | Scalar::Composite(_) => return None,
            };
            Some((name.as_str(), value))
        })
    }

    /// Appends the event blob, byte for byte what [`Event::encode_into`] writes for the parsed [`Event`].
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let label = self.label.as_ref().map(|(positive, kind)| (*positive, kind.as_ref()));
        encode_blob(out, &self.key, &self.event_id, self.value, self.timestamp_ms, label, self.attributes());
    }

    /// The owned event.
    pub fn into_event(self) -> Event {
        let attributes = self.attributes().map(|(name, value)| (name.to_string(), value.into_owned())).collect();
        Event {
            key: self.key.into_owned(),
            event_id: self.event_id.into_owned(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
            label: self.label.map(|(positive, kind)| Label { positive, kind: kind.into_owned() }),
            attributes,
        }
    }
}

/// An attribute value on its way into a blob.
#[derive(Clone)]
enum AttributeRef<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
}

impl<'a> AttributeRef<'a> {
    fn of(attribute: &'a Attribute) -> AttributeRef<'a> {
        match attribute {
            Attribute::Str(s) => AttributeRef::Str(Cow::Borrowed(s)),
            Attribute::Num(x) => AttributeRef::Num(*x),
            Attribute::Bool(b) => AttributeRef::Bool(*b),
        }
    }

    fn into_owned(self) -> Attribute {
        match self {
            AttributeRef::Str(s) => Attribute::Str(s.into_owned()),
            AttributeRef::Num(x) => Attribute::Num(x),
            AttributeRef::Bool(b) => Attribute::Bool(b),
        }
    }
}

fn parse_with<'a>(config: &'a Config, raw: &'a [u8], fast_path: bool) -> Result<EventView<'a>, ParseError> {
    let whole = |reason: String| ParseError { field: None, reason };
    if raw.len() > config.max_record_bytes as usize {
        return Err(whole(format!(
            "record is {} bytes, over the limit of {} (max_record_bytes); split the event or raise max_record_bytes",
            raw.len(),
            config.max_record_bytes
        )));
    }
    // RFC 8259 lets a parser ignore a byte-order mark; editors and Windows tools put one before the first line of
    // a file, which would otherwise make that good record a dead letter.
    let trimmed = trim_ascii(raw.strip_prefix(UTF8_BOM).unwrap_or(raw));
    if trimmed.is_empty() {
        return Err(whole("record is empty; send one JSON object per record".into()));
    }
    let mut found = Found::new(config);
    if !(fast_path && fast::scan(config, trimmed, &mut found).is_some()) {
        let mut de = serde_json::Deserializer::from_slice(trimmed);
        found = de
            .deserialize_map(RecordVisitor { config })
            .and_then(|found| de.end().map(|()| found))
            .map_err(|e| whole(json_error_reason(&e, trimmed)))?;
    }
    if let Some(name) = found.duplicate {
        return Err(field_error(&name, "appears more than once in the record; send each field once".into()));
    }

    let mut key_parts = found.keys.into_iter().zip(&config.key_field).map(|(part, name)| identifier(name, part, "key"));
    let key = if config.key_field.len() == 1 {
        key_parts.next().transpose()?.unwrap_or_default()
    } else {
        Cow::Owned(composite_key(&key_parts.collect::<Result<Vec<_>, _>>()?))
    };
    if key.len() > MAX_ID_BYTES {
        return Err(field_error(&config.key_name(), format!("key is {} bytes; keys are limited to {MAX_ID_BYTES} bytes", key.len())));
    }

    let value = number_field(config, found.value)?;
    let timestamp_ms = if config.timestamp_field.is_empty() { None } else { Some(timestamp_field(config, found.timestamp)?) };
    let event_id = match found.event_id {
        None | Some(Scalar::Null) => Cow::Owned(format!("raw:{:016x}", xxhash_rust::xxh3::xxh3_64(trimmed))),
        other => identifier(&config.event_id_field, other, "event id")?,
    };
    let label = match found.label {
        None | Some(Scalar::Null) => None,
        Some(s) => Some(label_value(&config.label_field, s)?),
    };
    Ok(EventView { config, key, event_id, value, timestamp_ms, label, attributes: found.attributes })
}

/// The format version of an encoded [`Event`] (the blob that travels from parse to detect).
pub const EVENT_BLOB_VERSION: u8 = 1;

impl Event {
    /// Appends the compact binary form of this event (what crosses the Flink shuffle between parse and detect).
    ///
    /// Layout: u8 version, u8 flags (1 = timestamp, 2 = label, 4 = label positive), f64 value, i64 timestamp ms,
    /// key, event id, label kind (when flagged), u8 attribute count, then per attribute its name, a u8 type
    /// (0 string, 1 number, 2 boolean) and the value. Strings are u16 length + UTF-8; numbers little-endian.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let label = self.label.as_ref().map(|l| (l.positive, l.kind.as_str()));
        let attributes = self.attributes.iter().map(|(name, value)| (name.as_str(), AttributeRef::of(value)));
        encode_blob(out, &self.key, &self.event_id, self.value, self.timestamp_ms, label, attributes);
    }

    /// The encoded event.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.key.len() + self.event_id.len());
        self.encode_into(&mut out);
        out
    }

    /// Reads an event written by [`Event::encode_into`].
    pub fn decode(bytes: &[u8]) -> Result<Event, String> {
        EventBlob::read(bytes).map(|blob| blob.to_event())
    }

    /// The event as a JSON object, for dead letters raised after parsing.
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("key".into(), self.key.clone().into());
        map.insert("eventId".into(), self.event_id.clone().into());
        map.insert("value".into(), self.value.into());
        if let Some(ts) = self.timestamp_ms {
            map.insert("timestamp".into(), ts.into());
        }
        if let Some(label) = &self.label {
            map.insert("label".into(), label.kind.clone().into());
        }
        for (name, value) in &self.attributes {
            let v = match value {
                Attribute::Str(s) => s.clone().into(),
                Attribute::Num(x) => (*x).into(),
                Attribute::Bool(b) => (*b).into(),
            };
            map.insert(name.clone(), v);
        }
        serde_json::Value::Object(map).to_string()
    }
}

/// The one writer of the event blob (layout in [`Event::encode_into`]).
fn encode_blob<'x>(
    out: &mut Vec<u8>,
    key: &str,
    event_id: &str,
    value: f64,
    timestamp_ms: Option<i64>,
    label: Option<(bool, &str)>,
    attributes: impl Iterator<Item = (&'x str, AttributeRef<'x>)> + Clone,
) {
    let mut flags = 0u8;
    if timestamp_ms.is_some() {
        flags |= 1;
    }
    if let Some((positive, _)) = label {
        flags |= 2;
        if positive {
            flags |= 4;
        }
    }
    out.push(EVENT_BLOB_VERSION);
    out.push(flags);
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.unwrap_or(0).to_le_bytes());
    put_str(out, key);
    put_str(out, event_id);
    if let Some((_, kind)) = label {
        put_str(out, kind);
    }
    let count = attributes.clone().count().min(u8::MAX as usize);
    out.push(count as u8);
    for (name, value) in attributes.take(count) {
        put_str(out, name);
        match value {
            AttributeRef::Str(s) => {
                out.push(0);
                put_str(out, &s);
            }
            AttributeRef::Num(x) => {
                out.push(1);
                out.extend_from_slice(&x.to_le_bytes());
            }
            AttributeRef::Bool(b) => {
                out.push(2);
                out.push(b as u8);
            }
        }
    }
}

/// An event blob read in place: checked whole by [`EventBlob::read`], strings borrowed, attributes left encoded
/// until [`EventBlob::to_event`] asks for them. Detecting needs only the value and the time; the whole [`Event`] is
/// built only for a verdict.
pub struct EventBlob<'a> {
    pub key: &'a str,
    pub event_id: &'a str,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    /// Whether the label marks an anomaly, and its kind.
    pub label: Option<(bool, &'a str)>,
    attribute_count: u8,
    attributes: &'a [u8],
}

/// What detecting needs of an event blob: its fixed-size head (version, flags, value, time), read without the
/// strings and attributes after it, which [`EventBlob::read`] reads and checks only for a verdict that is rendered.
pub struct EventHead {
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    /// Whether the event carries a label, and whether it marks an anomaly.
    pub label: Option<bool>,
}

impl EventHead {
    /// Bytes of the head: u8 version, u8 flags, f64 value, i64 timestamp.
    const LEN: usize = 18;

    /// Reads the head of a blob written by [`Event::encode_into`].
    pub fn read(bytes: &[u8]) -> Result<EventHead, String> {
        let mut r = crate::wire::Reader::new(bytes);
        let version = r.u8()?;
        if version != EVENT_BLOB_VERSION {
            return Err(format!("event blob has version {version}, this kernel reads {EVENT_BLOB_VERSION}"));
        }
        let flags = r.u8()?;
        let value = r.f64()?;
        let ts = r.i64()?;
        Ok(EventHead { value, timestamp_ms: (flags & 1 != 0).then_some(ts), label: (flags & 2 != 0).then_some(flags & 4 != 0) })
    }
}

impl<'a> EventBlob<'a> {
    /// Reads and checks a blob written by [`Event::encode_into`].
    pub fn read(bytes: &'a [u8]) -> Result<EventBlob<'a>, String> {
        let head = EventHead::read(bytes)?;
        let mut r = crate::wire::Reader::new(&bytes[EventHead::LEN..]);
        let key = get_str(&mut r)?;
        let event_id = get_str(&mut r)?;
        let label = match head.label {
            Some(positive) => Some((positive, get_str(&mut r)?)),
            None => None,
        };
        let attribute_count = r.u8()?;
        let attributes = &bytes[EventHead::LEN + r.position()..];
        let mut rest = crate::wire::Reader::new(attributes);
        for _ in 0..attribute_count {
            get_attribute(&mut rest)?;
        }
        if !rest.is_empty() {
            return Err("event blob has trailing bytes".into());
        }
        Ok(EventBlob { key, event_id, value: head.value, timestamp_ms: head.timestamp_ms, label, attribute_count, attributes })
    }

    /// The owned event.
    pub fn to_event(&self) -> Event {
        let mut r = crate::wire::Reader::new(self.attributes);
        // `read` checked every attribute, so none fails here.
        let attributes = (0..self.attribute_count)
            .map_while(|_| get_attribute(&mut r).ok())
            .map(|(name, value)| (name.to_string(), value.into_owned()))
            .collect();
        Event {
            key: self.key.to_string(),
            event_id: self.event_id.to_string(),
            value: self.value,
            timestamp_ms: self.timestamp_ms,
            label: self.label.map(|(positive, kind)| Label { positive, kind: kind.to_string() }),
            attributes,
        }
    }
}

fn get_attribute<'a>(r: &mut crate::wire::Reader<'a>) -> Result<(&'a str, AttributeRef<'a>), String> {
    let name = get_str(r)?;
    let value = match r.u8()? {
        0 => AttributeRef::Str(Cow::Borrowed(get_str(r)?)),
        1 => AttributeRef::Num(r.f64()?),
        2 => AttributeRef::Bool(r.u8()? != 0),
        other => return Err(format!("event blob has unknown attribute type {other}")),
    };
    Ok((name, value))
}

/// A composite key's parts as one key: joined with `|`, with `\` and `|` inside a part escaped as `\\` and `\|`.
///
/// The key names the key's baseline (Flink keys its state by it), so different parts must never give the same
/// key: joined plainly, `a|b` + `c` and `a` + `b|c` both gave `a|b|c` and shared one baseline. Escaping keeps the
/// join reversible, and keeps the key readable in alerts and unchanged for parts without `|` or `\` (`web-1|cpu`),
/// so a kernel upgrade does not orphan the baselines of deployed keys, as a length-prefixed form would.
pub fn composite_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut key = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push('|');
        }
        for c in part.as_ref().chars() {
            if c == '|' || c == '\\' {
                key.push('\\');
            }
            key.push(c);
        }
    }
    key
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Every string here is bounded (ids, names and attributes are truncated well below 64 KiB when parsed).
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

fn get_str<'a>(r: &mut crate::wire::Reader<'a>) -> Result<&'a str, String> {
    let len = r.u16()? as usize;
    let bytes = r.bytes(len)?;
    utf8(bytes).ok_or_else(|| "event blob holds a string that is not UTF-8".to_string())
}

/// `str::from_utf8(bytes).ok()`, with ASCII (nearly every key, id and attribute) recognised eight bytes at a time:
/// core's check costs ~140 instructions for each short string under wasmtime, four strings an event.
fn utf8(bytes: &[u8]) -> Option<&str> {
    let high = match bytes.last_chunk::<8>() {
        // Whole words from the front, then the last (possibly overlapping) word.
        Some(last) => bytes.as_chunks::<8>().0.iter().fold(u64::from_ne_bytes(*last), |acc, w| acc | u64::from_ne_bytes(*w)),
        None => bytes.iter().fold(0, |acc, &b| acc | u64::from(b)),
    };
    if high & 0x8080_8080_8080_8080 == 0 {
        // SAFETY: no byte has its high bit set, so `bytes` is ASCII, which is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

fn trim_ascii(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(raw.len());
    let end = raw.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &raw[start..end]
}

fn json_error_reason(e: &serde_json::Error, raw: &[u8]) -> String {
    use serde_json::error::Category;
    match e.classify() {
        _ if raw.first() != Some(&b'{') => {
            let start: String = String::from_utf8_lossy(&raw[..raw.len().min(20)]).chars().filter(|c| !c.is_control()).collect();
            format!(
                "record is not a JSON object (it starts with `{start}`); send one JSON object per record, like {{\"userId\":\"user001\",\"amount\":100.0,...}}"
            )
        }
        Category::Eof => format!("record is not valid JSON: it ends early ({e}); send the whole object"),
        _ => format!("record is not valid JSON: {e}"),
    }
}

/// A key or event id: a non-empty string or an integer.
fn identifier<'a>(name: &str, value: Option<Scalar<'a>>, what: &str) -> Result<Cow<'a, str>, ParseError> {
    let s = match value {
        None => {
            return Err(field_error(name, format!("is missing; every event needs its {what} in `{name}`")));
        }
        Some(Scalar::Str(s)) => s,
        Some(Scalar::Int(i)) => Cow::Owned(i.to_string()),
        Some(other) => {
            return Err(field_error(name, format!("expected a string or an integer {what}, got {}", other.describe())));
        }
    };
    if s.is_empty() {
        return Err(field_error(name, format!("is empty; send a non-empty {what}")));
    }
    if s.len() > MAX_ID_BYTES {
        return Err(field_error(name, format!("is {} bytes; {what}s are limited to {MAX_ID_BYTES} bytes", s.len())));
    }
    Ok(s)
}

fn number_field(config: &Config, value: Option<Scalar<'_>>) -> Result<f64, ParseError> {
    let name = &config.value_field;
    let x = match value {
        None => {
            return Err(field_error(name, "is missing; every event needs the value to score".into()));
        }
        Some(Scalar::Int(i)) => i as f64,
        Some(Scalar::Float(x)) => x,
        Some(other) => {
            return Err(field_error(name, format!("expected a number, got {}; send it as a JSON number like 100.0", other.describe())));
        }
    };
    if !x.is_finite() {
        return Err(field_error(name, format!("{x} is not a finite number")));
    }
    if x < 0.0 && !config.allow_negative {
        return Err(field_error(
            name,
            format!(
                "{x} is negative; send refunds and reversals to another stream, or set allow_negative = true and log_transform = false"
            ),
        ));
    }
    Ok(x)
}

fn timestamp_field(config: &Config, value: Option<Scalar<'_>>) -> Result<i64, ParseError> {
    let name = &config.timestamp_field;
    let unit = match config.timestamp_unit {
        TimestampUnit::Ms => "milliseconds",
        TimestampUnit::S => "seconds",
    };
    let ms = match value {
        None => {
            return Err(field_error(name, format!("is missing; send the event time as {unit} since 1970 or an RFC 3339 string")));
        }
        Some(Scalar::Int(i)) => match config.timestamp_unit {
            TimestampUnit::Ms => i,
            TimestampUnit::S => i.saturating_mul(1000),
        },
        Some(Scalar::Float(x)) if x.is_finite() => {
            let ms = match config.timestamp_unit {
                TimestampUnit::Ms => x,
                TimestampUnit::S => x * 1000.0,
            };
            libm::floor(ms).clamp(i64::MIN as f64, i64::MAX as f64) as i128
        }
        Some(Scalar::Str(s)) => match parse_rfc3339(&s) {
            Some(ms) => ms as i128,
            None => {
                return Err(field_error(
                    name,
                    format!(
                        "\"{}\" is not a timestamp; send {unit} since 1970 as a number, or an RFC 3339 string like 2009-02-13T23:31:30Z",
                        truncate(&s, 40)
                    ),
                ));
            }
        },
        Some(other) => {
            return Err(field_error(name, format!("expected {unit} since 1970, got {}", other.describe())));
        }
    };
    if !(MIN_TIMESTAMP_MS as i128..MAX_TIMESTAMP_MS as i128).contains(&ms) {
        let hint = if config.timestamp_unit == TimestampUnit::Ms
            && (MIN_TIMESTAMP_MS as i128 / 1000..MAX_TIMESTAMP_MS as i128 / 1000).contains(&ms)
        {
            "; it looks like seconds: send milliseconds, or set timestamp_unit = \"s\""
        } else {
            ""
        };
        return Err(field_error(name, format!("{ms} {unit} is outside the years 2000 to 2099, so it is not a plausible event time{hint}")));
    }
    Ok(ms as i64)
}

fn label_value<'a>(name: &str, value: Scalar<'a>) -> Result<(bool, Cow<'a, str>), ParseError> {
    let label = match value {
        Scalar::Bool(b) => (b, Cow::Borrowed(if b { "anomaly" } else { "normal" })),
        Scalar::Int(0) => (false, Cow::Borrowed("normal")),
        Scalar::Int(1) => (true, Cow::Borrowed("anomaly")),
        Scalar::Str(s) => {
            let t = s.trim();
            let negative = t.is_empty() || ["normal", "false", "0", "none"].iter().any(|n| t.eq_ignore_ascii_case(n));
            let kind = match (&s, negative) {
                (_, true) => Cow::Borrowed("normal"),
                (Cow::Borrowed(b), false) => truncate(b.trim(), 64),
                (Cow::Owned(_), false) => Cow::Owned(truncate(t, 64).into_owned()),
            };
            (!negative, kind)
        }
        other => {
            return Err(field_error(
                name,
                format!("expected a label (true/false, 0/1, \"normal\" or the anomaly kind), got {}", other.describe()),
            ));
        }
    };
    Ok(label)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` into ms since the epoch.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0i64, |acc, d| acc.checked_mul(10)?.checked_add((d - b'0') as i64))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &b[start..i.min(start + 3)];
        millis = frac.iter().fold(0, |acc, d| acc * 10 + (d - b'0') as i64) * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_minutes = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) - offset_minutes * 60) * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_strings_are_checked_as_utf8_at_every_length() {
        for n in 0..24usize {
            let ascii = vec![b'a'; n];
            assert_eq!(utf8(&ascii), std::str::from_utf8(&ascii).ok(), "ascii, length {n}");
            for at in 0..n {
                for bad in [&[0xc3u8, 0xa9][..], &[0xff], &[0xc3], &[0x80]] {
                    let mut b = ascii.clone();
                    b.splice(at..at + 1, bad.iter().copied());
                    assert_eq!(utf8(&b), std::str::from_utf8(&b).ok(), "length {n}, {bad:x?} at {at}");
                }
            }
        }
    }

    #[test]
    fn field_names_match_exactly_at_every_length() {
        for n in 0..24usize {
            let a: Vec<u8> = (0..n).map(|i| b'a' + i as u8).collect();
            assert!(same(&a, &a.clone()), "length {n}");
            assert!(!same(&a, &a[..n.saturating_sub(1)]) || n == 0, "length {n} vs shorter");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same(&a, &b), "length {n}, byte {at} differs");
            }
        }
    }

    fn cfg() -> Config {
        Config::default()
    }

    const BRIEF: &[u8] =
        br#"{"userId":"user001","amount":100.0,"timestamp":1234567890000,"transactionId":"txn-001","merchantId":"merchant-001"}"#;

    #[test]
    fn parses_the_brief_event() {
        let e = parse(&cfg(), BRIEF).unwrap();
        assert_eq!(e.key, "user001");
        assert_eq!(e.event_id, "txn-001");
        assert_eq!(e.value, 100.0);
        assert_eq!(e.timestamp_ms, Some(1_234_567_890_000));
        assert_eq!(e.label, None);
        assert_eq!(e.attributes, vec![("merchantId".to_string(), Attribute::Str("merchant-001".into()))]);
    }

    fn err(raw: &str) -> ParseError {
        parse(&cfg(), raw.as_bytes()).unwrap_err()
    }

    #[test]
    fn every_bad_record_names_its_field() {
        let cases = [
            (r#"{"userId":"u","amount":"100","timestamp":1234567890000}"#, Some("amount"), "expected a number"),
            (r#"{"userId":"u","timestamp":1234567890000}"#, Some("amount"), "is missing"),
            (r#"{"amount":1,"timestamp":1234567890000}"#, Some("userId"), "is missing"),
            (r#"{"userId":1.5,"amount":1,"timestamp":1234567890000}"#, Some("userId"), "string or an integer"),
            (r#"{"userId":"","amount":1,"timestamp":1234567890000}"#, Some("userId"), "is empty"),
            (r#"{"userId":"u","amount":-5,"timestamp":1234567890000}"#, Some("amount"), "negative"),
            (r#"{"userId":"u","amount":1e999,"timestamp":1234567890000}"#, None, "not valid JSON"),
            (r#"{"userId":"u","amount":1,"timestamp":1234567890}"#, Some("timestamp"), "looks like seconds"),
            (r#"{"userId":"u","amount":1,"timestamp":99999999999999999}"#, Some("timestamp"), "years 2000 to 2099"),
            (r#"{"userId":"u","amount":1,"timestamp":"yesterday"}"#, Some("timestamp"), "not a timestamp"),
            (r#"{"userId":"u","amount":1,"amount":2,"timestamp":1234567890000}"#, Some("amount"), "more than once"),
            (r#"{"userId":"u","amount":1,"timestamp":1234567890000,"label":[1]}"#, Some("label"), "expected a label"),
            (r#"{"userId":"u","amount":1"#, None, "ends early"),
            (r#"[1,2,3]"#, None, "not a JSON object"),
            (r#"{"userId":"u","amount":1,"timestamp":1234567890000} trailing"#, None, "not valid JSON"),
            ("", None, "empty"),
        ];
        for (raw, field, needle) in cases {
            let e = err(raw);
            assert_eq!(e.field.as_deref(), field, "{raw}: {e}");
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored_like_whitespace() {
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(BRIEF);
        assert_eq!(parse(&cfg(), &with_bom), parse(&cfg(), BRIEF));
        assert_eq!(parse_reference(&cfg(), &with_bom), parse(&cfg(), BRIEF));
        // Without an event id the raw-record id must not depend on the mark either.
        let raw = br#"{"userId":"u","amount":1,"timestamp":1234567890000}"#;
        let mut marked = b"\xEF\xBB\xBF".to_vec();
        marked.extend_from_slice(raw);
        assert_eq!(parse(&cfg(), &marked).unwrap().event_id, parse(&cfg(), raw).unwrap().event_id);
        // Only at the very start: elsewhere it is a character JSON does not allow there.
        let mut late = BRIEF.to_vec();
        late.extend_from_slice(b"\xEF\xBB\xBF");
        assert!(parse(&cfg(), &late).is_err());
    }

    #[test]
    fn oversized_records_are_refused_before_parsing() {
        let mut c = cfg();
        c.max_record_bytes = 64;
        let e = parse(&c, &[b' '; 65]).unwrap_err();
        assert!(e.reason.contains("max_record_bytes"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let raw = format!(r#"{{"userId":"u","x":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&cfg(), raw.as_bytes()).is_err());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = parse(&cfg(), b"{\"userId\":\"\xff\",\"amount\":1}").unwrap_err();
        assert!(e.reason.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn missing_event_id_falls_back_to_a_stable_record_hash() {
        let raw = br#"{"userId":"u","amount":1,"timestamp":1234567890000}"#;
        let a = parse(&cfg(), raw).unwrap();
        let b = parse(&cfg(), raw).unwrap();
        assert!(a.event_id.starts_with("raw:"));
        assert_eq!(a.event_id, b.event_id);
    }

    #[test]
    fn integer_ids_composite_keys_and_labels() {
        let mut c = cfg();
        c.key_field = vec!["host".into(), "metric".into()];
        c.value_field = "value".into();
        let e = parse(
            &c,
            br#"{"host":"web-1","metric":"cpu","value":3,"timestamp":"2009-02-13T23:31:30.5+01:00","transactionId":42,"label":"spike"}"#,
        )
        .unwrap();
        assert_eq!(e.key, "web-1|cpu");
        assert_eq!(composite_key(&["a|b", "c\\"]), "a\\|b|c\\\\");
        assert_eq!(e.event_id, "42");
        assert_eq!(e.timestamp_ms, Some(1_234_567_890_000 - 3_600_000 + 500));
        assert_eq!(e.label, Some(Label { positive: true, kind: "spike".into() }));
        let e = parse(&cfg(), br#"{"userId":"u","amount":0,"timestamp":1234567890000,"label":"normal"}"#).unwrap();
        assert_eq!(e.label.map(|l| l.positive), Some(false));
    }

    #[test]
    fn timestamps_in_seconds_when_configured() {
        let mut c = cfg();
        c.timestamp_unit = TimestampUnit::S;
        let e = parse(&c, br#"{"userId":"u","amount":1,"timestamp":1234567890}"#).unwrap();
        assert_eq!(e.timestamp_ms, Some(1_234_567_890_000));
    }

    #[test]
    fn event_blobs_round_trip() {
        let raw = br#"{"userId":"u","amount":1.5,"timestamp":1234567890000,"transactionId":"t","merchantId":"m","label":"spike"}"#;
        let e = parse(&cfg(), raw).unwrap();
        assert_eq!(Event::decode(&e.encode()).unwrap(), e);
        let mut c = cfg();
        c.timestamp_field = String::new();
        c.velocity = false;
        c.attribute_fields = vec!["n".into(), "b".into()];
        let e = parse(&c, br#"{"userId":7,"amount":2,"n":3.5,"b":true}"#).unwrap();
        assert_eq!(Event::decode(&e.encode()).unwrap(), e);
        assert!(Event::decode(&e.encode()[..5]).is_err());
        assert!(Event::decode(&[9]).is_err());
    }

    #[test]
    fn rfc3339_parsing() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00.123Z"), Some(951_825_600_123));
        assert_eq!(parse_rfc3339("2001-02-29T12:00:00Z"), None);
        assert_eq!(parse_rfc3339("2001-02-28T12:00:00"), None);
        assert_eq!(parse_rfc3339("2001-02-28T12:00:00+2:00"), None);
    }
}
