#!/usr/bin/env bash
# Benchmark: apply bench/workload (24 tasks + a handler: directories, 10 templates, a copy, a guarded
# command, a symlink, touches) to N container SSH hosts, and print cold (first) and warm (second,
# nothing to change) wall-clock times. Usage: bench/run.sh [N ...]   (default: 1 10 50)
set -euo pipefail
cd "$(dirname "$0")/.."
image=$(bash integration/image/build.sh)
cargo build --release -q
bin="$PWD/target/release/provision"
work=$(mktemp -d)
containers=()
cleanup() {
    [ ${#containers[@]} -eq 0 ] || docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$work/key"

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
totals() { python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print("changed=%d failed=%d unreachable=%d" % (t["changed"], t["failed"], t["unreachable"]))'; }

printf '%-6s %-10s %-10s %s\n' hosts cold_s warm_s check
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 10 50)
for n in "${counts[@]}"; do
    containers=()
    for i in $(seq 1 "$n"); do
        containers+=("$(docker run -d -e AUTHORIZED_KEY="$(cat "$work/key.pub")" -p 127.0.0.1::22 "$image")")
    done
    inventory="$work/inventory-$n"
    echo "[bench]" > "$inventory"
    i=0
    for c in "${containers[@]}"; do
        i=$((i + 1))
        until docker logs "$c" 2>&1 | grep -q "Server listening"; do sleep 0.1; done
        port=$(docker port "$c" 22/tcp | head -1 | sed 's/.*://')
        echo "h$i ansible_host=127.0.0.1 ansible_port=$port" >> "$inventory"
    done
    printf '[bench:vars]\nansible_ssh_private_key_file=%s\nbase=/home/ubuntu/bench/{{ inventory_hostname }}\nworkers=4\n' "$work/key" >> "$inventory"
    rm -f "$work/known_hosts"
    args=(run bench --hosts "$inventory" --tasks-dir bench/workload/tasks --known-hosts "$work/known_hosts" --json)
    # A failing run still prints its totals; the figures say what happened.
    t0=$(now); cold=$("$bin" "${args[@]}" | totals || true); t1=$(now)
    warm=$("$bin" "${args[@]}" | totals || true); t2=$(now)
    printf '%-6s %-10s %-10s cold:%s warm:%s\n' "$n" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$cold" "$warm"
    docker rm -f "${containers[@]}" >/dev/null
    containers=()
done
