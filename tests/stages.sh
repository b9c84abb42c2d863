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
stage "conformance: native, seccomp, ptrace" "$VENV/bin/pysandbox" conformance --failures-only

echo
echo "== summary"
printf '%s\n' "${results[@]}"
exit $failed
