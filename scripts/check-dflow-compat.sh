#!/usr/bin/env bash
# Run the original dflow's tests, its examples that need no outside service, and
# dpgen2's test suite against this project, and print how many pass.
#
#   scripts/check-dflow-compat.sh DFLOW_DIR DPGEN2_DIR [--with-original] [--manifests] [--only SUITES]
#
# DFLOW_DIR and DPGEN2_DIR are checkouts of deepmodeling/dflow and deepmodeling/dpgen2;
# they are copied, never changed. Suites: dflow-tests, dflow-examples, dpgen2,
# examples-on-argo, dpgen2-on-argo and hpc-examples (default: all six, e.g. --only
# dflow-tests,dpgen2).
#
# - dflow's tests and examples run with the project's .venv (made by `make setup`).
# - dpgen2 runs in its own venv (the project installed editable, dpgen2 without its
#   dependencies, then every dependency of dpgen2 except pydflow), so the dflow it
#   imports is this project's. Its command is the one of dpgen2's CI:
#   SKIP_UT_WITH_DFLOW=0 DFLOW_DEBUG=1 python -m unittest -v
# - examples-on-argo runs the same examples on this project's Argo backend against the
#   stand-in Argo Server of its tests (plugins/argo_backend/tests/fake_argo_server.py:
#   Argo's schema checked, every pod's script run in a sandbox), with each example's own
#   assertions: a cluster must give the answers a local run gives; dpgen2-on-argo runs
#   dpgen2's suite the same way (every workflow it submits runs on the stand-in).
#   (This project only.)
# - hpc-examples runs dflow's examples that submit to Slurm (test_dispatcher over SSH
#   with dpdispatcher, test_slurm with SlurmRemoteExecutor, test_wlm with
#   SlurmJobTemplate) on a real single-node Slurm with an SSH login that the suite
#   starts on 127.0.0.1 (scripts/start-slurm.sh; needs root and scripts/setup-slurm.sh).
#   Only the cluster's address, account, queue and remote folder are put in place of
#   the example's own (its cluster at port 31129); a script passes when it exits 0 and
#   its run Succeeded. (This project only.)
# - --with-original also runs the same suites on the original dflow (pydflow built
#   from DFLOW_DIR, in venvs of its own), for the baseline.
# - --manifests: on this project, every Workflow.submit() of the suites first renders
#   the workflow's Argo manifest (wf.to_dict(), offline) and the script counts how many
#   render. The public names of the original are always checked
#   (scripts/compat_public_names.py).
#
# Work files (copies, venvs, logs) go to $COMPAT_WORKDIR (default ~/.cache/dflow-compat);
# venvs are kept between runs and rebuilt when an input changes. Logs of every suite are
# left in $COMPAT_WORKDIR/logs. The exit code is 0 when the script ran, whatever the counts.
set -uo pipefail

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
DFLOW_DIR=$(cd "$1" && pwd) || usage
DPGEN2_DIR=$(cd "$2" && pwd) || usage
shift 2
WITH_ORIGINAL=0
MANIFESTS=0
ONLY="dflow-tests,dflow-examples,dpgen2,examples-on-argo,dpgen2-on-argo,hpc-examples"
while [ $# -gt 0 ]; do
  case "$1" in
    --with-original) WITH_ORIGINAL=1 ;;
    --manifests) MANIFESTS=1 ;;
    --only) ONLY="$2"; shift ;;
    *) usage ;;
  esac
  shift
done
[ -d "$DFLOW_DIR/src/dflow" ] || { echo "error: $DFLOW_DIR is not a dflow checkout (no src/dflow)" >&2; exit 2; }
[ -f "$DPGEN2_DIR/pyproject.toml" ] || { echo "error: $DPGEN2_DIR is not a dpgen2 checkout (no pyproject.toml)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$ROOT/Makefile" ] && [ -d "$ROOT/core" ] || { echo "error: run the script from its place in the repository" >&2; exit 2; }
WORK=${COMPAT_WORKDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dflow-compat}
LOGS="$WORK/logs"
mkdir -p "$WORK" "$LOGS"
PYTHON=${PYTHON:-python3}
PIP_QUIET=(--quiet --disable-pip-version-check)

# Examples that need no outside service. The others need one: test_bohrium_datasets,
# test_datasets, test_datasets_local, test_launching, test_launching_2 (Bohrium and its
# datasets/launching services), test_dispatcher and test_slurm (Slurm over SSH) and
# test_wlm (wlm-operator on Kubernetes; here sbatch), which hpc-examples runs,
# test_lineage and test_metadata (a metadata service), test_ray and test_ray_after_ray
# (a Ray cluster).
EXAMPLES="test_async test_big_parameter test_conditional_outputs test_dag test_dag_slices test_error_handling
test_func_op test_loop_slices test_makevasp test_op_parameter test_progress test_python test_recurse test_reuse
test_slices test_steps test_subpath_slices test_success_ratio"
PYTEST_EXAMPLES="test_utils"  # pytest modules without a __main__
EXAMPLE_TIMEOUT=${EXAMPLE_TIMEOUT:-900}

SUMMARY=()
SETUP_FAILED=0
note() { printf '%s\n' "$*" >&2; }
record() { SUMMARY+=("$(printf '%-9s %-15s %5s passed %5s failed %5s total %7ss' "$@")"); }

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------ environments

project_python() {
  make -C "$ROOT" setup >&2 || { note "error: make setup failed"; exit 1; }
  check_dflow "$ROOT/.venv/bin/python" project || exit 1
  echo "$ROOT/.venv/bin/python"
}

project_dists() {
  local d
  for d in core plugins/*/; do
    d=${d%/}
    [ -f "$ROOT/$d/pyproject.toml" ] && printf -- '-e %s ' "$ROOT/$d"
  done
}

# make_venv DIR STAMP INSTALL-COMMAND...: (re)create DIR unless its stamp matches
make_venv() {
  local dir=$1 stamp=$2; shift 2
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  rm -f "$dir/.stamp"  # first, so that an interrupted rebuild is never taken for a finished one
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install "${PIP_QUIET[@]}" --upgrade pip >&2 || return 1
  "$@" || { note "error: could not install $dir"; return 1; }
  echo "$stamp" > "$dir/.stamp"
}

original_python() {
  local dir="$WORK/venv-original"
  make_venv "$dir" "$(stamp_of "$DFLOW_DIR/setup.py" "$DFLOW_DIR/VERSION")" \
    "$dir/bin/python" -m pip install "${PIP_QUIET[@]}" "$DFLOW_DIR" pytest >&2 || exit 1
  check_dflow "$dir/bin/python" original || exit 1
  echo "$dir/bin/python"
}

# install_dpgen2 VENV FLAVOUR: dpgen2 (editable, from its copy) and its dependencies;
# for FLAVOUR=project every dependency but pydflow, so that this project's dflow stays
install_dpgen2() {
  local py=$1/bin/python flavour=$2 src="$WORK/dpgen2-src-$2"
  "$py" -m pip install "${PIP_QUIET[@]}" --no-deps -e "$src" || return 1
  if [ "$flavour" = original ]; then
    "$py" -m pip install "${PIP_QUIET[@]}" -e "${src}[test]" mock coverage pytest || return 1
    return 0
  fi
  # the dependency closure of dpgen2[test], without pydflow: install one layer at a
  # time with --no-deps (fpop, for one, requires pydflow), until nothing is missing
  local missing _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    missing=$("$py" - <<'EOF'
import importlib.metadata as md
import re
from packaging.requirements import Requirement

def have(name):
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False

wanted, seen = [], set()
todo = [("dpgen2", {"test"})]
while todo:
    dist, extras = todo.pop()
    for text in md.requires(dist) or []:
        req = Requirement(text)
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key == "pydflow":
            continue
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            continue
        if key in seen:
            continue
        seen.add(key)
        if have(req.name):
            todo.append((req.name, set(req.extras)))
        else:
            wanted.append(str(req).split(";")[0].strip())
# jsonpickle: dpgen2 imports it but gets it only through pydflow; mock, coverage and
# pytest: dpgen2's CI installs them next to dpgen2[test]
for extra in ("jsonpickle", "mock", "coverage", "pytest"):
    if not have(extra) and extra not in seen:
        wanted.append(extra)
print("\n".join(wanted))
EOF
) || return 1
    [ -z "$missing" ] && return 0
    local reqs; mapfile -t reqs <<< "$missing"
    "$py" -m pip install "${PIP_QUIET[@]}" --no-deps "${reqs[@]}" || return 1
  done
  note "error: the dependencies of dpgen2 did not settle after 10 rounds"
  return 1
}

install_project() {  # install_project VENV: this project's distributions, editable
  local dists; read -r -a dists <<< "$(project_dists)"
  "$1/bin/python" -m pip install "${PIP_QUIET[@]}" packaging "${dists[@]}" -r "$ROOT/requirements-dev.txt"
}

check_dflow() {  # check_dflow PYTHON FLAVOUR: the dflow that PYTHON imports is the one FLAVOUR means
  local where
  where=$("$1" -c 'import dflow, os; print(os.path.realpath(dflow.__file__))' 2>/dev/null) || {
    note "error: $1 cannot import dflow"; return 1; }
  if [ "$2" = project ]; then
    [[ "$where" == "$ROOT"/* ]] && return 0
  else
    [[ "$where" != "$ROOT"/* ]] && return 0
  fi
  note "error: $1 imports dflow from $where, which is not the $2 dflow"
  return 1
}

dpgen2_python() {
  local flavour=$1 dir="$WORK/venv-dpgen2-$1" stamp src="$WORK/dpgen2-src-$1"
  rm -rf "$src"
  cp -r "$DPGEN2_DIR" "$src"
  if [ "$flavour" = project ]; then
    # the checkout's path too: its distributions are installed editable, so a venv made from another
    # checkout (a worktree since removed) does not import this one
    stamp=$( (echo "$ROOT"; cat "$DPGEN2_DIR/pyproject.toml" "$ROOT"/core/pyproject.toml "$ROOT"/plugins/*/pyproject.toml \
      "$ROOT/requirements-dev.txt" 2>/dev/null) | sha256sum | cut -c1-16)
    make_venv "$dir" "$stamp" install_project "$dir" >&2 || exit 1
  else
    stamp=$(stamp_of "$DPGEN2_DIR/pyproject.toml" "$DFLOW_DIR/setup.py" "$DFLOW_DIR/VERSION")
    make_venv "$dir" "$stamp" "$dir/bin/python" -m pip install "${PIP_QUIET[@]}" "$DFLOW_DIR" >&2 || exit 1
  fi
  install_dpgen2 "$dir" "$flavour" >&2 || { note "error: could not install dpgen2 into $dir"; exit 1; }
  check_dflow "$dir/bin/python" "$flavour" || exit 1
  echo "$dir/bin/python"
}

# ------------------------------------------------------------------ manifests

# suite_env WHO SUITE: NAME=VALUE words for `env` in a suite's processes (the manifest
# hook, for this project when --manifests is given)
suite_env() {
  if [ "$MANIFESTS" = 1 ] && [ "$1" = project ]; then
    local log="$LOGS/$1-$2-manifests.jsonl"
    : > "$log"
    echo "PYTHONPATH=$ROOT/scripts/compat_manifest_hook${PYTHONPATH:+:$PYTHONPATH} DFLOW_COMPAT_MANIFEST_LOG=$log"
  fi
}

manifest_summary() {  # manifest_summary WHO SUITE: a summary line when manifests were rendered
  local log="$LOGS/$1-$2-manifests.jsonl" total ok
  [ "$MANIFESTS" = 1 ] && [ "$1" = project ] && [ -f "$log" ] || return 0
  total=$(grep -c . "$log"); ok=$(grep -c '"ok": true' "$log")
  SUMMARY+=("$(printf '          manifests: %s of %s submitted workflows render for Argo (%s)' "$ok" "$total" "$log")")
}

# ------------------------------------------------------------------ suites

run_dflow_tests() {
  local py=$1 who=$2 dir="$WORK/run-$2/dflow-tests" log="$LOGS/$2-dflow-tests.log" start
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$DFLOW_DIR/tests" "$dir/tests"
  start=$SECONDS
  local extra; read -r -a extra <<< "$(suite_env "$who" dflow-tests)"
  (cd "$dir" && env "${extra[@]}" PATH="$(dirname "$py"):$PATH" DFLOW_MODE=debug timeout 3600 "$py" -m pytest -v \
    -p no:cacheprovider --junitxml="$dir/junit.xml" tests) > "$log" 2>&1
  local counts; counts=$(junit_counts "$dir/junit.xml")
  # shellcheck disable=SC2086
  record "$who" dflow-tests $counts $((SECONDS - start))
  manifest_summary "$who" dflow-tests
}

junit_counts() {  # passed failed total of a junit file
  "$PYTHON" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0, 0)
    raise SystemExit
cases = root.iter("testcase")
total = failed = 0
for c in cases:
    total += 1
    if any(ch.tag in ("failure", "error") for ch in c):
        failed += 1
    elif any(ch.tag == "skipped" for ch in c):
        total -= 1
print(total - failed, failed, total)
EOF
}

run_dflow_examples() {
  local py=$1 who=$2 base="$WORK/run-$2/dflow-examples" log="$LOGS/$2-dflow-examples.log" start passed=0 failed=0
  rm -rf "$base"; mkdir -p "$base"; : > "$log"
  start=$SECONDS
  local e t0 rc extra
  read -r -a extra <<< "$(suite_env "$who" dflow-examples)"
  run_scripts "$base" "$log" env "${extra[@]}" PATH="$(dirname "$py"):$PATH" DFLOW_MODE=debug \
    timeout "$EXAMPLE_TIMEOUT" "$py"
  passed=$SCRIPTS_PASSED; failed=$SCRIPTS_FAILED
  for e in $PYTEST_EXAMPLES; do
    mkdir -p "$base/$e"; cp "$DFLOW_DIR/examples/$e.py" "$base/$e/"
    (cd "$base/$e" && env "${extra[@]}" PATH="$(dirname "$py"):$PATH" DFLOW_MODE=debug \
      timeout "$EXAMPLE_TIMEOUT" "$py" -m pytest -v -p no:cacheprovider --junitxml=junit.xml "$e.py") \
      > "$base/$e/out.log" 2>&1
    local c; read -r -a c <<< "$(junit_counts "$base/$e/junit.xml")"
    if grep -q 'error during collection' "$base/$e/out.log"; then
      # the module did not import (pytest reports one collection error): each of its tests failed
      local n; n=$(grep -c '^def test_' "$base/$e/$e.py"); c=(0 "$n" "$n")
    fi
    passed=$((passed + c[0])); failed=$((failed + c[1]))
    printf '%-26s %s passed, %s failed (pytest)\n' "$e" "${c[0]}" "${c[1]}" >> "$log"
  done
  record "$who" dflow-examples "$passed" "$failed" $((passed + failed)) $((SECONDS - start))
  manifest_summary "$who" dflow-examples
}

# run_scripts BASE LOG COMMAND...: each example of $EXAMPLES as `COMMAND X.py`, in BASE/X/work
# (its output in BASE/X/out.log, where a cluster of its own may go too: $SCRIPT_DIR);
# one line per script in LOG; the counts in SCRIPTS_PASSED and SCRIPTS_FAILED
run_scripts() {
  local base=$1 log=$2 e t0 rc; shift 2
  SCRIPTS_PASSED=0; SCRIPTS_FAILED=0
  for e in $EXAMPLES; do
    mkdir -p "$base/$e/work"; cp "$DFLOW_DIR/examples/$e.py" "$base/$e/work/"
    t0=$SECONDS
    (cd "$base/$e/work" && SCRIPT_DIR="$base/$e" "$@" "$e.py") > "$base/$e/out.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then SCRIPTS_PASSED=$((SCRIPTS_PASSED + 1)); else SCRIPTS_FAILED=$((SCRIPTS_FAILED + 1)); fi
    printf '%-26s %-4s %4ss  %s\n' "$e" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) \
      "$([ $rc -eq 0 ] || grep -E '^[A-Za-z_.]*(Error|Exception)\b|refused' "$base/$e/out.log" | tail -1 | cut -c1-160)" >> "$log"
  done
}

run_examples_on_argo() {  # this project's Argo backend, on the stand-in Argo Server of its tests
  local py=$1 base="$WORK/run-project/examples-on-argo" log="$LOGS/project-examples-on-argo.log" start
  rm -rf "$base"; mkdir -p "$base"; : > "$log"
  start=$SECONDS
  # the stand-in's sitecustomize puts its cluster under $DFLOW_EXAMPLE_CLUSTER (set per script below)
  run_scripts "$base" "$log" bash -c 'DFLOW_EXAMPLE_CLUSTER="$SCRIPT_DIR/cluster" exec "$@"' _ \
    env -u DFLOW_MODE PYTHONPATH="$ROOT/plugins/argo_backend/tests/examples_on_argo" timeout "$EXAMPLE_TIMEOUT" "$py"
  record project examples-on-argo "$SCRIPTS_PASSED" "$SCRIPTS_FAILED" $((SCRIPTS_PASSED + SCRIPTS_FAILED)) \
    $((SECONDS - start))
}

# point_at_cluster EXAMPLE CLUSTER-JSON ORIGINAL > copy: the example with this machine's Slurm
# in place of its own cluster (address, account, queue, remote folder); every expected text must
# be found once, so an example that changed fails here rather than running against another host
point_at_cluster() {
  "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import json
import sys
name, info = sys.argv[1], json.load(open(sys.argv[2]))
remote = info["remote_home"].rstrip("/")
common = [
    ("host=get_my_ip_address()", "host=%r" % info["ssh_host"]),
    ("port=31129", "port=%d" % info["ssh_port"]),
    ('username="root"', "username=%r" % info["ssh_user"]),
    ('password="password"', "password=%r" % info["ssh_password"]),
]
edits = {
    "test_dispatcher": common + [('queue_name="normal"', "queue_name=%r" % info["partition"]),
                                 ('remote_root="/data"', "remote_root=%r" % (remote + "/dflow-compat"))],
    "test_slurm": common + [('workdir="/data/', 'workdir="%s/' % remote)],
    "test_wlm": [],
}[name]
text = open(sys.argv[3]).read()
for old, new in edits:
    if text.count(old) != 1:
        sys.exit("point_at_cluster: %s.py no longer holds %r once" % (name, old))
    text = text.replace(old, new)
sys.stdout.write(text)
EOF
}

run_hpc_examples() {  # dflow's Slurm examples on a real Slurm (with an SSH login) started here
  local py=$1 base="$WORK/run-project/hpc-examples" log="$LOGS/project-hpc-examples.log" start
  local passed=0 failed=0 e rc t0 extra status cluster
  rm -rf "$base"; mkdir -p "$base"; : > "$log"
  start=$SECONDS
  # the cluster's user reads its folder (slurm.conf): under /tmp, not under $WORK (maybe in root's home)
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/dflow-compat-slurm.XXXXXX")
  if ! "$ROOT/scripts/start-slurm.sh" "$cluster" > "$base/start-slurm.log" 2>&1; then
    rm -rf "$cluster"
    note "error: could not start Slurm (see $base/start-slurm.log; it needs root and scripts/setup-slurm.sh)"
    SUMMARY+=("$(printf '%-9s %-15s could not start Slurm (%s)' project hpc-examples "$base/start-slurm.log")")
    SETUP_FAILED=1
    return 0
  fi
  read -r -a extra <<< "$(suite_env project hpc-examples)"
  for e in test_dispatcher test_slurm test_wlm; do
    mkdir -p "$base/$e/work"
    t0=$SECONDS
    if point_at_cluster "$e" "$cluster/slurm.json" "$DFLOW_DIR/examples/$e.py" > "$base/$e/work/$e.py" \
        2> "$base/$e/out.log"; then
      (cd "$base/$e/work" && env "${extra[@]}" PATH="$(dirname "$py"):$PATH" DFLOW_MODE=debug \
        SLURM_CONF="$cluster/slurm.conf" timeout "$EXAMPLE_TIMEOUT" "$py" "$e.py") > "$base/$e/out.log" 2>&1
      rc=$?
    else
      rc=2
    fi
    # not every one of these scripts checks its run: the run must have Succeeded too
    status=$(cat "$base/$e/work"/*/status 2>/dev/null | sort -u | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ "$status" != "Succeeded " ]; then rc=1; fi
    if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    printf '%-26s %-4s %4ss  run: %s %s\n' "$e" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) \
      "${status:-none}" "$([ $rc -eq 0 ] || tail -1 "$base/$e/out.log" | cut -c1-160)" >> "$log"
  done
  "$ROOT/scripts/stop-slurm.sh" "$cluster" >> "$base/start-slurm.log" 2>&1 || note "warning: stop-slurm.sh $cluster failed"
  record project hpc-examples "$passed" "$failed" $((passed + failed)) $((SECONDS - start))
  manifest_summary project hpc-examples
}

run_dpgen2() {  # run_dpgen2 PYTHON WHO [argo]: "argo" runs every workflow on the stand-in Argo Server
  local py=$1 who=$2 suite=dpgen2 src="$WORK/dpgen2-src-$2" start
  local extra; read -r -a extra <<< "$(suite_env "$who" dpgen2)"
  if [ "${3:-}" = argo ]; then
    suite=dpgen2-on-argo
    extra+=(PYTHONPATH="$ROOT/plugins/argo_backend/tests/examples_on_argo" DFLOW_EXAMPLE_CLUSTER="$WORK/run-$who/dpgen2-cluster")
    rm -rf "$WORK/run-$who/dpgen2-cluster"
    # outside debug mode dpgen2 runs commands in a login shell (bash -lc), whose /etc/profile resets PATH for
    # root on some machines (Debian's): a pod of the stand-in would lose the venv's programs (test_run_gaussian's
    # fake g16), which a cluster's image has on its PATH. A HOME of the suite's own puts the PATH back.
    local home="$WORK/run-$who/dpgen2-home"
    mkdir -p "$home"
    printf '%s\n' 'export PATH="$DFLOW_COMPAT_PATH"' > "$home/.bash_profile"
    extra+=(HOME="$home" DFLOW_COMPAT_PATH="$(dirname "$py"):$PATH")
  fi
  local log="$LOGS/$who-$suite.log"
  start=$SECONDS
  (cd "$src" && env "${extra[@]}" PATH="$(dirname "$py"):$PATH" SKIP_UT_WITH_DFLOW=0 DFLOW_DEBUG=1 timeout 7200 \
    "$py" -m unittest -v) > "$log" 2>&1
  # "Ran N tests" counts a module that failed to import as one test: say how many did
  local counts
  counts=$("$PYTHON" - "$log" <<'EOF'
import re
import sys
text = open(sys.argv[1], errors="replace").read()
ran = re.search(r"^Ran (\d+) tests?", text, re.M)
total = int(ran.group(1)) if ran else 0
summary = re.search(r"^FAILED \(([^)]*)\)", text, re.M)
bad = skipped = 0
if summary:
    for part in summary.group(1).split(","):
        k, _, v = part.strip().partition("=")
        if k in ("failures", "errors"):
            bad += int(v)
        elif k == "skipped":
            skipped = int(v)
else:
    ok = re.search(r"^OK(?: \(skipped=(\d+)\))?", text, re.M)
    skipped = int(ok.group(1)) if ok and ok.group(1) else 0
import_errors = len(re.findall(r"^ERROR: \S+ \(unittest\.loader\._FailedTest", text, re.M))
total -= skipped
print(total - bad, bad, total, import_errors)
EOF
)
  local c; read -r -a c <<< "$counts"
  record "$who" "$suite" "${c[0]}" "${c[1]}" "${c[2]}" $((SECONDS - start))
  [ "${c[3]:-0}" -gt 0 ] && SUMMARY+=("          (${c[3]} of the $suite failures are modules that did not import: each hides its tests)")
  [ "$suite" = dpgen2 ] && manifest_summary "$who" dpgen2
  return 0
}

run_all() {  # run_all WHO DFLOW-PYTHON
  local who=$1 py=$2
  case ",$ONLY," in *,dflow-tests,*) note "== $who: dflow tests"; run_dflow_tests "$py" "$who" ;; esac
  case ",$ONLY," in *,dflow-examples,*) note "== $who: dflow examples"; run_dflow_examples "$py" "$who" ;; esac
  case ",$ONLY," in *,dpgen2,*)
    note "== $who: dpgen2 (installing its dependencies on first use)"
    local dpy
    if dpy=$(dpgen2_python "$who"); then
      run_dpgen2 "$dpy" "$who"
    else
      SUMMARY+=("$(printf '%-9s %-15s could not be installed (see above)' "$who" dpgen2)"); SETUP_FAILED=1
    fi ;;
  esac
}

PROJECT_PY=$(project_python) || exit 1
note "== project: public names of the original dflow"
"$PROJECT_PY" "$ROOT/scripts/compat_public_names.py" "$DFLOW_DIR" "$DPGEN2_DIR" "$DFLOW_DIR/examples" "$DFLOW_DIR/tests" \
  > "$LOGS/project-public-names.log" 2>&1
while IFS= read -r line; do
  SUMMARY+=("project   names: $line")
done < <(grep -E 'importable|resolve' "$LOGS/project-public-names.log")
run_all project "$PROJECT_PY"
case ",$ONLY," in *,examples-on-argo,*) note "== project: dflow examples on the stand-in Argo Server"
  run_examples_on_argo "$PROJECT_PY" ;; esac
case ",$ONLY," in *,dpgen2-on-argo,*) note "== project: dpgen2 on the stand-in Argo Server"
  if dpy=$(dpgen2_python project); then run_dpgen2 "$dpy" project argo
  else SUMMARY+=("$(printf '%-9s %-15s could not be installed (see above)' project dpgen2-on-argo)"); SETUP_FAILED=1
  fi ;; esac
case ",$ONLY," in *,hpc-examples,*) note "== project: dflow's Slurm examples on a Slurm started here"
  run_hpc_examples "$PROJECT_PY" ;; esac
if [ "$WITH_ORIGINAL" = 1 ]; then
  ORIGINAL_PY=$(original_python) || exit 1
  run_all original "$ORIGINAL_PY"
fi

echo
echo "dflow compatibility ($(date -u +%Y-%m-%dT%H:%MZ); logs in $LOGS)"
printf '%s\n' "${SUMMARY[@]}"
exit "$SETUP_FAILED"  # the counts are a report; a suite whose environment could not be made is a failure
