#!/usr/bin/env bash
# Installs the moto EC2 API server (PyPI `moto[server]`) into .venv-moto at the repository root,
# once. Prints the path of the moto_server program.
set -euo pipefail
exec bash "$(dirname "$0")/../venv-tool.sh" .venv-moto moto 5.2.5 moto_server server
