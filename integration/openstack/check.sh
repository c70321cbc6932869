#!/usr/bin/env bash
# Checks the OpenStack stand-in (standin.py) with the real `openstack` CLI: installs the pinned
# client (setup.sh), builds the SSH test-host image, then runs check.py, which starts the
# stand-in on a free loopback port and drives it. Needs Docker. Last line: "N passed, N failed".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! docker info >/dev/null 2>&1; then
    echo "error: Docker is not available; the stand-in's servers are containers" >&2
    exit 1
fi
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || {
    echo "error: ssh and ssh-keygen are needed (Debian: openssh-client)" >&2
    exit 1
}
openstack="$(bash "$here/setup.sh")"
image="$(bash "$root/integration/image/build.sh")"
network="os-standin-$$"

# Whatever happens to check.py, no container or network of this run outlives it.
cleanup() {
    local ids
    ids="$(docker ps -aq --filter "label=openstack-standin.network=$network" 2>/dev/null || true)"
    if [ -n "$ids" ]; then docker rm -f $ids >/dev/null 2>&1 || true; fi
    docker network rm "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# In the background so that a signal to this script reaches check.py at once (bash runs traps
# only after a foreground child ends); check.py stops the stand-in, then cleanup runs.
python3 "$here/check.py" --openstack "$openstack" --docker-image "$image" \
    --network-name "$network" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 143' TERM
trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit 130' INT
wait "$child"
