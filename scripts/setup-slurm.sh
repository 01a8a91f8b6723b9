#!/usr/bin/env bash
# Install what scripts/start-slurm.sh needs: Slurm (slurmctld, slurmd and the client
# commands), MUNGE, an OpenSSH server, and the unprivileged account the HPC tests log
# in as over SSH (default `dflowhpc`, override with SLURM_TEST_USER).
#
# Idempotent: returns at once when everything is present; runs `apt-get update` only
# when something has to be installed. Needs root (or sudo) on Debian/Ubuntu. No
# daemon is left running: the tests start their own (scripts/start-slurm.sh).
set -euo pipefail

TEST_USER="${SLURM_TEST_USER:-dflowhpc}"

# binary -> package that ships it
declare -A NEEDED=(
    [slurmctld]=slurmctld
    [slurmd]=slurmd
    [sbatch]=slurm-client
    [squeue]=slurm-client
    [scancel]=slurm-client
    [munged]=munge
    [sshd]=openssh-server
    [ssh-keygen]=openssh-client
    [ssh]=openssh-client
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-slurm: need root (or sudo)" >&2
        exit 1
    fi
fi

find_bin() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

missing=()
for bin in "${!NEEDED[@]}"; do
    if ! find_bin "$bin"; then
        missing+=("${NEEDED[$bin]}")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-slurm: apt-get not found; install these packages by hand: ${packages[*]}" >&2
        exit 1
    fi
    echo "setup-slurm: installing ${packages[*]}"
    $SUDO apt-get update -qq
    # policy-rc.d: the packages must not start their daemons (the tests run their own)
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        made_policy=1
    fi
    status=0
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${packages[@]}" || status=$?
    if [ "$made_policy" -eq 1 ]; then
        $SUDO rm -f "$policy"
    fi
    [ "$status" -eq 0 ] || exit "$status"
fi

for bin in "${!NEEDED[@]}"; do
    if ! find_bin "$bin"; then
        echo "setup-slurm: $bin is still missing after installing" >&2
        exit 1
    fi
done

# the account the tests log in as (never root): a home directory and a usable shell
if ! id "$TEST_USER" >/dev/null 2>&1; then
    echo "setup-slurm: creating user $TEST_USER"
    $SUDO useradd --create-home --shell /bin/bash "$TEST_USER"
fi
home="$(getent passwd "$TEST_USER" | cut -d: -f6)"
if [ ! -d "$home" ]; then
    $SUDO mkdir -p "$home"
    $SUDO chown "$TEST_USER:" "$home"
fi
# sshd refuses a locked account ("!" in the shadow file) even for key logins
if $SUDO passwd -S "$TEST_USER" 2>/dev/null | awk '{exit !($2 == "L")}'; then
    $SUDO usermod -p '*' "$TEST_USER"
fi
# sshd needs its privilege-separation directory
$SUDO mkdir -p /run/sshd
echo "setup-slurm: done (slurm $(dpkg-query -W -f='${Version}' slurm-client 2>/dev/null || echo '?'), user $TEST_USER)"
