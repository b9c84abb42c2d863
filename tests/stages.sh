#!/usr/bin/env bash
# `make test`: every stage runs, whatever failed before it; the summary at
# the end lists each stage's result and time, and the exit status is 1 if
# any failed.  Usage: tests/stages.sh VENV
set -u
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PY=$VENV/bin/python
results=()
failed=0

stage() {
    local name=$1
    shift
    echo
    echo "== $name"
    local t0=$SECONDS
    if "$@"; then
        results+=("ok      $(printf '%4d' $((SECONDS - t0))) s  $name")
    else
        results+=("FAILED  $(printf '%4d' $((SECONDS - t0))) s  $name")
        failed=1
    fi
}

stage "lint: ruff" "$VENV/bin/ruff" check sentry cri_handler tests bench csrc
stage "types: mypy sentry/" "$VENV/bin/mypy"
stage "pytest, seccomp platform (all tests)" "$PY" -m pytest -q tests
# The ptrace pass leaves out what does not involve the sandbox platform
# (unit tests, image pulls, the CRI server's own logic: marked
# platform_independent in tests/conftest.py); they ran above.
stage "pytest, ptrace platform (platform-dependent tests)" \
    env PYSANDBOX_TEST_PLATFORM=ptrace "$PY" -m pytest -q -m "not platform_independent" tests
# --strict-fs emulates every path call: the tests about files, escapes and
# real programs run again in that mode (the default mode ran them above).
stage "pytest, seccomp platform, --strict-fs (files, escapes, programs)" \
    env PYSANDBOX_TEST_FS=strict "$PY" -m pytest -q tests/security tests/programs \
    tests/integration/test_filesystem.py tests/integration/test_fsmeta.py tests/integration/test_chroot.py \
    tests/integration/test_limits.py tests/integration/test_workloads.py tests/integration/test_blocking.py
stage "conformance: native, and each platform in both fs modes" "$VENV/bin/pysandbox" conformance --failures-only

echo
echo "== summary"
printf '%s\n' "${results[@]}"
exit $failed
