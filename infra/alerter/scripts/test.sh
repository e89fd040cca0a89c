#!/usr/bin/env bash
# The alerter's test entry: the provided.al2023 arm64 zip (scripts/build.sh), then the `cargo lambda invoke` test with
# the zip's own bootstrap run under qemu-aarch64, so the artifact Terraform ships is the one that answers. The crate's
# unit tests, the SNS-on-moto test and the invoke test on the native binary run once, in the `rust` step of
# tests/run-all.
#
#   infra/alerter/scripts/test.sh
#
# Needs (see infra/alerter/README.md): pip `cargo-lambda`, `ziglang`, `moto[server]`; apt `qemu-user`,
# `libc6-arm64-cross`; rustup target aarch64-unknown-linux-gnu; python3. Every server the tests start listens on
# 127.0.0.1 and is stopped by them. A missing tool fails the script, naming it (tests/setup.sh installs them all).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
started=$SECONDS

missing=()
command -v moto_server >/dev/null || missing+=("moto_server (pip install 'moto[server]')")
cargo lambda --version >/dev/null 2>&1 || missing+=("cargo-lambda (pip install cargo-lambda ziglang)")
command -v python3 >/dev/null || missing+=("python3")
command -v qemu-aarch64 >/dev/null || missing+=("qemu-aarch64 (apt-get install qemu-user)")
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=("the arm64 glibc (apt-get install libc6-arm64-cross)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'test.sh: missing: %s\n' "${missing[@]}" >&2
    echo "test.sh: run tests/setup.sh" >&2
    exit 1
fi

echo "==> infra/alerter/scripts/build.sh" >&2
zip="$("$root/infra/alerter/scripts/build.sh")"
[ "$zip" = "$root/target/packager/alerter.zip" ] || {
    echo "test.sh: build.sh wrote $zip, expected $root/target/packager/alerter.zip (the path Terraform reads)" >&2
    exit 1
}
echo "==> cargo lambda invoke of the zip's bootstrap (arm64, under qemu-aarch64)" >&2
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
python3 -m zipfile -e "$zip" "$unpacked"
chmod +x "$unpacked/bootstrap" # python's zipfile does not restore modes; build.sh checked the zip's
(cd "$root" && ALERTER_FUNCTION_CMD="qemu-aarch64 -L /usr/aarch64-linux-gnu $unpacked/bootstrap" \
    cargo test --locked --workspace --all-features --test lambda_invoke)

echo "==> PASS in $((SECONDS - started)) s: $zip" >&2
