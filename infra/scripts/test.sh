#!/usr/bin/env bash
# Every check of infra/terraform, in the order a reviewer would ask for them:
#   fmt → init (local provider mirror) → validate → terraform test (mocked provider)
#   → checkov → policy lint → README tables up to date / validation coverage
#   → apply + destroy against moto_server (infra/scripts/moto-apply.sh)
# Idempotent; leaves nothing behind but infra/terraform/.terraform (gitignored).
#
# Usage: infra/scripts/test.sh [--no-moto]
#   --no-moto (or INFRA_CHECK_MOTO=0)  skip the moto apply/destroy (~2-3 min on 2 cores)
# Needs: terraform >= 1.9 with hashicorp/aws 5.100 in a local mirror (found, or TF_PLUGIN_DIR),
#        python3, and on PATH checkov and moto_server at the versions of tests/tools.env
#        (tests/setup.sh installs them); a missing tool fails the script, naming the fix.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$(cd "$here/../terraform" && pwd)"
# shellcheck source=infra/scripts/lib.sh
source "$here/lib.sh"

# shellcheck source=tests/tools.env
source "$here/../../tests/tools.env"

run_moto="${INFRA_CHECK_MOTO:-1}"
for arg in "$@"; do
  case "$arg" in
    --no-moto) run_moto=0 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (known: --no-moto)" ;;
  esac
done

t0=$SECONDS
step() { printf '\n== %s (%ss)\n' "$1" "$((SECONDS - t0))"; }

step "tools"
command -v terraform >/dev/null || die "terraform not found: install Terraform >= 1.9 (1.11 is what this was tested with)"
command -v checkov >/dev/null || die "checkov is not on PATH: run tests/setup.sh (it installs checkov==$CHECKOV_VERSION)"
if [[ "$run_moto" == 1 ]]; then
  command -v moto_server >/dev/null || die "moto_server is not on PATH: run tests/setup.sh (it installs moto[server]==$MOTO_VERSION)"
fi
plugin_dir="$(tf_plugin_dir)"
echo "terraform $(terraform version -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])')," \
  "checkov $(tool_version checkov checkov)," \
  "moto $(tool_version moto_server moto)," \
  "provider mirror $plugin_dir"

export TF_IN_AUTOMATION=1 TF_INPUT=0
tf() { terraform -chdir="$module" "$@"; }

step "terraform fmt -check -recursive"
tf fmt -check -recursive -diff || die "terraform files are not formatted: run terraform -chdir=infra/terraform fmt -recursive"
# fmt skips *.example; the file is HCL all the same and users copy it verbatim.
terraform fmt -check - <"$module/terraform.tfvars.example" >/dev/null \
  || die "terraform.tfvars.example is not formatted: terraform fmt - < infra/terraform/terraform.tfvars.example"

step "terraform init -backend=false -plugin-dir=$plugin_dir"
tf init -backend=false -plugin-dir="$plugin_dir" -no-color >/dev/null

step "terraform validate"
tf validate -no-color

step "terraform test (mocked aws provider)"
tf test -no-color | grep -vE '^\s+run ".*"\.\.\. pass$'
# terraform test exits non-zero on a failed run; pipefail carries that here.

step "checkov"
# BC_SKIP_MAPPING / --skip-download: fully offline, no Bridgecrew platform calls.
BC_SKIP_MAPPING=TRUE checkov -d "$module" --skip-download --framework terraform --quiet --compact \
  --skip-path '\.terraform' -o cli

step "policy lint (Resource \"*\" needs a condition; every checkov skip has a reason)"
python3 "$here/policy-lint.py"

step "README inputs/outputs tables and validation coverage"
python3 "$here/tfdocs.py" --check
python3 "$here/tfdocs.py" --coverage

if [[ "$run_moto" == 1 ]]; then
  step "apply + destroy against moto_server"
  "$here/moto-apply.sh"
else
  step "apply + destroy against moto_server: skipped (--no-moto)"
fi

printf '\ninfra checks passed in %ss\n' "$((SECONDS - t0))"
