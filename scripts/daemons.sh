# Sourced by the stop-*.sh scripts: stop the daemons a start-*.sh script recorded.
#
# stop_recorded_daemons DIR NEEDLE
#   Signals, last recorded first, each process listed in DIR/pids ("name pid" lines)
#   whose command line still contains NEEDLE (pids get reused): TERM, then KILL after
#   10 s. One at a time, so a daemon can still tell the ones started before it that it
#   is going away.

_still_ours() {
    local pid="$1" needle="$2"
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

stop_recorded_daemons() {
    local dir="$1" needle="$2" pid deadline _name
    local pids=()
    if [ -f "$dir/pids" ]; then
        while read -r _name pid; do
            [ -n "$pid" ] && pids=("$pid" "${pids[@]}")
        done <"$dir/pids"
    fi
    for pid in "${pids[@]}"; do
        _still_ours "$pid" "$needle" || continue
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && _still_ours "$pid" "$needle"; do
            if [ $SECONDS -ge $deadline ]; then
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
        done
    done
}
