# Shared helpers for the infra scripts (sourced, not run).

die() { echo "error: $*" >&2; exit 1; }

# The hashicorp/aws provider is preinstalled in a local mirror (no registry access);
# its location differs between machines, so it is found, not hardcoded.
# TF_PLUGIN_DIR overrides the search.
tf_plugin_dir() {
  if [[ -n "${TF_PLUGIN_DIR:-}" ]]; then
    [[ -d "$TF_PLUGIN_DIR/registry.terraform.io" ]] || die "TF_PLUGIN_DIR=$TF_PLUGIN_DIR holds no registry.terraform.io/ folder"
    echo "$TF_PLUGIN_DIR"; return
  fi
  local found
  found="$(find / -maxdepth 4 -type d -name registry.terraform.io -path '*/registry.terraform.io' 2>/dev/null \
    | while read -r d; do [[ -d "$d/hashicorp/aws" ]] && echo "$d"; done | head -n1)"
  [[ -n "$found" ]] || die "no local provider mirror (a registry.terraform.io/hashicorp/aws folder within 4 levels of /) found: set TF_PLUGIN_DIR to the folder that holds registry.terraform.io/"
  dirname "$found"
}

# A TCP port nobody listens on right now, on loopback.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# TF_CLI_CONFIG_FILE may point at a file that does not exist on this machine, which makes
# every terraform call print a warning; an empty config means the same thing, quietly.
tf_quiet_cli_config() {
  if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "$TF_CLI_CONFIG_FILE" ]]; then export TF_CLI_CONFIG_FILE=/dev/null; fi
}
tf_quiet_cli_config

# Version of the Python package behind a console script, read from the interpreter in its
# shebang (checkov and moto may live in different virtualenvs; `checkov --version` takes ~8 s).
tool_version() {
  local script package python
  script="$(command -v "$1" 2>/dev/null)" || { echo "-"; return; }
  package="$2"
  python="$(sed -n '1s/^#!//p' "$script")"
  # A shim (pyenv) has a shell shebang: then the package is in python3's environment.
  [[ "$python" == *python* ]] || python=python3
  "$python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null || echo "?"
}
