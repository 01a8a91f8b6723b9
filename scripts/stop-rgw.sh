#!/usr/bin/env bash
# Stop a cluster started by scripts/start-rgw.sh and delete its directory.
#
# usage: scripts/stop-rgw.sh [--keep] DIR
#   --keep   stop the daemons but keep DIR (logs, config) for a post-mortem
#
# Only the processes whose ids start-rgw.sh recorded in DIR/pids are signalled:
# TERM first, KILL after 10 s.
set -euo pipefail
# shellcheck source=daemons.sh
. "$(dirname "$0")/daemons.sh"

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

# gateway first, monitor last, so nothing waits on a missing monitor
stop_recorded_daemons "$D" "$D/ceph.conf"

rm -f "$D/pids"
if [ "$keep" -eq 0 ]; then
    rm -rf "${D:?}"
fi
