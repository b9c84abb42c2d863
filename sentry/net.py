"""The sandbox's network namespace.

--net none gives a fresh network namespace whose only device is `lo`; the
kernel creates it down, so it is brought up here (rtnetlink via pyroute2).
This runs in the sandbox's init before the workload starts, so the netlink
socket is bound to the new namespace and pyroute2 never loads in the sentry.
"""
from __future__ import annotations


def loopback_up() -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ip:
        (index,) = ip.link_lookup(ifname="lo")
        ip.link("set", index=index, state="up")
