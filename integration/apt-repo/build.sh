#!/usr/bin/env bash
# Builds a signed apt repository (suite `stable`, component `main`) for tests that serve it to the
# test hosts over HTTP, from package folders (each with DEBIAN/control and the files to install).
# Writes OUT/key.asc (the signing key) and OUT/other-key.asc (a key that did not sign it).
# The suite is $SUITE (default `stable`): roles name it after the release (`bookworm`).
# Usage: [SUITE=bookworm] build.sh OUT PACKAGE_DIR...
set -euo pipefail
out="$1"
shift
for tool in dpkg-deb dpkg-scanpackages gpg; do
    command -v "$tool" >/dev/null || { echo "build.sh needs $tool (apt-get install dpkg-dev gpg)" >&2; exit 1; }
done
suite="${SUITE:-stable}"
dists="$out/dists/$suite"
mkdir -p "$out/pool" "$dists/main/binary-amd64"
for pkg in "$@"; do
    dpkg-deb --root-owner-group --build "$pkg" "$out/pool/" >/dev/null
done
(cd "$out" && dpkg-scanpackages --multiversion pool /dev/null 2>/dev/null) >"$dists/main/binary-amd64/Packages"
gzip -9nkf "$dists/main/binary-amd64/Packages"
{
    echo "Origin: provision-test"
    echo "Label: provision-test"
    echo "Suite: $suite"
    echo "Codename: $suite"
    echo "Architectures: amd64 all"
    echo "Components: main"
    echo "Date: $(date -Ru)"
    echo "SHA256:"
    for f in main/binary-amd64/Packages main/binary-amd64/Packages.gz; do
        echo " $(sha256sum <"$dists/$f" | cut -d' ' -f1) $(stat -c %s "$dists/$f") $f"
    done
} >"$dists/Release"

GNUPGHOME="$(mktemp -d)"
export GNUPGHOME
trap 'rm -rf "$GNUPGHOME"' EXIT
gpg --batch --quiet --passphrase '' --quick-gen-key "provision test repository" ed25519 sign never 2>/dev/null
gpg --batch --quiet --passphrase '' --quick-gen-key "provision other key" ed25519 sign never 2>/dev/null
gpg --batch --armor --export "provision test repository" >"$out/key.asc"
gpg --batch --armor --export "provision other key" >"$out/other-key.asc"
gpg --batch --quiet --local-user "provision test repository" --clearsign -o "$dists/InRelease" "$dists/Release"
