#!/usr/bin/env bash
# Stop a cluster started by scripts/start-slurm.sh (its jobs included) and delete DIR.
#
# usage: scripts/stop-slurm.sh [--keep] DIR
#   --keep   stop the daemons but keep DIR (logs, config) for a post-mortem
#
# Only the processes whose ids start-slurm.sh recorded in DIR/pids are signalled
# (TERM first, KILL after 10 s), plus the job steps slurmd started for this cluster.
set -euo pipefail
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

# the process must still be the daemon we started (pids get reused)
ours() {
    local pid="$1"
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$D"
}

pids=()
if [ -f "$D/pids" ]; then
    # reverse order: sshd, slurmd, slurmctld, munged
    while read -r _name pid; do
        [ -n "$pid" ] && pids=("$pid" "${pids[@]}")
    done <"$D/pids"
fi
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
