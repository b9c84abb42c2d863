"""The sentry serves from inside the sandbox's mount namespace, where host
paths may be invisible -- the venv of a clone under /tmp, say, which the
default view hides behind its private /tmp.  So nothing may be imported
after the sentry joins.  Run the CLI from a copy of the package and its
dependencies under /tmp (with -S: no site-packages at all) through the
code paths that load modules late: --strace, --summary, limits."""
import glob
import os
import shutil
import subprocess
import sys

import cffi
import ptrace
import pyroute2

from conftest import PLATFORM, ROOT


def _copy_deps(pkg):
    shutil.copytree(ROOT / "sentry", pkg / "sentry", ignore=shutil.ignore_patterns("__pycache__"))
    for mod in (cffi, ptrace, pyroute2):
        src = os.path.dirname(mod.__file__)
        shutil.copytree(src, pkg / os.path.basename(src), ignore=shutil.ignore_patterns("__pycache__"))
    site = os.path.dirname(os.path.dirname(cffi.__file__))
    for so in glob.glob(os.path.join(site, "_cffi_backend*.so")):
        shutil.copy2(so, pkg)


def test_sentry_needs_no_host_path_after_joining(tmp_path):
    pkg = tmp_path / "pkg"
    _copy_deps(pkg)
    env = dict(os.environ, PYTHONPATH=str(pkg))
    code = "import sys; from sentry.cli.main import main; sys.exit(main())"
    for args in (["--strace"], ["--strace=all"], ["--summary"], ["--memory", "64M"], ["-e", "A=1"]):
        r = subprocess.run([sys.executable, "-S", "-c", code, "run", "--platform", PLATFORM, *args,
                            "--", "sh", "-c", "cat /etc/hostname /proc/meminfo >/dev/null; echo ok"],
                           capture_output=True, text=True, env=env, timeout=60, cwd="/")
        assert r.returncode == 0 and r.stdout.strip() == "ok", (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr, (args, r.stderr[-2000:])
