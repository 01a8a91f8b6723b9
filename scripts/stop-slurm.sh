#!/usr/bin/env bash
# Stop a cluster started by scripts/start-slurm.sh (its jobs included) and delete DIR.
#
# usage: scripts/stop-slurm.sh [--keep] DIR
#   --keep   stop the daemons but keep DIR (logs, config) for a post-mortem
#
# Only the processes whose ids start-slurm.sh recorded in DIR/pids are signalled
# (TERM first, KILL after 10 s), plus the job steps slurmd started for this cluster.
set -euo pipefail
# shellcheck source=daemons.sh
. "$(dirname "$0")/daemons.sh"
export PATH="$PATH:/usr/sbin:/sbin"

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
if [ ! -e "$D/.dflow-slurm" ]; then
    echo "stop-slurm: $D was not made by start-slurm.sh; not touching it" >&2
    exit 2
fi

# jobs still running end first, while the controller is there to cancel them
if [ -f "$D/slurm.conf" ] && [ -f "$D/pids" ]; then
    SLURM_CONF="$D/slurm.conf" timeout 10 scancel --quiet --full --partition debug >/dev/null 2>&1 || true
fi

# sshd, slurmd, slurmctld, munged: the reverse of their start
stop_recorded_daemons "$D" "$D"
# slurmstepd processes of this cluster (they name its spool directory) end with it
for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    if { tr '\0' ' ' <"$p/cmdline" | grep -q "^slurmstepd" && grep -qF "$D/spool" "$p/environ"; } 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
done

rm -f "$D/pids"
if [ "$keep" -eq 0 ]; then
    rm -rf "${D:?}"
fi
