#!/usr/bin/env bash
# Install the Debian packages that scripts/start-rgw.sh needs: a single-node Ceph
# (monitor + memstore OSD) with the RADOS gateway as a real, signature-checking S3.
#
# Idempotent: returns at once when every binary is present; runs `apt-get update`
# only when something has to be installed. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

# binary -> package that ships it
declare -A NEEDED=(
    [radosgw]=radosgw
    [ceph-mon]=ceph-mon
    [ceph-osd]=ceph-osd
    [ceph]=ceph-common
    [radosgw-admin]=ceph-common
    [ceph-authtool]=ceph-common
    [monmaptool]=ceph-common
)

missing=()
for bin in "${!NEEDED[@]}"; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        missing+=("${NEEDED[$bin]}")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-rgw: radosgw, ceph-mon, ceph-osd and ceph-common are already installed"
    exit 0
fi

# de-duplicate the package list
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-rgw: need root (or sudo) to install: ${packages[*]}" >&2
        exit 1
    fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-rgw: apt-get not found; install these packages by hand: ${packages[*]}" >&2
    exit 1
fi

echo "setup-rgw: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${packages[@]}"

# the packages may start system services on some setups; this project runs its
# own cluster from start-rgw.sh, so do not leave distribution daemons around
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl stop ceph.target >/dev/null 2>&1 || true
fi

for bin in "${!NEEDED[@]}"; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "setup-rgw: $bin is still missing after installing ${packages[*]}" >&2
        exit 1
    fi
done
echo "setup-rgw: done"
