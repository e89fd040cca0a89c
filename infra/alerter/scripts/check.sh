#!/usr/bin/env bash
# The alerter's entry script for CI: unit tests, the SNS-on-moto integration test, the `cargo lambda invoke` test,
# then the provided.al2023 arm64 zip.
#
#   infra/alerter/scripts/check.sh
#
# Needs (see infra/alerter/README.md): pip `cargo-lambda`, `ziglang`, `moto[server]`; rustup target
# aarch64-unknown-linux-gnu; python3. Every server the tests start listens on 127.0.0.1 and is stopped by them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
started=$SECONDS

missing=()
command -v moto_server >/dev/null || missing+=("moto_server (pip install 'moto[server]')")
cargo lambda --version >/dev/null 2>&1 || missing+=("cargo-lambda (pip install cargo-lambda ziglang)")
command -v python3 >/dev/null || missing+=("python3")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'check.sh: missing: %s\n' "${missing[@]}" >&2
    exit 1
fi

echo "==> cargo test -p alerter -p test-support" >&2
(cd "$root" && cargo test -p alerter -p test-support)

echo "==> infra/alerter/build.sh" >&2
zip="$("$root/infra/alerter/build.sh")"
[ "$zip" = "$root/target/packager/alerter.zip" ] || {
    echo "check.sh: build.sh wrote $zip, expected $root/target/packager/alerter.zip (the path Terraform reads)" >&2
    exit 1
}
echo "==> PASS in $((SECONDS - started)) s: $zip" >&2
