#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for swarmstack: system packages (for the local
# machines and cloud-init's validator) and a virtualenv in .venv with swarmstack installed.
# Idempotent; safe to run again. Needs root (or sudo) for the apt step.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    debootstrap systemd-container busybox-static   # the local machines (systemd-nspawn)
    iproute2 iptables openssh-client openssl        # their network; test certificates
    openssh-server                                  # sshd for the SSH connector's tests and bench/fanout.py
    cloud-init                                      # `cloud-init schema` validates user data
    shellcheck                                      # lints the rendered host tuning scripts
    qemu-system-x86 qemu-utils e2fsprogs            # machines with their own kernel (NFS client)
    nfs-ganesha nfs-ganesha-vfs                     # the NFS server standing in for EFS
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    # cloud-init must not act on this machine: we only use its schema validator.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    [ -e /etc/cloud/cloud-init.disabled ] || $SUDO touch /etc/cloud/cloud-init.disabled 2>/dev/null || true
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# Strict editable mode: type checkers cannot follow setuptools' default editable hook.
.venv/bin/python -m pip install -q -e '.[dev]' --config-settings editable_mode=strict 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/swarmstack version >&2
