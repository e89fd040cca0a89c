#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, idempotently (a second run does almost nothing).
# Sourced by tests/run-all, so the PATH and FLINK_HOME it exports reach every test step; it can also be run alone.
#
#   rustup targets   wasm32-unknown-unknown (the kernel), aarch64-unknown-linux-gnu (the alerter Lambda)
#   Debian           junit5 (the JUnit console launcher for the Flink job's tests), chromium + chromium-driver
#                    (browser tests of the report and the playground), qemu-user + libc6-arm64-cross (to run
#                    the arm64 alerter from its zip in the invoke test)
#   Python (venv)    .tools/venv: moto[server], scipy, cargo-lambda, ziglang, cargo-zigbuild
#                    .tools/checkov: checkov alone, since its pins fight moto's
#   Flink            2.2 and 1.20 jars from PyPI apache-flink-libraries into .tools/flink-VERSION (FLINK_HOME,
#                    FLINK_HOME_1_20)
#   cargo install    cargo-fuzz (the fuzz step), wasm-bindgen-cli matching Cargo.lock (the playground)
#   Node.js + npm    present on these machines; the browser tests `npm ci` playwright-core themselves
# Every version is in tests/tools.env; a test that finds a tool missing fails and names this script, it never skips.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo/.tools"
mkdir -p "$tools"
say() { echo "setup: $*" >&2; }
# shellcheck source=tests/tools.env
source "$repo/tests/tools.env"

# Incremental compilation state is for edit-compile loops; a test run from scratch only pays its disk (~1.5 GB).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

say "rust targets"
rustup target add wasm32-unknown-unknown aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || rustup target add wasm32-unknown-unknown aarch64-unknown-linux-gnu

apt_packages=(junit5 chromium chromium-driver qemu-user libc6-arm64-cross)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    say "apt: ${missing[*]}"
    sudo_cmd=()
    [[ "$(id -u)" == 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

venv() { # venv DIR PACKAGES...: a virtualenv holding exactly these pinned packages
    local dir="$1"
    shift
    local stamp="$dir/.installed"
    if [[ ! -x "$dir/bin/python" ]]; then
        python3 -m venv "$dir"
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$*" ]]; then
        say "pip into ${dir#"$repo"/}: $*"
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
        echo "$*" >"$stamp"
    fi
}
venv "$tools/venv" "moto[server]==$MOTO_VERSION" "scipy==$SCIPY_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
venv "$tools/checkov" "checkov==$CHECKOV_VERSION"
export PATH="$tools/venv/bin:$tools/checkov/bin:$HOME/.cargo/bin:$PATH"

say "flink"
# Flink 2.2 (the default build) and 1.20 (kept): the job is built and tested against both.
FLINK_HOME="$("$repo/job-template/scripts/flink-home.sh" 2.2)"
FLINK_HOME_1_20="$("$repo/job-template/scripts/flink-home.sh" 1.20)"
export FLINK_HOME FLINK_HOME_1_20

# cargo install for test tools: a light release profile (tools, not the product; no LTO) in a throwaway target dir.
tool_install() {
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_TARGET_DIR="$tools/cargo-install-target" cargo install --quiet "$@"
    rm -rf "$tools/cargo-install-target"
}

# The playground's bindings must come from the CLI of exactly the wasm-bindgen version in Cargo.lock. Not --locked:
# the CLI's own lockfile names a webpki-roots release the registry no longer serves. Only the `wasm-bindgen` binary,
# without TLS (it never downloads anything) and with a light release profile: a glue generator run once per build
# needs no LTO (tool_install), and this keeps the install to ~4 min on two cores instead of 10-20.
bindgen="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$repo/Cargo.lock")"
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]]; then
    say "cargo install wasm-bindgen-cli $bindgen"
    tool_install --force --no-default-features --bin wasm-bindgen wasm-bindgen-cli --version "$bindgen"
fi

command -v npm >/dev/null || { say "npm is missing: install Node.js 20+ with npm"; exit 1; }

if [[ "$(cargo-fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    say "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
    tool_install --force --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi
