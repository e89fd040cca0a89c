//! `packager send`: put JSON-lines events (a file, standard input, or the generator) into a Kinesis stream with
//! PutRecords. Partition key = the event's key as the kernel parses it (so one key stays on one shard), batches within
//! Kinesis' limits (500 records, 5 MiB per request, 1 MiB per record), and only the records a batch failed are retried,
//! with backoff, until none is left or a record has had its attempts; then the error lists every line not sent.

pub mod error;

use crate::aws::{self, backoff::Backoff, error::AwsError, error::error_chain, terraform::TerraformOutputs};
use crate::config::{ConfigError, DetectorFlags, FileConfig, resolve_detector};
use crate::output::OutputFormat;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use clap::Args;
use detector_wasm::Config;
use detector_wasm::generate::transactions;
pub use error::SendError;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

type Result<T, E = SendError> = std::result::Result<T, E>;

/// Records per PutRecords request (Kinesis' limit).
pub const MAX_BATCH_RECORDS: usize = 500;
/// Bytes per PutRecords request, data and partition keys together (Kinesis' limit).
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
/// Bytes per record, data and partition key together (Kinesis' limit).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// `packager send` flags; the `[send]` table of packager.toml takes the same names.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SendArgs {
    /// JSON-lines events to send (`-` for standard input); give --generate instead to send a synthetic stream
    #[serde(skip)]
    #[arg(required_unless_present = "generate", conflicts_with = "generate")]
    pub file: Option<PathBuf>,
    /// Send `packager generate`'s labeled synthetic stream instead of a file
    #[arg(long)]
    #[serde(skip)]
    pub generate: bool,
    /// With --generate: events to generate [default: 10000]
    #[arg(long, requires = "generate")]
    #[serde(skip)]
    pub events: Option<u64>,
    /// With --generate: distinct users [default: 200]
    #[arg(long, requires = "generate")]
    #[serde(skip)]
    pub users: Option<u32>,
    /// With --generate: random seed [default: 1]
    #[arg(long, requires = "generate")]
    #[serde(skip)]
    pub seed: Option<u64>,
    /// Kinesis stream name or ARN (terraform: kinesis_stream_arn)
    #[arg(long, env = "PACKAGER_STREAM")]
    pub stream: Option<String>,
    /// `terraform output -json` of infra/terraform: fills the stream and region
    #[arg(long, env = "PACKAGER_TERRAFORM_OUTPUTS")]
    pub terraform_outputs: Option<PathBuf>,
    /// AWS region (terraform: aws_region) [default: the SDK's: AWS_REGION, then the profile]
    #[arg(long, env = "PACKAGER_REGION")]
    pub region: Option<String>,
    /// Send AWS calls to this endpoint instead of AWS (moto, LocalStack); AWS_ENDPOINT_URL works too
    #[arg(long, env = "PACKAGER_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Attempts per record before it is reported as not sent [default: 8]
    #[arg(long, env = "PACKAGER_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// Result format on standard output [default: text]
    #[arg(long, value_enum, env = "PACKAGER_OUTPUT")]
    pub output: Option<OutputFormat>,
    #[command(flatten)]
    #[serde(skip)]
    pub detector: DetectorFlags,
}

/// One record to put, with the input line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub line: u64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl Record {
    /// The record's size as Kinesis counts it.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

/// A record that was not sent, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotSent {
    pub line: u64,
    pub error: String,
}

/// What a send did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SendReport {
    pub stream: String,
    pub records: u64,
    pub sent: u64,
    pub requests: u64,
    /// Record attempts that failed and were tried again.
    pub retried: u64,
    /// Lines the kernel cannot parse, sent anyway so the job's dead-letter path sees them.
    pub unparsable: u64,
    pub not_sent: Vec<NotSent>,
}

/// Where records go: a stream name or ARN.
#[derive(Debug, Clone, PartialEq)]
pub enum Stream {
    Name(String),
    Arn(String),
}

impl Stream {
    /// An ARN when it looks like one, a name otherwise.
    pub fn parse(text: &str) -> Stream {
        if text.starts_with("arn:") { Stream::Arn(text.into()) } else { Stream::Name(text.into()) }
    }

    fn as_str(&self) -> &str {
        match self {
            Stream::Name(s) | Stream::Arn(s) => s,
        }
    }
}

/// The partition key of one raw event: its key as the kernel parses it. The kernel limits keys to 256 bytes, within
/// Kinesis' 256-character limit on partition keys. Returns whether the kernel could parse the record.
pub fn partition_key(config: &Config, raw: &[u8], line: u64) -> (String, bool) {
    match detector_wasm::parse(config, raw) {
        Ok(event) if !event.key.is_empty() => (event.key, true),
        // Spread records the job will dead-letter over the shards rather than piling them on one.
        _ => (format!("unparsable-{line}"), false),
    }
}

/// Splits `records` into consecutive batches within the count and byte limits.
pub fn batches(records: &[Record]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_RECORDS || bytes + r.size() > MAX_BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += r.size();
    }
    if start < records.len() {
        out.push(start..records.len());
    }
    out
}

/// Puts `records` into `stream`: batches, per-record retries with `backoff`, at most `max_attempts` per record.
pub async fn send(client: &Client, stream: &Stream, records: Vec<Record>, max_attempts: u32, backoff: Backoff) -> Result<SendReport> {
    let mut report = SendReport { stream: stream.as_str().into(), records: records.len() as u64, ..Default::default() };
    let (records, too_big): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|r| r.size() <= MAX_RECORD_BYTES);
    for r in too_big {
        report.not_sent.push(NotSent { line: r.line, error: format!("{} bytes; Kinesis takes at most 1 MiB per record", r.size()) });
    }
    for range in batches(&records) {
        let mut pending: Vec<&Record> = records[range].iter().collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            report.requests += 1;
            let failed = put_batch(client, stream, &pending).await?;
            report.sent += (pending.len() - failed.len()) as u64;
            if failed.is_empty() {
                break;
            }
            if attempt >= max_attempts {
                report.not_sent.extend(failed.iter().map(|(i, error)| NotSent { line: pending[*i].line, error: error.clone() }));
                break;
            }
            report.retried += failed.len() as u64;
            let delay = backoff.delay(attempt - 1);
            tracing::info!("{} of {} records failed; retrying them in {} ms", failed.len(), pending.len(), delay.as_millis());
            tokio::time::sleep(delay).await;
            pending = failed.iter().map(|(i, _)| pending[*i]).collect();
        }
    }
    report.not_sent.sort_by_key(|n| n.line);
    Ok(report)
}

/// One PutRecords call; returns the indexes (into `batch`) of the records that failed, with their error.
async fn put_batch(client: &Client, stream: &Stream, batch: &[&Record]) -> Result<Vec<(usize, String)>> {
    let entries = batch
        .iter()
        .map(|r| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(r.data.clone()))
                .partition_key(&r.partition_key)
                .build()
                .map_err(|e| AwsError::Call { action: "building PutRecords".into(), message: e.to_string() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = match stream {
        Stream::Name(n) => client.put_records().stream_name(n),
        Stream::Arn(a) => client.put_records().stream_arn(a),
    };
    match request.set_records(Some(entries)).send().await {
        Ok(out) => {
            if out.failed_record_count().unwrap_or(0) == 0 {
                return Ok(vec![]);
            }
            Ok(out
                .records()
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.error_code().map(|code| (i, format!("{code}: {}", r.error_message().unwrap_or("")))))
                .collect())
        }
        Err(e) => {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_resource_not_found_exception()) {
                return Err(SendError::StreamMissing { stream: stream.as_str().into() });
            }
            // The SDK has already retried throttling; what is left is retried record by record like a partial failure.
            if service.is_some_and(|s| s.is_provisioned_throughput_exceeded_exception() || s.is_internal_failure_exception()) {
                let message = error_chain(&e);
                return Ok((0..batch.len()).map(|i| (i, message.clone())).collect());
            }
            Err(AwsError::call(format!("PutRecords to `{}`", stream.as_str()), &e).into())
        }
    }
}

/// The records of the input: a file, standard input, or the generator.
fn read_records(args: &SendArgs, config: &Config) -> Result<(Vec<Record>, u64)> {
    let mut records = Vec::new();
    let mut unparsable = 0;
    let mut push = |line: u64, data: Vec<u8>| {
        let (partition_key, parsed) = partition_key(config, &data, line);
        unparsable += u64::from(!parsed);
        records.push(Record { line, partition_key, data });
    };
    if args.generate {
        let options = transactions::Options {
            events: args.events.unwrap_or(transactions::Options::DEFAULT.events),
            users: args.users.unwrap_or(transactions::Options::DEFAULT.users),
            seed: args.seed.unwrap_or(transactions::Options::DEFAULT.seed),
            ..transactions::Options::DEFAULT
        };
        for (i, text) in transactions::lines(&options, true).map_err(SendError::Usage)?.into_iter().enumerate() {
            push(i as u64 + 1, text.into_bytes());
        }
        return Ok((records, unparsable));
    }
    let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(&path).map_err(|source| SendError::ReadInput { path: path.clone(), source })?))
    };
    for (i, line) in reader.split(b'\n').enumerate() {
        let mut bytes = line.map_err(|source| SendError::ReadInput { path: path.clone(), source })?;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        push(i as u64 + 1, bytes);
    }
    Ok((records, unparsable))
}

/// Runs `packager send`.
pub fn run(args: SendArgs, file: &FileConfig) -> Result<()> {
    let from_file: SendArgs = file.send.clone().try_into().map_err(|e: toml::de::Error| ConfigError::table("send", &e))?;
    let tf_path = args.terraform_outputs.clone().or(from_file.terraform_outputs.clone());
    let tf = match &tf_path {
        Some(p) => TerraformOutputs::read(p)?,
        None => TerraformOutputs::default(),
    };
    let stream =
        args.stream.clone().or_else(|| tf.get("kinesis_stream_arn")).or(from_file.stream.clone()).ok_or_else(|| AwsError::Missing {
            what: "stream",
            flag: "--stream",
            key: "stream",
            terraform: ", or give --terraform-outputs with kinesis_stream_arn".into(),
        })?;
    let stream = Stream::parse(&stream);
    let region = args.region.clone().or_else(|| tf.get("aws_region")).or(from_file.region.clone());
    let endpoint = args.endpoint_url.clone().or(from_file.endpoint_url.clone());
    let max_attempts = args.max_attempts.or(from_file.max_attempts).unwrap_or(8);
    if max_attempts == 0 {
        return Err(AwsError::Invalid { flag: "--max-attempts", message: "0; it must be at least 1".into() }.into());
    }
    let output = args.output.or(from_file.output).unwrap_or(OutputFormat::Text);
    let config = resolve_detector(&args.detector, file)?;
    let (records, unparsable) = read_records(&args, &config)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AwsError::Call { action: "starting the async runtime".into(), message: e.to_string() })?;
    let mut report = runtime.block_on(async {
        let sdk = aws::load(region.as_deref(), endpoint.as_deref()).await?;
        let client = Client::new(&sdk);
        send(&client, &stream, records, max_attempts, Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) }).await
    })?;
    report.unparsable = unparsable;
    if !report.not_sent.is_empty() {
        return Err(not_sent_error(&report, max_attempts));
    }
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string(&report).expect("report serialises")),
        OutputFormat::Text => {
            let unparsable = if report.unparsable > 0 {
                format!("; {} lines the kernel cannot parse went too, for the job's dead-letter output", report.unparsable)
            } else {
                String::new()
            };
            println!(
                "sent {} records to {} in {} PutRecords requests ({} retried){unparsable}",
                report.sent, report.stream, report.requests, report.retried
            );
        }
    }
    Ok(())
}

/// The error for records left over, listing the first lines and how many more.
pub fn not_sent_error(report: &SendReport, attempts: u32) -> SendError {
    const SHOWN: usize = 20;
    let mut list: Vec<String> = report.not_sent.iter().take(SHOWN).map(|n| format!("  line {}: {}", n.line, n.error)).collect();
    if report.not_sent.len() > SHOWN {
        list.push(format!("  … and {} more", report.not_sent.len() - SHOWN));
    }
    SendError::NotSent {
        stream: report.stream.clone(),
        count: report.not_sent.len(),
        total: report.records,
        attempts,
        list: list.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: u64, bytes: usize) -> Record {
        Record { line, partition_key: "k".into(), data: vec![b'x'; bytes - 1] }
    }

    #[test]
    fn batches_hold_at_most_500_records() {
        let records: Vec<Record> = (0..1201).map(|i| record(i, 100)).collect();
        let sizes: Vec<usize> = batches(&records).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, [500, 500, 201]);
    }

    #[test]
    fn batches_hold_at_most_5_mib() {
        // 600 KiB records: 8 fit in 5 MiB (4.7 MiB), the 9th would not.
        let records: Vec<Record> = (0..20).map(|i| record(i, 600 * 1024)).collect();
        let ranges = batches(&records);
        assert_eq!(ranges.iter().map(|r| r.len()).collect::<Vec<_>>(), [8, 8, 4]);
        for r in ranges {
            assert!(records[r].iter().map(Record::size).sum::<usize>() <= MAX_BATCH_BYTES);
        }
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn the_partition_key_is_the_kernels_key() {
        let config = Config::default();
        assert_eq!(
            partition_key(&config, br#"{"userId":"u7","amount":3,"timestamp":1767225600000,"transactionId":"t1"}"#, 1),
            ("u7".into(), true)
        );
        let composite = Config::from_json(br#"{"key_field":"host,metric"}"#).unwrap();
        let event = br#"{"host":"a","metric":"cpu","amount":1,"timestamp":1767225600000,"transactionId":"t1"}"#;
        let (key, parsed) = partition_key(&composite, event, 1);
        assert!(parsed);
        assert_eq!(key, detector_wasm::parse(&composite, event).unwrap().key);
        assert_eq!(partition_key(&config, b"not json", 9), ("unparsable-9".into(), false));
        let long = format!(r#"{{"userId":"{}","amount":1,"timestamp":1767225600000,"transactionId":"t1"}}"#, "u".repeat(300));
        assert_eq!(partition_key(&config, long.as_bytes(), 2), ("unparsable-2".into(), false), "too long for a partition key");
    }

    #[test]
    fn the_not_sent_error_lists_lines_and_counts_the_rest() {
        let report = SendReport {
            stream: "s".into(),
            records: 30,
            not_sent: (1..=25).map(|line| NotSent { line, error: "ProvisionedThroughputExceededException: slow down".into() }).collect(),
            ..Default::default()
        };
        let text = not_sent_error(&report, 8).to_string();
        assert!(text.starts_with("25 of 30 records were not sent to `s` after 8 attempts each:"), "{text}");
        assert!(text.contains("line 20: ProvisionedThroughputExceededException") && !text.contains("line 21:"), "{text}");
        assert!(text.ends_with("… and 5 more"), "{text}");
    }
}
