//! The READMEs that describe the build manifest (`META-INF/anomaly-detector/build.json`) say what the code writes:
//! packager/README.md lists exactly its fields, and job-template/README.md points there instead of keeping a list.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use packager::artifact::{BuildManifest, ConnectorInfo, MANIFEST_ENTRY};
use std::path::Path;

fn readme(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

/// The table row of `readme` that describes the manifest entry.
fn manifest_row(readme: &str) -> String {
    readme.lines().find(|l| l.starts_with(&format!("| `{MANIFEST_ENTRY}`"))).unwrap().to_string()
}

#[test]
fn the_packager_readme_lists_exactly_the_manifest_fields() {
    let manifest = BuildManifest {
        packager_version: String::new(),
        kernel_sha256: String::new(),
        abi_version: 0,
        flink_version: String::new(),
        flink_runtime: String::new(),
        wasmtime_version: String::new(),
        git_revision: String::new(),
        local: false,
        kinesis_connector: Some(ConnectorInfo { artifact: String::new(), version: String::new(), sha256: String::new() }),
        host_target: String::new(),
    };
    let json = serde_json::to_value(&manifest).unwrap();
    let fields: Vec<&String> = json.as_object().unwrap().keys().collect();
    let row = manifest_row(&readme("packager/README.md"));
    let listed: Vec<&str> = row.split('`').skip(3).step_by(2).filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric())).collect();
    let mut fields_sorted: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    fields_sorted.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, fields_sorted, "packager/README.md's build.json row: {row}");
    let connector = json["kinesisConnector"].as_object().unwrap().keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    assert!(row.contains(&format!("{{{connector}}}")), "the row shows kinesisConnector as {{{connector}}}: {row}");
}

#[test]
fn the_job_readme_points_to_the_packager_readme_for_the_manifest() {
    let row = manifest_row(&readme("job-template/README.md"));
    assert!(row.contains("packager/README.md"), "{row}");
    assert!(!row.contains("kernelSha256") && !row.contains("SHA-256"), "a second list of fields drifts: {row}");
}
