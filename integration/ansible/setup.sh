#!/usr/bin/env bash
# Installs ansible-core (PyPI), the oracle the tests compare provision's behaviour with, into
# .venv-ansible at the repository root, once. Prints the path of the ansible-playbook program.
set -euo pipefail
exec bash "$(dirname "$0")/../venv-tool.sh" .venv-ansible ansible-core "${ANSIBLE_CORE_VERSION:-2.19.14}" ansible-playbook
