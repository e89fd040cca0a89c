//! A reproducible jar: entries sorted by name, one fixed timestamp, fixed permissions and compression, the manifest
//! first (where `JarInputStream` looks for it). Merged jars give up their signatures and manifests; their
//! `META-INF/services` files are merged line by line, since a service file overwritten by another jar's silently
//! unregisters connectors or formats.

use super::error::BuildError;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

const MANIFEST: &str = "META-INF/MANIFEST.MF";
const SERVICES: &str = "META-INF/services/";

/// The entries of a jar being assembled.
#[derive(Debug, Default)]
pub struct JarBuilder {
    entries: BTreeMap<String, Vec<u8>>,
    /// Service file → provider class names, in first-seen order, without duplicates.
    services: BTreeMap<String, Vec<String>>,
}

impl JarBuilder {
    /// An empty jar.
    pub fn new() -> JarBuilder {
        JarBuilder::default()
    }

    /// Adds one entry. The first source of a name wins (the job's own files are added before any connector).
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        if let Some(service) = name.strip_prefix(SERVICES).filter(|s| !s.is_empty() && !s.contains('/')) {
            let providers = self.services.entry(format!("{SERVICES}{service}")).or_default();
            for line in String::from_utf8_lossy(&bytes).lines() {
                let line = line.trim();
                if !line.is_empty() && !providers.iter().any(|p| p == line) {
                    providers.push(line.to_string());
                }
            }
        } else if name == MANIFEST || is_signature(name) {
            // The jar gets its own manifest; another jar's signatures would not match the merged content.
        } else if self.entries.contains_key(name) {
            tracing::debug!("jar entry {name} is already present; keeping the first");
        } else {
            self.entries.insert(name.to_string(), bytes);
        }
    }

    /// Adds every file under `dir`, named by its path relative to `dir` (with `/`).
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), BuildError> {
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        for path in files {
            let Ok(rel) = path.strip_prefix(dir) else { continue };
            let name: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let bytes = std::fs::read(&path).map_err(|e| BuildError::read(&path, e))?;
            self.add(&name.join("/"), bytes);
        }
        Ok(())
    }

    /// Adds every file entry of the jar at `path`.
    pub fn merge_jar(&mut self, path: &Path) -> Result<(), BuildError> {
        let bad = |e: &dyn std::fmt::Display| BuildError::BadJar { path: path.to_path_buf(), message: e.to_string() };
        let file = std::fs::File::open(path).map_err(|e| BuildError::read(path, e))?;
        let mut archive = ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(&e))?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(|e| bad(&e))?;
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().map_err(|e| bad(&e))?.to_string();
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| bad(&e))?;
            self.add(&name, bytes);
        }
        Ok(())
    }

    /// Writes the jar with `Main-Class: main_class`; the same entries always give the same bytes.
    pub fn write(self, out: &Path, main_class: &str, created_by: &str) -> Result<(), BuildError> {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        // DateTime::default() is the zip epoch, 1980-01-01 00:00: no build time leaks into the bytes.
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644);
        let manifest = format!("Manifest-Version: 1.0\r\nMain-Class: {main_class}\r\nCreated-By: {created_by}\r\n\r\n");
        let mut all: BTreeMap<String, Vec<u8>> = self.entries;
        for (name, providers) in self.services {
            let mut text = providers.join("\n");
            text.push('\n');
            all.insert(name, text.into_bytes());
        }
        let err = |e: &dyn std::fmt::Display| BuildError::write(out, e);
        zip.start_file(MANIFEST, options).map_err(|e| err(&e))?;
        zip.write_all(manifest.as_bytes()).map_err(|e| err(&e))?;
        for (name, bytes) in all {
            zip.start_file(name, options).map_err(|e| err(&e))?;
            zip.write_all(&bytes).map_err(|e| err(&e))?;
        }
        let bytes = zip.finish().map_err(|e| err(&e))?.into_inner();
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| BuildError::write(dir, e))?;
        }
        // Written aside and renamed, so a reader never sees half a jar.
        let tmp = out.with_extension("jar.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| BuildError::write(&tmp, e))?;
        std::fs::rename(&tmp, out).map_err(|e| BuildError::write(out, e))
    }
}

fn is_signature(name: &str) -> bool {
    let Some(file) = name.strip_prefix("META-INF/") else { return false };
    !file.contains('/') && [".SF", ".RSA", ".DSA", ".EC"].iter().any(|ext| file.to_ascii_uppercase().ends_with(ext))
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), BuildError> {
    for entry in std::fs::read_dir(dir).map_err(|e| BuildError::read(dir, e))? {
        let path = entry.map_err(|e| BuildError::read(dir, e))?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar_with(entries: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = ZipWriter::new(std::fs::File::create(file.path()).unwrap());
        for (name, text) in entries {
            zip.start_file(*name, SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    fn read(path: &Path) -> BTreeMap<String, String> {
        let mut archive = ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut out = BTreeMap::new();
        for i in 0..archive.len() {
            let mut e = archive.by_index(i).unwrap();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            out.insert(e.name().unwrap().to_string(), text);
        }
        out
    }

    #[test]
    fn service_files_are_merged_not_overwritten() {
        let factory = "META-INF/services/org.apache.flink.table.factories.Factory";
        let a = jar_with(&[(factory, "a.KinesisFactory\nshared.Format\n"), ("a/A.class", "A")]);
        let b = jar_with(&[(factory, "# comment\nshared.Format\nb.OtherFactory\n"), ("a/A.class", "B")]);
        let mut jar = JarBuilder::new();
        jar.merge_jar(a.path()).unwrap();
        jar.merge_jar(b.path()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.jar");
        jar.write(&out, "m.Main", "test").unwrap();
        let entries = read(&out);
        assert_eq!(entries[factory], "a.KinesisFactory\nshared.Format\n# comment\nb.OtherFactory\n");
        assert_eq!(entries["a/A.class"], "A", "the first jar's class wins");
    }

    #[test]
    fn the_manifest_comes_first_and_foreign_signatures_are_dropped() {
        let signed =
            jar_with(&[("META-INF/MANIFEST.MF", "Main-Class: other\r\n"), ("META-INF/SIGNER.SF", "x"), ("META-INF/SIGNER.RSA", "x")]);
        let mut jar = JarBuilder::new();
        jar.merge_jar(signed.path()).unwrap();
        jar.add("z.txt", b"z".to_vec());
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.jar");
        jar.write(&out, "m.Main", "test").unwrap();
        let archive = ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
        let names: Vec<String> = archive.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(names[0], MANIFEST);
        assert!(!names.iter().any(|n| n.ends_with(".SF") || n.ends_with(".RSA")), "{names:?}");
        assert!(read(&out)[MANIFEST].contains("Main-Class: m.Main\r\n"));
    }

    #[test]
    fn the_same_entries_in_any_order_give_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("1.jar"), dir.path().join("2.jar"));
        let mut a = JarBuilder::new();
        a.add("b/B.class", vec![1, 2]);
        a.add("a/A.class", vec![3]);
        a.write(&one, "m.Main", "test").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let mut b = JarBuilder::new();
        b.add("a/A.class", vec![3]);
        b.add("b/B.class", vec![1, 2]);
        b.write(&two, "m.Main", "test").unwrap();
        assert_eq!(std::fs::read(one).unwrap(), std::fs::read(two).unwrap());
    }
}
