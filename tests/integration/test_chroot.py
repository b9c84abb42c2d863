"""A tracee that chroots inside the sandbox has its paths resolved from its
own root (issue #12): absolute paths start there and `..` stops there, for
emulated calls answered in C and in Python alike."""
from conftest import run_sandbox

SCRIPT = r"""
cd /
mkdir -p /jail/bin /jail/etc /jail/tmp
cp /bin/busybox /jail/bin/busybox
echo inside-jail > /jail/etc/which
echo outside > /etc/which
chroot /jail /bin/busybox sh -c '
  /bin/busybox cat /etc/which                       # openat, C fast path falls back
  /bin/busybox cat ../../../etc/which               # .. stops at the new root
  /bin/busybox stat -c %s /etc/which                # newfstatat/statx
  /bin/busybox ls /                                 # the jail, not the sandbox root
  echo created > /tmp/new; /bin/busybox cat /tmp/new  # O_CREAT: Python
  /bin/busybox ln -s /etc/which /tmp/link; /bin/busybox readlink /tmp/link
  /bin/busybox cat /tmp/link                        # an absolute symlink: from the jail root too
  /bin/busybox mv /tmp/new /tmp/moved; /bin/busybox ls /tmp   # rename: two paths
'
cat /etc/which
test -e /jail/tmp/moved && echo moved-inside-the-jail
"""


def test_paths_resolve_from_the_chrooted_root(busybox_rootfs):
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "/bin/sh", "-c", SCRIPT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == [
        "inside-jail", "inside-jail", "12", "bin", "etc", "tmp", "created", "/etc/which", "inside-jail",
        "link", "moved", "outside", "moved-inside-the-jail", ""], r.stdout + r.stderr


def test_a_chrooted_tracee_cannot_reach_above_its_root_through_proc(busybox_rootfs):
    """/proc/self/root of a chrooted tracee is its jail; the sentry's own
    resolution must not hand it the sandbox root instead."""
    script = ("mkdir -p /jail/bin /jail/proc && cp /bin/busybox /jail/bin/ && echo secret > /outside-file && "
              "chroot /jail /bin/busybox sh -c "
              "'/bin/busybox cat /outside-file 2>&1; /bin/busybox cat ../outside-file 2>&1; echo done'")
    r = run_sandbox("run", "--rootfs", str(busybox_rootfs), "--", "/bin/sh", "-c", script)
    assert "secret" not in r.stdout, r.stdout
    assert r.stdout.strip().endswith("done"), r.stdout + r.stderr
