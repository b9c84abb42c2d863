"""`pysandbox images`: import / pull / ls / rm / inspect over sentry.oci."""
from __future__ import annotations

import json
import sys
import time

from sentry import inputs
from sentry.errors import SandboxError
from sentry.images.store import DEFAULT_ROOT, Store


def open_store(root: str | None) -> Store:
    """The store --root names (a directory, or nothing yet: a store is made
    on the first import or pull), else the default one."""
    if root is None:
        return Store(DEFAULT_ROOT)
    return Store(inputs.check_dir(root, "--root"))


def images(args) -> int:
    store = open_store(args.root)
    cmd = args.images_command
    if cmd == "import":
        inputs.check_file(args.file, "archive")
        from sentry.images.importer import import_archive
        for ref in import_archive(store, args.file):
            print(ref)
        return 0
    if cmd == "pull":
        return _pull(store, args)
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
        store.resolve(args.ref)          # no such image: say so before making a store to lock
        with store.locked():
            for ref in store.remove(args.ref):
                print(f"removed {ref}")
        return 0
    if cmd == "inspect":
        json.dump(store.image(args.ref).config, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    raise SandboxError(f"images {cmd}: unknown command")


def _pull(store: Store, args) -> int:
    from sentry.images import registries
    from sentry.images.registry import pull
    creds = registries.parse_creds(args.creds) if args.creds is not None else None
    config = registries.load(args.registry_config)
    started = time.monotonic()
    try:
        ref, digest = pull(store, args.ref, config=config, creds=creds, insecure=args.insecure,
                           progress=_progress_printer(sys.stderr))
    finally:
        if sys.stderr.isatty():          # end a half-drawn bar before the next line
            sys.stderr.write("\r\x1b[K")
    manifest = store.read_json(digest)
    n = len(manifest.get("layers", []))
    print(f"pulled {ref}: {digest} {n} layer{'s' if n != 1 else ''}, "
          f"{store.size(manifest) / 1e6:.1f} MB in {time.monotonic() - started:.1f}s")
    return 0


def _progress_printer(out):
    """A bar per blob, redrawn in place, when `out` is a terminal; otherwise
    one plain line per blob once it is in the store."""
    tty = out.isatty()
    last = [0.0]

    def show(ev) -> None:
        short = ev.digest[7:19]
        if ev.state == "download":
            now = time.monotonic()
            if not tty or (now - last[0] < 0.1 and ev.done != ev.total):
                return
            last[0] = now
            frac = ev.done / ev.total if ev.total else 0.0
            bar = "#" * int(frac * 30)
            size = f"{_human(ev.done)}/{_human(ev.total)}" if ev.total else _human(ev.done)
            out.write(f"\r\x1b[K{ev.what} {short} [{bar:<30}] {size}")
        elif ev.state in ("done", "exists"):
            status = "done" if ev.state == "done" else "already present"
            out.write(("\r\x1b[K" if tty else "") + f"{ev.what} {short} {_human(ev.done)} {status}\n")
        elif ev.state == "note" and tty:
            out.write(f"\r\x1b[K{ev.message}")
        else:
            return
        out.flush()
    return show


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return str(n)
