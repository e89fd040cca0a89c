#!/usr/bin/env bash
# Prints a FLINK_HOME whose lib/ holds the jars of the Flink version in tests/tools.env (FLINK_VERSION), fetching them
# once from PyPI (Maven Central is not reachable here; the apache-flink-libraries sdist carries flink-dist, the file
# and table connectors and log4j). Idempotent: a complete copy under <repo>/.tools/flink-VERSION is reused. Progress
# goes to stderr, the path to stdout.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/tools.env
source "$repo/tests/tools.env"
VERSION="$FLINK_VERSION"
home="$repo/.tools/flink-$VERSION"

if [[ -f "$home/.complete" ]]; then
    echo "$home"
    exit 0
fi

work="$repo/.tools/download-flink-$VERSION"
rm -rf "$work" "$home"
mkdir -p "$work"
echo "fetching apache-flink-libraries==$VERSION from PyPI (about 230 MB) ..." >&2
python3 -m pip download --quiet --no-deps --no-binary :all: "apache-flink-libraries==$VERSION" -d "$work" >&2
sdist="$(ls "$work"/apache-flink-libraries-"$VERSION".tar.gz)"
tar -xzf "$sdist" -C "$work" --wildcards '*/deps/lib/*'
mkdir -p "$home"
mv "$work"/apache-flink-libraries-"$VERSION"/deps/lib "$home/lib"
rm -rf "$work"
ls "$home"/lib/flink-dist*.jar >/dev/null
touch "$home/.complete"
echo "$home"
