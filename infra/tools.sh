#!/usr/bin/env bash
# infra/tools.sh: install the deployment tools (infra/requirements.txt: aws-sam-cli, cfn-lint,
# cargo-lambda + ziglang) into a project-local venv at infra/.venv, and print that venv's bin directory.
#
#   PATH="$(bash infra/tools.sh):$PATH"     # then: sam, cfn-lint, cargo lambda, python -m ziglang
#
# Idempotent: the venv is created only when missing, and pip runs only when infra/requirements.txt
# changed since the last successful install (its sha256 is kept in infra/.venv/.requirements.sha256).
# Progress goes to stderr; stdout is only the bin directory. Needs python3 (3.9+) with venv, and PyPI.
# PYTHON=/path/to/python3 picks the interpreter; delete infra/.venv to start over.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "tools.sh: creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv" >&2
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "tools.sh: installing $req" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" >"$stamp"
fi
echo "$venv/bin"
