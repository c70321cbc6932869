#!/usr/bin/env bash
# Regenerates the expected outputs of tests/fixtures/inventory/*.ini with the real ansible-inventory
# (ansible-core from PyPI, in a throw-away virtualenv). The outputs are committed, so the test
# suite does not need Ansible; run this after adding or changing a fixture.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="${ANSIBLE_CORE_VERSION:-2.19.14}"
venv="$(mktemp -d)/ansible"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$version"
export ANSIBLE_DEPRECATION_WARNINGS=False ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
cd "$root/tests/fixtures/inventory"
for ini in *.ini; do
    name="${ini%.ini}"
    "$venv/bin/ansible-inventory" -i "$ini" --list 2>/dev/null > "$name.list.json"
    "$venv/bin/ansible-inventory" -i "$ini" --graph 2>/dev/null > "$name.graph.txt"
    {
        echo "{"
        first=1
        for host in $("$venv/bin/python" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["_meta"]["hostvars"])))' "$name.list.json"); do
            [ $first = 1 ] || echo ","
            first=0
            printf '"%s": ' "$host"
            "$venv/bin/ansible-inventory" -i "$ini" --host "$host" 2>/dev/null
        done
        echo "}"
    } > "$name.host.json"
    echo "$ini: ansible-core $version"
done
