"""sentry/vfs/fuse.py's declarative structs and constants against the C
header the system has (linux-libc-dev's include/linux/fuse.h, compiled by
gcc), and the mount data string."""
import re
import subprocess
from pathlib import Path

import pytest

from sentry.vfs import fuse

HEADER = Path("/usr/include/linux/fuse.h")

# Fields and constants added after the 7.38 header Debian 12 ships:
# (C name, the minor that added it).  In older headers the same bytes are
# padding (fuse_init_out's unused[] started earlier), which the size checks
# still cover.
NEWER = {"fuse_init_out.max_stack_depth": 40, "fuse_init_out.request_timeout": 43,
         "fuse_init_out.unused": 43,
         "fuse_open_out.backing_id": 40, "FUSE_NO_EXPORT_SUPPORT": 40,
         "FUSE_REQUEST_TIMEOUT": 43}
# Our struct covers only the head of the C one: the rest is a struct fuse_attr.
TRAILING_ATTR = {"fuse_entry_out", "fuse_attr_out"}
CONSTANTS = ["LOOKUP", "FORGET", "GETATTR", "SETATTR", "READLINK", "SYMLINK", "MKNOD", "MKDIR",
             "UNLINK", "RMDIR", "RENAME", "LINK", "OPEN", "READ", "WRITE", "STATFS", "RELEASE",
             "FSYNC", "SETXATTR", "GETXATTR", "LISTXATTR", "REMOVEXATTR", "FLUSH", "INIT",
             "OPENDIR", "READDIR", "RELEASEDIR", "FSYNCDIR", "ACCESS", "CREATE", "INTERRUPT",
             "DESTROY", "BATCH_FORGET", "FALLOCATE", "RENAME2", "TMPFILE"]
FLAGS = ["FUSE_ABORT_ERROR", "FUSE_INIT_EXT", "FUSE_NO_EXPORT_SUPPORT", "FUSE_REQUEST_TIMEOUT",
         "FOPEN_DIRECT_IO", "FOPEN_NOFLUSH"]


@pytest.fixture(scope="module")
def c_values(tmp_path_factory):
    """name -> value printed by a C program: sizeof, offsetof, constants."""
    minor = int(re.search(r"#define FUSE_KERNEL_MINOR_VERSION (\d+)", HEADER.read_text())[1])
    lines = []

    def show(label, expr):
        if NEWER.get(label, 0) <= minor:
            lines.append(f'printf("{label} %llu\\n", (unsigned long long)({expr}));')

    for s in fuse.STRUCTS:
        show(s.name, f"sizeof(struct {s.name})")
        for field in s.offsets:
            show(f"{s.name}.{field}", f"offsetof(struct {s.name}, {field})")
        if s.name in TRAILING_ATTR:
            show(f"{s.name}.attr", f"offsetof(struct {s.name}, attr)")
    for name in CONSTANTS:
        show(f"FUSE_{name}", f"FUSE_{name}")
    for name in FLAGS:
        show(name, name)
    src = tmp_path_factory.mktemp("fuseabi") / "abi.c"
    src.write_text("#include <stdio.h>\n#include <stddef.h>\n#include <linux/fuse.h>\n"
                   "int main(void) {\n" + "\n".join(lines) + "\nreturn 0; }\n")
    exe = src.with_suffix("")
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return dict((k, int(v)) for k, v in (line.split() for line in out.splitlines())), minor


def test_struct_sizes_and_offsets_match_the_kernel_header(c_values):
    values, minor = c_values
    unchecked = set()
    for s in fuse.STRUCTS:
        size = values[s.name]
        if s.name in TRAILING_ATTR:
            assert values[f"{s.name}.attr"] == s.size
            size -= fuse.ATTR.size
        assert s.size == size, s.name
        for field, at in s.offsets.items():
            key = f"{s.name}.{field}"
            if key in values:
                assert at == values[key], key
            else:
                unchecked.add(key)
    # Only what this header is too old for goes unchecked.
    assert unchecked <= {k for k, m in NEWER.items() if m > minor}


def test_opcodes_and_flags_match_the_kernel_header(c_values):
    values, minor = c_values
    for name in CONSTANTS:
        assert getattr(fuse, name) == values[f"FUSE_{name}"], name
    for name in FLAGS:
        if name in values:
            assert getattr(fuse, name) == values[name], name


def test_unpack_reads_a_short_struct_as_zeros():
    # An older kernel's fuse_init_in is 16 bytes: flags2 must read as 0.
    raw = fuse.INIT_IN.pack(major=7, minor=30, max_readahead=4096, flags=5, flags2=9)[:16]
    arg = fuse.INIT_IN.unpack(raw)
    assert (arg.major, arg.minor, arg.flags, arg.flags2) == (7, 30, 5, 0)
    with pytest.raises(TypeError, match="no field"):
        fuse.INIT_OUT.pack(nonsense=1)


def test_mount_data():
    assert fuse.mount_data(7) == ("fd=7,rootmode=40000,user_id=0,group_id=0,allow_other,"
                                  "default_permissions,subtype=pysandbox")
    assert fuse.mount_data(3, subtype="proc-x", max_read=16384).endswith(",max_read=16384,subtype=proc-x")
    with pytest.raises(ValueError, match="subtype"):
        fuse.mount_data(3, subtype="a,allow_root")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0b", "x" * 256])
def test_bad_file_names_are_refused(name):
    with pytest.raises(ValueError, match="not a file name"):
        fuse.FuseServer(-1, {name: lambda pid: b""})
