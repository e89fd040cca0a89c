#!/usr/bin/env bash
# Tests of `packager deploy` and `packager send`: unit tests of the deploy and send modules, the Managed Flink calls
# against aws-smithy-mocks rules, S3 and Kinesis against moto_server (started and stopped by each test on 127.0.0.1),
# and the CLI end to end. Needs `moto_server` on PATH (pip install 'moto[server]').
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v moto_server >/dev/null || { echo "moto_server is not on PATH: pip install 'moto[server]'" >&2; exit 1; }
cargo test --quiet --locked -p packager --lib -- aws:: deploy:: send::
cargo test --quiet --locked -p packager --test deploy_flink --test aws_moto --test cli_deploy
