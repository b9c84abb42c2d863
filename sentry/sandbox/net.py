"""The sandbox's network namespace.

--net none gives a fresh network namespace whose only device is `lo`; the
kernel creates it down, so it is brought up here, in the sandbox's init
before the workload starts, so the socket belongs to the new namespace.

Two ioctls (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP) on any AF_INET
socket do it.  That is what `ip link set lo up` amounts to for one flag,
and it costs microseconds where importing pyroute2 (used for the pod
networks in cri_handler/) costs ~50 ms on every container start.
"""
from __future__ import annotations

import _socket  # not socket: see sentry/sandbox/protocol.py
import fcntl
import struct

from sentry.abi.linux import IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS

_IFREQ = "16sH14x"          # struct ifreq: name, then the ifr_flags member of the union


def loopback_up() -> None:
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        name, flags = struct.unpack(_IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0)))
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))
    finally:
        s.close()
