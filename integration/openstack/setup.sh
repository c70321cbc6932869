#!/usr/bin/env bash
# Installs the reference OpenStack client (PyPI `python-openstackclient`, pinned) into
# .venv-openstack at the repository root, once. The stand-in itself needs only Python's stdlib.
# Prints the path of the `openstack` program.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-openstack"
version="10.5.0"
if [ ! -x "$venv/bin/openstack" ] || ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('python-openstackclient') != '$version')" 2>/dev/null; then
    echo "installing python-openstackclient==$version into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "python-openstackclient==$version" >&2
fi
echo "$venv/bin/openstack"
