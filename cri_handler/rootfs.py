"""A container's root filesystem: an overlayfs of its image's layers under
its own writable layer, and what that layer takes on disk.

    <bundle>/rootfs          the mount point (the OCI config's root.path)
    <root>/cri/rw/<id>/upper the writable layer
    <root>/cri/rw/<id>/work  overlayfs's work directory (same filesystem)

Kernel facts relied upon:
- overlayfs takes lower layers as `lowerdir=top:...:bottom`; the whole
  mount data must fit in one page (4096 bytes), which bounds the number of
  layers with absolute paths (about 40 with the store's paths).
- An overlay needs at least one lower layer: an image without layers gets
  an empty directory.
- `volatile` (Linux 5.10) makes overlayfs skip every sync of its upper
  layer: fsync, syncfs, and the one at unmount, which is a sync of the
  whole upper filesystem (the host's, where <root> lives), so without it
  each RemoveContainer flushed every dirty page on that filesystem (0.6
  to 4.5 ms here, more on a busy host).  The layer is never mounted again
  (a crash leaves `work/incompat/volatile`, which would refuse a remount)
  and goes with the container; what a container writes outside its
  volumes lives no longer than it does, so fsync there promises nothing a
  kubelet relies on (CRI-O mounts its containers so, podman its `--rm`
  ones).  mountinfo shows it as `volatile`, or as `fsync=volatile` on
  kernels with overlayfs's fsync= option (this one, 6.18).
- MNT_DETACH unmounts even while a sentry that has not yet exited still
  holds the mount (it lives in the container's mount namespace, the copy
  goes with it); EINVAL/ENOENT mean it is not mounted (any more).
"""
from __future__ import annotations

import errno
import logging
import os

from cri_handler.errors import RuntimeFailure, Unimplemented
from sentry import native
from sentry.abi.linux import MNT_DETACH

log = logging.getLogger(__name__)



def mount_overlay(image, rw: str, rootfs: str) -> None:
    layers = list(dict.fromkeys(reversed(image.layers)))       # top first, each once
    if not layers:
        empty = os.path.join(rw, "empty")
        os.makedirs(empty, exist_ok=True)
        layers = [empty]
    data = (f"lowerdir={':'.join(layers)},upperdir={os.path.join(rw, 'upper')},"
            f"workdir={os.path.join(rw, 'work')},volatile")
    if len(data) >= 4096:
        raise Unimplemented(f"image {image.ref} has {len(layers)} layers: too many for one overlayfs mount "
                            "with the store's layer paths (the mount options exceed a page)")
    try:
        native.mount("overlay", rootfs, "overlay", 0, data)
    except OSError as e:
        raise RuntimeFailure(f"cannot mount the root filesystem of image {image.ref} at {rootfs}: "
                             f"{e.strerror}") from None


def umount(path: str) -> None:
    if not path:
        return
    try:
        native.umount(path, MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            log.warning("cannot unmount", extra={"path": path, "error": e.strerror})


def disk_usage(path: str) -> tuple[int, int]:
    """(bytes, inodes) under path, as `du` counts them (allocated blocks)."""
    used = inodes = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    inodes += 1
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += st.st_blocks * 512
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
        except OSError:
            continue
    return used, inodes
