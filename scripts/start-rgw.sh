#!/usr/bin/env bash
# Start a throw-away single-node Ceph (monitor + memstore OSD + RADOS gateway) on
# 127.0.0.1 and create an S3 user with freshly generated keys.
#
# usage: scripts/start-rgw.sh [DIR]
#   DIR   where the cluster lives (config, logs, pid files); created if missing.
#         It must be empty or a directory a previous start-rgw.sh left behind.
#         Default: a new temporary directory.
#
# environment:
#   RGW_PORT            S3 port (default: a free port)
#   RGW_MEMSTORE_BYTES  capacity of the in-memory OSD (default 4 GiB; data lives in RAM)
#   RGW_START_TIMEOUT   seconds to wait for S3 to answer (default 120)
#
# On success it writes, in DIR (mode 0600):
#   rgw.env    DFLOW_TEST_S3_ENDPOINT=..., DFLOW_TEST_S3_ACCESS_KEY=..., DFLOW_TEST_S3_SECRET_KEY=...
#   rgw.json   {"endpoint": ..., "access_key": ..., "secret_key": ..., "dir": ...}
# and prints the endpoint, the access key and the paths of those files (never the
# secret key). The last line of stdout is `RGW_DIR=<DIR>`.
# Stop it with: scripts/stop-rgw.sh DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool python3; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "start-rgw: '$bin' not found; run scripts/setup-rgw.sh first (as root)" >&2
        exit 2
    fi
done

if [ $# -ge 1 ] && [ -n "$1" ]; then
    D="$1"
    mkdir -p "$D"
else
    D="$(mktemp -d "${TMPDIR:-/tmp}/dflow-rgw.XXXXXX")"
fi
D="$(cd "$D" && pwd)"
marker="$D/.dflow-rgw"

if [ -n "$(ls -A "$D")" ]; then
    if [ ! -e "$marker" ]; then
        echo "start-rgw: $D is not empty and was not made by start-rgw.sh; give an empty directory" >&2
        exit 2
    fi
    if [ -f "$D/pids" ]; then
        while read -r _name pid; do
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                echo "start-rgw: a cluster is still running in $D (pid $pid); run scripts/stop-rgw.sh $D first" >&2
                exit 2
            fi
        done <"$D/pids"
    fi
    # a stale cluster from an earlier run: start from a fresh state
    rm -rf "${D:?}/mon" "${D:?}/osd" "${D:?}/rgw" "${D:?}/run" "${D:?}/log" \
        "$D/ceph.conf" "$D/keyring" "$D/monmap" "$D/pids" "$D/rgw.env" "$D/rgw.json"
fi
touch "$marker"
mkdir -p "$D/mon" "$D/osd" "$D/rgw" "$D/run" "$D/log"
: >"$D/pids"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

MON_PORT="$(free_port)"
RGW_PORT="${RGW_PORT:-$(free_port)}"
MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-4294967296}"
TIMEOUT="${RGW_START_TIMEOUT:-120}"
FSID="$(python3 -c 'import uuid; print(uuid.uuid4())')"
OSD_UUID="$(python3 -c 'import uuid; print(uuid.uuid4())')"
started=0

fail() {
    echo "start-rgw: $*" >&2
    for f in "$D"/log/*.log "$D"/log/*.out; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 15 "$f" >&2
    done
    "$here/stop-rgw.sh" --keep "$D" >/dev/null 2>&1 || true
    exit 1
}
trap 'if [ "$started" -eq 0 ]; then fail "failed (line $LINENO)"; fi' ERR

cat >"$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon_host = v2:127.0.0.1:$MON_PORT
mon_initial_members = a
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $D/keyring
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
crash_dir = $D/crash
log_to_stderr = false
err_to_stderr = false
debug_ms = 0/0
# one OSD on one host: size-1 pools, placement at OSD level, few PGs
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
auth_allow_insecure_global_id_reclaim = false
mon_warn_on_insecure_global_id_reclaim_allowed = false

[mon]
mon_data = $D/mon/\$cluster-\$id
# a throwaway monitor with a few MB of data: it refuses to start under 5% free disk by default
mon_data_avail_crit = 1
mon_cluster_log_file = $D/log/cluster.log

[osd]
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = $MEMSTORE_BYTES
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64
# a fresh cluster with one OSD does not need to wait for peers
osd_heartbeat_grace = 20
osd_pool_default_flag_nodelete = false

[client.rgw.a]
rgw_data = $D/rgw
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_dns_name = 127.0.0.1
rgw_enable_usage_log = false
rgw_enable_ops_log = false
rgw_thread_pool_size = 64
# deleted objects go to garbage collection, which by default waits 2 hours;
# memstore keeps them in RAM until then, so collect soon
rgw_gc_obj_min_wait = 5
rgw_gc_processor_period = 5
rgw_gc_processor_max_time = 5
EOF

C=(-c "$D/ceph.conf")

# one keyring holds every entity; the monitor imports all of it at mkfs
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
chmod 600 "$D/keyring"

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >"$D/log/mon.a.out" 2>&1
nohup ceph-mon "${C[@]}" -f -i a >>"$D/log/mon.a.out" 2>&1 &
echo "mon.a $!" >>"$D/pids"

# the monitor may take a while to answer on a loaded machine: ask again (``osd new`` with the same
# uuid is idempotent: it gives the same id)
osd_id=""
for _ in 1 2 3 4; do
  osd_id="$(timeout 30 ceph "${C[@]}" -n client.admin osd new "$OSD_UUID" 2>>"$D/log/ceph-cli.out")" && break
  sleep 1
done
[ "$osd_id" = "0" ] || fail "expected OSD id 0, got '$osd_id' (see $D/log/ceph-cli.out)"
mkdir -p "$D/osd/ceph-0"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd.0.out" 2>&1
ceph-authtool "$D/keyring" -p -n osd.0 >/dev/null
cp "$D/keyring" "$D/osd/ceph-0/keyring"
nohup ceph-osd "${C[@]}" -f -i 0 >>"$D/log/osd.0.out" 2>&1 &
echo "osd.0 $!" >>"$D/pids"

nohup radosgw "${C[@]}" -f -n client.rgw.a >"$D/log/rgw.a.out" 2>&1 &
echo "rgw.a $!" >>"$D/pids"

# S3 credentials: random, never stored outside DIR
ACCESS_KEY="$(python3 -c 'import secrets, string; a = string.ascii_uppercase + string.digits; print("".join(secrets.choice(a) for _ in range(20)))')"
SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(30)[:40])')"

# radosgw-admin blocks until the cluster can store its metadata
deadline=$((SECONDS + TIMEOUT))
until timeout 60 radosgw-admin "${C[@]}" -n client.admin user create --uid dflow-test \
    --display-name "dflow test" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    >"$D/log/user-create.out" 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "could not create the S3 user within ${TIMEOUT}s"
    sleep 1
done

until python3 - "$RGW_PORT" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
except urllib.error.HTTPError:
    pass  # any HTTP answer means the gateway serves requests
except Exception:
    sys.exit(1)
PY
do
    while read -r name pid; do
        kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) exited"
    done <"$D/pids"
    [ $SECONDS -lt $deadline ] || fail "S3 did not answer on 127.0.0.1:$RGW_PORT within ${TIMEOUT}s"
    sleep 0.5
done
started=1

ENDPOINT="127.0.0.1:$RGW_PORT"
umask 077
cat >"$D/rgw.env" <<EOF
DFLOW_TEST_S3_ENDPOINT=$ENDPOINT
DFLOW_TEST_S3_ACCESS_KEY=$ACCESS_KEY
DFLOW_TEST_S3_SECRET_KEY=$SECRET_KEY
EOF
python3 - "$D" "$ENDPOINT" "$ACCESS_KEY" "$SECRET_KEY" <<'PY'
import json, os, sys
d, endpoint, access, secret = sys.argv[1:5]
with open(os.path.join(d, "rgw.json"), "w") as f:
    json.dump({"endpoint": endpoint, "access_key": access, "secret_key": secret, "dir": d}, f)
PY

echo "RGW endpoint:   http://$ENDPOINT"
echo "RGW access key: $ACCESS_KEY"
echo "credentials:    $D/rgw.env, $D/rgw.json"
echo "stop with:      $here/stop-rgw.sh $D"
echo "RGW_DIR=$D"
