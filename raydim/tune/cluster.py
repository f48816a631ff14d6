"""Joining the Ray cluster at ``--address``, or saying in one line, within a minute, that there is none.

Given an address where no Ray answers, ``ray.init`` keeps retrying for many
minutes (20 attempts of 35 s on Ray 2.60: a GCS that is still starting gets that
long), printing a warning every few seconds. A search that names a cluster and
finds none should say so and stop instead: :func:`check_address` asks the
address's port first (refused at once, or silent for ``PROBE_TIMEOUT_S``), before
any data is loaded; :func:`join` then bounds Ray's own wait to one attempt for
a port that answers but is not a Ray GCS, and turns Ray's ``ConnectionError``
(also what ``--address auto`` gives where no cluster runs) into the same one line.
"""

from __future__ import annotations

import os
import socket

from raydim.errors import RaydimError

PROBE_TIMEOUT_S = 10.0
WAIT_ENV = "RAY_gcs_server_port_wait_time_s"  # how many times Ray tries to reach a GCS
LOCAL = (None, "auto", "local")  # addresses ray.init resolves itself: start here, or find the one running


def check_address(address: str | None) -> None:
    """Something listens at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``); ``None`` and ``auto`` pass."""
    if address in LOCAL:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RaydimError(f"--address {address!r} is not HOST:PORT, ray://HOST:PORT or auto, e.g. --address "
                          "10.0.0.1:6379; drop it to start Ray here")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S).close()  # [::1]:6379
    except OSError as e:
        raise RaydimError(_no_cluster(address, e.strerror or "no answer")) from None


def join(address: str | None) -> None:
    """``ray.init(address=address)``; a cluster that cannot be reached is a :class:`RaydimError` within a minute."""
    import ray

    check_address(address)
    saved = os.environ.get(WAIT_ENV)
    if address not in LOCAL and saved is None:  # one connection attempt (~35 s), not twenty
        os.environ[WAIT_ENV] = "1"
    try:
        ray.init(address=address)
    except ConnectionError as e:
        raise RaydimError(_no_cluster(address, str(e).splitlines()[0])) from None
    finally:  # a Ray started later in this process (a test's) keeps the default wait for its own GCS
        if saved is None:
            os.environ.pop(WAIT_ENV, None)


def _no_cluster(address: str | None, reason: str) -> str:
    return (f"no Ray cluster at --address {address} ({reason}); start one there (ray start --head), check the "
            "address, or drop --address to start Ray on this machine")
