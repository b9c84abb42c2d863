# Two commands do everything on a fresh Debian 12 machine, as root:
#   make demo   install what is missing, build, run a real workload
#   make test   the same set-up, then the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the build, the tests and the demo need.
APT_PACKAGES := gcc make libc6-dev libseccomp-dev libffi-dev python3-dev python3-venv \
                busybox-static iproute2 procps \
                containerd runc docker-registry containernetworking-plugins apache2-utils openssl iptables \
                nginx-light curl redis-server redis-tools git sqlite3 xz-utils tar perl nodejs
# (the last line: the real programs tests/programs runs natively and in the sandbox)
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean docs

setup: $(STAMP)

$(STAMP): Makefile pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/*.py)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== apt-get install $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# kubectl (client-go's SPDY and WebSocket streaming clients, for the CRI
	@# streaming tests): Debian's, unless one is installed already.
	@command -v kubectl >/dev/null || { echo "== apt-get install kubernetes-client"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null; }
	@test -x $(PY) || { echo "== creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "== pip install (editable, builds csrc/ with cffi)"
	@$(PY) -m pip install -q --disable-pip-version-check setuptools wheel 'cffi>=1.15'
	@# compat: a .pth path entry, not an import-hook finder (~8 ms off every start)
	@$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation \
	  --config-settings editable_mode=compat -e '.[test]'
	@# Bytecode now, so that every start does not compile (some environments
	@# set PYTHONDONTWRITEBYTECODE, and then nothing would write it).
	@$(PY) -m compileall -q sentry cri_handler >/dev/null
	@touch $(STAMP)

demo: setup
	@bash bench/demo.sh $(VENV)/bin/pysandbox

# Every stage runs even if one before failed; the summary lists them all.
test: setup
	@tests/stages.sh $(VENV)

bench: setup
	@for t in proot strace; do command -v $$t >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$t >/dev/null; }; done
	$(PY) -m bench.startup
	$(PY) -m bench.syscalls
	$(PY) -m bench.workloads
	$(PY) -m bench.oci_lifecycle
	$(PY) -m bench.cri_lifecycle

docs: setup
	$(VENV)/bin/pysandbox syscalls --format markdown > docs/syscalls.md

clean:
	rm -rf $(VENV) build *.egg-info sentry/_native.* .pytest_cache
