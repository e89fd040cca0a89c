//! The Flink versions the job is built for, and everything that follows from the choice: the Managed Flink runtime
//! name, the Java bytecode level, the version-specific sources, the Flink release compiled against and the Kinesis
//! connector release. The one place that knows them; `build`, `run --flink` and `deploy` ask here.

use serde::{Deserialize, Serialize};

/// A Flink version the job can be built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, Serialize, Deserialize)]
pub enum FlinkVersion {
    /// Flink 2.2: Managed Flink's FLINK-2_2 (Java 17), AWS's default for new applications.
    #[default]
    #[value(name = "2.2")]
    #[serde(rename = "2.2")]
    V2_2,
    /// Flink 1.20: Managed Flink's FLINK-1_20 (Java 11), kept for applications that have not moved yet.
    #[value(name = "1.20")]
    #[serde(rename = "1.20")]
    V1_20,
}

impl FlinkVersion {
    /// Every version, newest first.
    pub const ALL: [FlinkVersion; 2] = [FlinkVersion::V2_2, FlinkVersion::V1_20];

    /// `2.2`, `1.20`: what `--flink-version` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            FlinkVersion::V2_2 => "2.2",
            FlinkVersion::V1_20 => "1.20",
        }
    }

    /// The Managed Flink runtime environment (`FLINK-2_2`): what build.json records and deploy compares.
    pub fn runtime(self) -> &'static str {
        match self {
            FlinkVersion::V2_2 => "FLINK-2_2",
            FlinkVersion::V1_20 => "FLINK-1_20",
        }
    }

    /// The version a Managed Flink runtime name stands for; `None` for runtimes the job is not built for.
    pub fn from_runtime(runtime: &str) -> Option<FlinkVersion> {
        FlinkVersion::ALL.into_iter().find(|v| v.runtime() == runtime)
    }

    /// The version of a Flink release (`2.2.0` → 2.2); `None` for releases the job is not built for.
    pub fn of_release(release: &str) -> Option<FlinkVersion> {
        let mut parts = release.split('.');
        let minor = format!("{}.{}", parts.next()?, parts.next()?);
        FlinkVersion::ALL.into_iter().find(|v| v.as_str() == minor)
    }

    /// `javac --release`: the Java the runtime runs.
    pub fn java_release(self) -> u32 {
        match self {
            FlinkVersion::V2_2 => 17,
            FlinkVersion::V1_20 => 11,
        }
    }

    /// The Flink release whose API jars the job is compiled against when no Flink distribution is given.
    pub fn release(self) -> &'static str {
        match self {
            FlinkVersion::V2_2 => "2.2.0",
            FlinkVersion::V1_20 => "1.20.3",
        }
    }

    /// The version-specific job sources, next to the shared `job-template/java/src/main/java`.
    pub fn sources(self) -> String {
        format!("job-template/java/src/flink-{}/java", self.as_str())
    }

    /// The release of `flink-sql-connector-aws-kinesis-streams` for this Flink: 6.0.0 is the only AWS connector
    /// Managed Flink 2.2 supports; 5.1.0 is the last for 1.20.
    pub fn kinesis_connector(self) -> &'static str {
        match self {
            FlinkVersion::V2_2 => "6.0.0-2.0",
            FlinkVersion::V1_20 => "5.1.0-1.20",
        }
    }
}

impl std::fmt::Display for FlinkVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_releases_and_names_map_both_ways() {
        for v in FlinkVersion::ALL {
            assert_eq!(FlinkVersion::from_runtime(v.runtime()), Some(v));
            assert_eq!(FlinkVersion::of_release(v.release()), Some(v));
        }
        assert_eq!(FlinkVersion::default(), FlinkVersion::V2_2);
        assert_eq!(FlinkVersion::of_release("2.2.1"), Some(FlinkVersion::V2_2));
        assert_eq!(FlinkVersion::of_release("1.19.1"), None);
        assert_eq!(FlinkVersion::from_runtime("FLINK-1_18"), None);
        assert_eq!((FlinkVersion::V2_2.java_release(), FlinkVersion::V1_20.java_release()), (17, 11));
    }
}
