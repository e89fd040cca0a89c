#!/usr/bin/env bash
# Builds the alerter Lambda for the provided.al2023 runtime on arm64 (Graviton) as a zip with the executable
# `bootstrap` at its root.
#
#   infra/alerter/scripts/build.sh [OUT_ZIP]
#
# OUT_ZIP defaults to target/packager/alerter.zip under the repository root: the path Terraform reads and
# `packager build` produces. A relative OUT_ZIP is taken from the current directory. stdout carries only the
# absolute path of the zip; progress goes to stderr.
#
# Needs cargo-lambda and zig (`pip install cargo-lambda ziglang`) and the rustup target aarch64-unknown-linux-gnu.
set -euo pipefail

fail() {
    echo "build.sh: $*" >&2
    exit 1
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ $# -le 1 ] || fail "expected at most one argument, the output zip path; got $#: $*"
out="${1:-$root/target/packager/alerter.zip}"
case "$out" in
    *.zip) ;;
    *) fail "OUT_ZIP must end in .zip (got $out): Lambda takes the function as a zip" ;;
esac
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

cargo lambda --version >/dev/null 2>&1 || fail "cargo-lambda is not installed: pip install cargo-lambda ziglang"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    fail "the rust target aarch64-unknown-linux-gnu is missing: rustup target add aarch64-unknown-linux-gnu"
fi

# cargo-lambda's own lambda dir, so the zip is found whatever CARGO_TARGET_DIR says.
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# cargo-lambda applies its release optimizations (strip, LTO, one codegen unit, panic=abort) wherever the workspace's
# release profile leaves them unset: a smaller binary starts faster on a cold invocation, at the cost of a slow final
# link (measured here: 4-5 min for the last step on 2 busy cores).
# All of cargo's output goes to stderr: stdout is the zip path only.
(cd "$root" && cargo lambda build --release --arm64 --output-format zip --package alerter --lambda-dir "$stage") >&2

built="$stage/alerter/bootstrap.zip"
[ -f "$built" ] || fail "cargo lambda build did not produce $built"

# Lambda runs the file called bootstrap at the root of the zip, and provided.al2023 on arm64 needs an aarch64 ELF:
# refuse to hand over anything else.
python3 - "$built" <<'PY' || fail "the built zip is not a provided.al2023 arm64 function (see above)"
import sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    names = z.namelist()
    if "bootstrap" not in names:
        sys.exit(f"{path} has no bootstrap at its root (it has {names})")
    mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
    if not mode & 0o111:
        sys.exit(f"bootstrap in {path} is not executable (mode {mode:o})")
    head = z.read("bootstrap")[:20]
    # ELF magic, then e_machine (bytes 18-19, little endian) 0xB7 = EM_AARCH64.
    if head[:4] != b"\x7fELF" or head[18:20] != b"\xb7\x00":
        sys.exit(f"bootstrap in {path} is not an aarch64 ELF executable")
PY
mv -f "$built" "$out"
echo "build.sh: wrote $out ($(wc -c <"$out") bytes)" >&2
echo "$out"
