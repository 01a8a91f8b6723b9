#!/usr/bin/env bash
# Start a throw-away single-node Slurm cluster (munged, slurmctld, slurmd) and an
# OpenSSH server on 127.0.0.1, for the HPC executor tests. Everything lives in DIR;
# no system service is touched (no systemd, nothing under /etc is changed).
#
# usage: scripts/start-slurm.sh [DIR]
#   DIR   where the cluster lives (config, keys, logs, state, pid files); created if
#         missing. It must be empty or a directory a previous start-slurm.sh left.
#         Default: a new temporary directory.
#
# environment:
#   SLURM_TEST_USER      the account the SSH server lets in (default dflowhpc; made by
#                        scripts/setup-slurm.sh)
#   SLURM_NODE_CPUS      CPUs the node offers (default 4; jobs of the tests are tiny)
#   SLURM_START_TIMEOUT  seconds to wait for the node to be idle (default 60)
#
# On success it writes DIR/slurm.json (mode 0600):
#   {"dir", "slurm_conf", "partition", "node", "ssh_host", "ssh_port", "ssh_user",
#    "ssh_key", "ssh_password", "remote_home", "known_hosts"}
# and DIR/slurm.env (SLURM_CONF=...). The last line of stdout is `SLURM_DIR=<DIR>`.
# The client commands (sbatch, squeue, scancel) find the cluster through
# SLURM_CONF; the SSH server sets it for every session it opens.
# Stop it with: scripts/stop-slurm.sh DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"

for bin in munged slurmctld slurmd sbatch squeue scontrol sshd ssh-keygen python3; do
    if ! command -v "$bin" >/dev/null 2>&1; then
        echo "start-slurm: '$bin' not found; run scripts/setup-slurm.sh first (as root)" >&2
        exit 2
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "start-slurm: must run as root (slurmd starts jobs as other users, sshd logs them in)" >&2
    exit 2
fi

USER_NAME="${SLURM_TEST_USER:-dflowhpc}"
if ! id "$USER_NAME" >/dev/null 2>&1; then
    echo "start-slurm: user $USER_NAME does not exist; run scripts/setup-slurm.sh first" >&2
    exit 2
fi
USER_HOME="$(getent passwd "$USER_NAME" | cut -d: -f6)"

# slurmd and sshd read below DIR as the test user: every folder above DIR must let that user
# in (a DIR under root's home does not). Checked before anything is made.
reachable_above() {
    local probe closed=""
    probe="$(dirname "$(realpath -m "$1")")"  # DIR itself is opened up below
    while [ ! -d "$probe" ]; do probe="$(dirname "$probe")"; done
    while :; do
        runuser -u "$USER_NAME" -- test -x "$probe" || closed="$probe $closed"
        [ "$probe" = / ] && break
        probe="$(dirname "$probe")"
    done
    if [ -n "$closed" ]; then
        echo "start-slurm: $USER_NAME cannot enter ${closed% }, so the cluster's jobs and SSH sessions could not" \
            "read $1; give a DIR below folders others may enter (e.g. under /tmp), or chmod o+x ${closed% }" >&2
        exit 2
    fi
}
if [ $# -ge 1 ] && [ -n "$1" ]; then
    D="$1"
    reachable_above "$D"
    mkdir -p "$D"
else
    reachable_above "${TMPDIR:-/tmp}/dflow-slurm.XXXXXX"
    D="$(mktemp -d "${TMPDIR:-/tmp}/dflow-slurm.XXXXXX")"
fi
D="$(cd "$D" && pwd)"
marker="$D/.dflow-slurm"
if [ -n "$(ls -A "$D")" ]; then
    if [ ! -e "$marker" ]; then
        echo "start-slurm: $D is not empty and was not made by start-slurm.sh; give an empty directory" >&2
        exit 2
    fi
    if [ -f "$D/pids" ]; then
        while read -r _name pid; do
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                echo "start-slurm: a cluster is still running in $D (pid $pid); run scripts/stop-slurm.sh $D first" >&2
                exit 2
            fi
        done <"$D/pids"
    fi
    find "$D" -mindepth 1 -maxdepth 1 ! -name .dflow-slurm -exec rm -rf {} +
fi
touch "$marker"
# slurmd and sshd (as the test user) read below DIR: it must be reachable
chmod 755 "$D"
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/run" "$D/ssh"
chmod 700 "$D/munge" "$D/state" "$D/ssh"
: >"$D/pids"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

CTL_PORT="$(free_port)"
SLURMD_PORT="$(free_port)"
SSH_PORT="$(free_port)"
CPUS="${SLURM_NODE_CPUS:-4}"
TIMEOUT="${SLURM_START_TIMEOUT:-60}"
HOST="$(hostname -s)"
NODE="dflow-node-$SLURMD_PORT"
started=0

fail() {
    echo "start-slurm: $*" >&2
    for f in "$D"/log/*.log; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 15 "$f" >&2
    done
    "$here/stop-slurm.sh" --keep "$D" >/dev/null 2>&1 || true
    exit 1
}
trap 'if [ "$started" -eq 0 ]; then fail "failed (line $LINENO)"; fi' ERR

# ---------------------------------------------------------------- MUNGE
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
SOCKET="$D/munge/munge.socket"
munged --force --key-file="$D/munge/munge.key" --socket="$SOCKET" \
    --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munge.seed" \
    --num-threads=2
for _ in $(seq 50); do [ -s "$D/run/munged.pid" ] && break; sleep 0.1; done
echo "munged $(cat "$D/run/munged.pid")" >>"$D/pids"
# clients of other users (the SSH user's sbatch) talk to the socket
chmod 755 "$D/munge"

# ---------------------------------------------------------------- Slurm
CONF="$D/slurm.conf"
cat >"$CONF" <<EOF
ClusterName=dflowtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTL_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd-%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in a container: plain process tracking, no task affinity, no accounting
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# the node offers what this file says (it is smaller or larger than the machine)
SlurmdParameters=config_overrides
ReturnToService=2
# a finished job stays visible to squeue for a while (its state), and a cancelled
# one is killed quickly
MinJobAge=120
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=20
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$HOST CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$CONF"

nohup slurmctld -D -i -f "$CONF" >>"$D/log/slurmctld.out" 2>&1 &
echo "slurmctld $!" >>"$D/pids"
nohup slurmd -D -N "$NODE" -f "$CONF" >>"$D/log/slurmd.out" 2>&1 &
echo "slurmd $!" >>"$D/pids"

# ---------------------------------------------------------------- sshd
ssh-keygen -q -t ed25519 -N "" -f "$D/ssh/host_ed25519_key" -C "dflow-test-host"
ssh-keygen -q -t ed25519 -N "" -f "$D/ssh/id_ed25519" -C "dflow-test-user"
cp "$D/ssh/id_ed25519.pub" "$D/ssh/authorized_keys"
chown "$USER_NAME" "$D/ssh/authorized_keys"
chmod 600 "$D/ssh/authorized_keys"
# the authorized keys must be readable by sshd when it drops to the user
chmod 711 "$D/ssh"
PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
echo "$USER_NAME:$PASSWORD" | chpasswd
mkdir -p /run/sshd
SFTP=/usr/lib/openssh/sftp-server
cat >"$D/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $D/ssh/host_ed25519_key
PidFile $D/run/sshd.pid
AuthorizedKeysFile $D/ssh/authorized_keys
AllowUsers $USER_NAME
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
X11Forwarding no
MaxSessions 64
MaxStartups 64:30:128
SetEnv SLURM_CONF=$CONF
Subsystem sftp $SFTP
EOF
nohup /usr/sbin/sshd -D -e -f "$D/ssh/sshd_config" >>"$D/log/sshd.log" 2>&1 &
echo "sshd $!" >>"$D/pids"
ssh-keyscan -p "$SSH_PORT" -t ed25519 127.0.0.1 2>/dev/null >"$D/ssh/known_hosts" || true

# ---------------------------------------------------------------- wait until usable
deadline=$((SECONDS + TIMEOUT))
until sinfo -h -N -o "%T" 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; do
    while read -r name pid; do
        kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) exited"
    done <"$D/pids"
    [ $SECONDS -lt $deadline ] || fail "the node did not become idle within ${TIMEOUT}s ($(sinfo -h -N -o '%T %E' 2>&1))"
    sleep 0.5
done
until [ -s "$D/ssh/known_hosts" ]; do
    [ $SECONDS -lt $deadline ] || fail "sshd did not answer on 127.0.0.1:$SSH_PORT within ${TIMEOUT}s"
    sleep 0.2
    ssh-keyscan -p "$SSH_PORT" -t ed25519 127.0.0.1 2>/dev/null >"$D/ssh/known_hosts" || true
done
started=1

umask 077
echo "SLURM_CONF=$CONF" >"$D/slurm.env"
python3 - "$D" "$CONF" "$NODE" "$SSH_PORT" "$USER_NAME" "$PASSWORD" "$USER_HOME" <<'PY'
import json, os, sys
d, conf, node, port, user, password, home = sys.argv[1:8]
with open(os.path.join(d, "slurm.json"), "w") as f:
    json.dump({"dir": d, "slurm_conf": conf, "partition": "debug", "node": node, "ssh_host": "127.0.0.1",
               "ssh_port": int(port), "ssh_user": user, "ssh_key": os.path.join(d, "ssh", "id_ed25519"),
               "ssh_password": password, "remote_home": home,
               "known_hosts": os.path.join(d, "ssh", "known_hosts")}, f)
PY

echo "Slurm:          SLURM_CONF=$CONF (partition debug, node $NODE, $CPUS CPUs)"
echo "SSH:            $USER_NAME@127.0.0.1 port $SSH_PORT, key $D/ssh/id_ed25519"
echo "details:        $D/slurm.json"
echo "stop with:      $here/stop-slurm.sh $D"
echo "SLURM_DIR=$D"
