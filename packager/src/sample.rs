//! The labeled sample bundled with the packager: what `packager run` replays without a file, `packager build`
//! smoke-tests a kernel with, and the playground offers.

/// The labeled sample transactions bundled with the packager (`packager generate --seed 42 --users 60 --events 4000`).
pub const SAMPLE: &[u8] = include_bytes!("../data/sample-transactions.jsonl");
/// How the bundled sample was generated; a test keeps the file and this line in step.
pub const SAMPLE_GENERATE_ARGS: &[&str] = &["--seed", "42", "--users", "60", "--events", "4000"];
