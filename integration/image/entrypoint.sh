#!/bin/sh
# Start-up of a provision test host: fresh host keys per container, the test's public key for the
# login user, then either sshd in the foreground or systemd as PID 1 (BOOT=systemd).
set -eu
mkdir -p /run/sshd
ssh-keygen -A >/dev/null
if [ -n "${AUTHORIZED_KEY:-}" ]; then
    install -d -m 700 -o ubuntu -g ubuntu /home/ubuntu/.ssh
    printf '%s\n' "$AUTHORIZED_KEY" > /home/ubuntu/.ssh/authorized_keys
    chown ubuntu:ubuntu /home/ubuntu/.ssh/authorized_keys
    chmod 600 /home/ubuntu/.ssh/authorized_keys
fi
if [ "${BOOT:-sshd}" = systemd ]; then
    exec /sbin/init
fi
echo "provision-test-host: sshd starting"
exec /usr/sbin/sshd -D -e
