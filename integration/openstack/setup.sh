#!/usr/bin/env bash
# Installs the reference OpenStack client (PyPI `python-openstackclient`, pinned) into
# .venv-openstack at the repository root, once. The stand-in itself needs only Python's stdlib.
# Prints the path of the `openstack` program.
set -euo pipefail
exec bash "$(dirname "$0")/../venv-tool.sh" .venv-openstack python-openstackclient 10.5.0 openstack
