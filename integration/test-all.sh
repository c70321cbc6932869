#!/usr/bin/env bash
# The one command that runs every test. It installs what the tests need on a fresh machine:
# the SSH test-host image (built once with mmdebstrap, then cached by Docker) and the moto
# EC2 test server in a virtualenv (.venv-moto), the OpenStack client that checks the OpenStack
# stand-in (.venv-openstack), ansible-core to compare with (.venv-ansible). Docker must be running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
    echo "error: Docker is not available; the integration tests need it (they start SSH hosts as containers)" >&2
    exit 1
fi
# Tools the tests run on this machine: a signed apt repository (dpkg-dev, gpg), loop devices,
# and git (the app repository the role tests serve).
missing=""
command -v git >/dev/null || missing="$missing git"
command -v dpkg-scanpackages >/dev/null || missing="$missing dpkg-dev"
command -v gpg >/dev/null || missing="$missing gpg"
command -v losetup >/dev/null || missing="$missing mount"
command -v ssh-keygen >/dev/null || missing="$missing openssh-client"
if [ -n "$missing" ]; then
    echo "== installing$missing"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
echo "== test-host image: $(bash integration/image/build.sh)"
if [ -f integration/moto/setup.sh ]; then
    echo "== moto: $(bash integration/moto/setup.sh)"
fi
echo "== ansible-core (the oracle for Ansible's behaviour): $(bash integration/ansible/setup.sh)"
# The OpenStack stand-in (for the coming OpenStack backend) is checked with the real
# `openstack` CLI before anything relies on it.
echo "== OpenStack stand-in checked with python-openstackclient"
openstack_log="$(mktemp)"
if ! bash integration/openstack/check.sh >"$openstack_log" 2>&1; then
    cat "$openstack_log"
    echo "error: the OpenStack stand-in does not behave as the real client expects" >&2
    exit 1
fi
tail -n 1 "$openstack_log"
rm -f "$openstack_log"

# The CouchDB stand-in package the couchdb role is tested against is checked on its own first.
echo "== CouchDB stand-in self-check"
couchdb_log="$(mktemp)"
if ! bash tests/fixtures/couchdb-standin/selfcheck.sh >"$couchdb_log" 2>&1; then
    cat "$couchdb_log"
    echo "error: the CouchDB stand-in package does not behave as its README says" >&2
    exit 1
fi
tail -n 1 "$couchdb_log"
rm -f "$couchdb_log"

echo "== format and lints"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings

echo "== tests"
cargo test --all-targets
