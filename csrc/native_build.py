"""cffi build script (out-of-line API mode) for sentry._native.

setuptools runs it through `cffi_modules` in pyproject.toml; the cdef lives
in native.cdef.h so editors treat it as C.
"""
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SOURCES = ["notify.c", "fastpath.c", "fsfast.c", "filter.c", "spawn.c", "sysdeps.c", "ptrace.c", "creds.c"]

ffibuilder = FFI()
ffibuilder.cdef((HERE / "native.cdef.h").read_text())
ffibuilder.set_source(
    "sentry._native",
    '#define _GNU_SOURCE\n#include "sb.h"\n',   # _GNU_SOURCE: struct statx
    sources=[str(Path("csrc") / s) for s in SOURCES],
    include_dirs=[str(HERE)],
    libraries=["seccomp"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
