"""`pysandbox images`: import / ls / rm / inspect over sentry.oci."""
from __future__ import annotations

import json
import os
import sys

from sentry.errors import SandboxError
from sentry.oci.store import DEFAULT_ROOT, Store


def images(args) -> int:
    store = Store(args.root or DEFAULT_ROOT)
    cmd = args.images_command
    if cmd == "import":
        if not os.path.isfile(args.file):
            raise SandboxError(f"{args.file}: no such file")
        from sentry.oci.importer import import_archive
        for ref in import_archive(store, args.file):
            print(ref)
        return 0
    if cmd == "ls":
        rows = [("REF", "DIGEST", "SIZE", "CREATED")]
        for ref, digest in sorted(store.refs().items()):
            try:
                manifest = store.read_json(digest)
                created = store.read_json(manifest["config"]["digest"]).get("created") or "-"
                size = _human(store.size(manifest))
            except (SandboxError, KeyError, TypeError):
                created, size = "-", "?"
            rows.append((ref, digest[:19], size, str(created).replace("T", " ")[:19]))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3] + "\n")
        return 0
    if cmd == "rm":
        with store.locked():
            for ref in store.remove(args.ref):
                print(f"removed {ref}")
        return 0
    if cmd == "inspect":
        json.dump(store.image(args.ref).config, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    raise SandboxError(f"images {cmd}: unknown command")


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return str(n)
