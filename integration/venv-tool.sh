#!/usr/bin/env bash
# Installs one pinned PyPI tool into its own virtualenv at the repository root, once, and prints
# the path of its program. Usage: venv-tool.sh VENV DISTRIBUTION VERSION PROGRAM [EXTRAS]
# (e.g. `venv-tool.sh .venv-moto moto 5.2.5 moto_server server`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/$1" distribution="$2" version="$3" program="$4" extras="${5:-}"
requirement="$distribution${extras:+[$extras]}==$version"
if [ ! -x "$venv/bin/$program" ] || ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$distribution') != '$version')" 2>/dev/null; then
    echo "installing $requirement into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement" >&2
fi
echo "$venv/bin/$program"
