#!/usr/bin/env bash
# `packager build --local` end to end, alerter included: the build report must list the jar and the alerter zip that
# Terraform reads (target/packager/alerter.zip), with the sizes and sha256 of the files actually on disk, and the
# jar's manifest must say it is a local build with the host linked for glibc 2.17. Needs FLINK_HOME (tests/setup.sh)
# and what infra/alerter/scripts/build.sh needs.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"$("$repo/tests/debug-build.sh")/packager" build --local --output json >"$report"
python3 - "$report" "$repo" <<'PY'
import hashlib, json, os, sys, zipfile
report = json.load(open(sys.argv[1]))
repo = sys.argv[2]
by_name = {os.path.basename(a["path"]): a for a in report["artifacts"]}
for name in ("anomaly-detector.jar", "alerter.zip"):
    assert name in by_name, f"build report lists no {name}: {sorted(by_name)}"
    a = by_name[name]
    path = a["path"] if os.path.isabs(a["path"]) else os.path.join(repo, a["path"])
    data = open(path, "rb").read()
    assert a["size"] == len(data), f"{name}: report says {a['size']} bytes, file has {len(data)}"
    assert a["sha256"] == hashlib.sha256(data).hexdigest(), f"{name}: sha256 in the report is not the file's"
assert os.path.samefile(by_name["alerter.zip"]["path"], os.path.join(repo, "target/packager/alerter.zip"))
with zipfile.ZipFile(os.path.join(repo, "target/packager/alerter.zip")) as z:
    assert "bootstrap" in z.namelist(), "the Lambda zip has no bootstrap at its root"
with zipfile.ZipFile(by_name["anomaly-detector.jar"]["path"]) as z:
    manifest = json.loads(z.read("META-INF/anomaly-detector/build.json"))
assert manifest["local"] is True and manifest["kinesisConnector"] is None, manifest
assert manifest["hostTarget"] == "x86_64-unknown-linux-gnu.2.17", f"host not built for glibc 2.17: {manifest['hostTarget']}"
print(f"packager build --local: jar and alerter zip as reported ({len(by_name)} artifacts)")
PY
