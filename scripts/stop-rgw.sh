#!/usr/bin/env bash
# Stop a cluster started by scripts/start-rgw.sh and delete its directory.
#
# usage: scripts/stop-rgw.sh [--keep] DIR
#   --keep   stop the daemons but keep DIR (logs, config) for a post-mortem
#
# Only the processes whose ids start-rgw.sh recorded in DIR/pids are signalled:
# TERM first, KILL after 10 s.
set -euo pipefail

keep=0
if [ "${1:-}" = "--keep" ]; then
    keep=1
    shift
fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--keep] DIR" >&2
    exit 2
fi
D="$1"
if [ ! -d "$D" ]; then
    exit 0
fi
if [ ! -e "$D/.dflow-rgw" ]; then
    echo "stop-rgw: $D was not made by start-rgw.sh; not touching it" >&2
    exit 2
fi

# the process must still be the daemon we started (pids get reused)
ours() {
    local pid="$1"
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$D/ceph.conf"
}

pids=()
if [ -f "$D/pids" ]; then
    # gateway first, monitor last, so nothing waits on a missing monitor
    while read -r _name pid; do
        [ -n "$pid" ] && pids=("$pid" "${pids[@]}")
    done <"$D/pids"
fi

# one at a time, so the OSD can still tell the monitor it is going away
for pid in "${pids[@]}"; do
    ours "$pid" || continue
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ours "$pid"; do
        if [ $SECONDS -ge $deadline ]; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
    done
done

rm -f "$D/pids"
if [ "$keep" -eq 0 ]; then
    rm -rf "${D:?}"
fi
