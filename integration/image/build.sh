#!/usr/bin/env bash
# Builds the SSH test-host image (Debian bookworm, openssh-server, sudo, systemd, a passwordless-sudo
# `ubuntu` user, e2fsprogs for the filesystem module) from a Debian root filesystem made with mmdebstrap, then `docker import`s it.
# No registry is needed. The tag is a hash of this folder, so the image is built only when missing
# or when these files change. Prints the image name on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="$(cat "$here/build.sh" "$here/entrypoint.sh" | sha256sum | cut -c1-12)"
image="provision-test-host:$tag"

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
    echo "installing mmdebstrap (needed once to build $image)" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mmdebstrap >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building $image with mmdebstrap (about a minute)" >&2
mmdebstrap --variant=apt --quiet \
    --include=openssh-server,sudo,systemd,systemd-sysv,dbus,iproute2,procps,ca-certificates,python3,python3-venv,curl,e2fsprogs \
    --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash --password "*" ubuntu' \
    --customize-hook='echo "ubuntu ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/ubuntu"; chmod 440 "$1/etc/sudoers.d/ubuntu"' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook='sed -i "s/^#\?MaxStartups.*/MaxStartups 100:30:200/" "$1/etc/ssh/sshd_config"; echo "MaxStartups 100:30:200" >> "$1/etc/ssh/sshd_config"' \
    --customize-hook="upload $here/entrypoint.sh /usr/local/sbin/provision-test-init" \
    --customize-hook='chmod 755 "$1/usr/local/sbin/provision-test-init"' \
    --customize-hook='rm -f "$1"/etc/machine-id; touch "$1"/etc/machine-id' \
    --customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@console.service systemd-logind.service >/dev/null 2>&1 || true' \
    --customize-hook='chroot "$1" systemctl enable ssh.service >/dev/null 2>&1 || true' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$work/rootfs.tar" >&2
docker import \
    --change 'ENTRYPOINT ["/usr/local/sbin/provision-test-init"]' \
    --change 'EXPOSE 22' \
    "$work/rootfs.tar" "$image" >&2
echo "$image"
