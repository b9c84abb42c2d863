"""argparse's help formatters, sized without importing shutil.

argparse makes a formatter for every add_argument (to check the metavar),
and its own imports shutil, and with it bz2, lzma and zlib: ~2 ms of every
`pysandbox run` and every `pysandbox-oci` command.  Both command lines use
these instead."""
from __future__ import annotations

import argparse
import os


class Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized without importing shutil (and with it
    bz2, lzma and zlib: ~2 ms of every `pysandbox run`).  Same rule as
    shutil.get_terminal_size: $COLUMNS, else the terminal, else 80."""

    def __init__(self, prog):
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, width=columns - 2)


class RawFormatter(argparse.RawDescriptionHelpFormatter, Formatter):
    pass
