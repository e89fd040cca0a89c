#!/usr/bin/env bash
# Prints a FLINK_HOME whose lib/ holds the jars of one Flink release, fetching them once from PyPI (Maven Central is
# not reachable here; the apache-flink-libraries sdist carries flink-dist, the file and table connectors and log4j).
#
#   job-template/scripts/flink-home.sh [VERSION]    VERSION: 2.2 (default), 1.20, or an exact release such as 1.20.3
#
# The short names pin the release each Managed Flink runtime is tested against, from tests/tools.env:
# 2.2 → FLINK_2_2_VERSION (FLINK-2_2), 1.20 → FLINK_1_20_VERSION (FLINK-1_20). Idempotent: a complete copy under
# <repo>/.tools/flink-<release> is reused. Progress goes to stderr, the path to stdout.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/tools.env
source "$repo/tests/tools.env"
case "${1:-2.2}" in
    2.2) VERSION="$FLINK_2_2_VERSION" ;;
    1.20) VERSION="$FLINK_1_20_VERSION" ;;
    [0-9]*.[0-9]*.[0-9]*) VERSION="$1" ;;
    *) echo "flink-home.sh: unknown Flink version \`$1\`; use 2.2, 1.20 or an exact release like 2.2.0" >&2; exit 2 ;;
esac
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
sdist="$(ls "$work"/apache[-_]flink[-_]libraries-"$VERSION".tar.gz)"
tar -xzf "$sdist" -C "$work" --wildcards '*/deps/lib/*'
mkdir -p "$home"
mv "$work"/apache[-_]flink[-_]libraries-"$VERSION"/deps/lib "$home/lib"
rm -rf "$work"
ls "$home"/lib/flink-dist*.jar >/dev/null
touch "$home/.complete"
echo "$home"
