"""Connecting to Ray: the one place `ray` is imported for the driver, with a one-line typed error
naming the extra when it is not installed, and the cluster's nodes as plain data."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from edgegen.distributed.shards import NodeResources, parse_address
from edgegen.errors import BackendUnavailableError, ClusterError

NAMESPACE = "edgegen"
RAY_EXTRA = "pip install 'edgegen[ray]'"


def import_ray():
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError("--ray needs the `ray` package, which is not installed", hint=RAY_EXTRA) from None
    return ray


def check_ray(address: str) -> str:
    """At the command-line boundary, before anything loads: a valid address and ray installed."""
    address = parse_address(address)
    import_ray()
    return address


@contextlib.contextmanager
def ray_session(address: str) -> Iterator:
    """Yield the `ray` module connected to `address` ('auto', 'local' or host:port). A session
    already open in this process (a test's cluster, a notebook) is used as it is and left open;
    one opened here is shut down on the way out."""
    address = parse_address(address)
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs = {"include_dashboard": False} if address == "local" else {}
    try:
        # Worker output stays in Ray's session logs: it would tear the driver's progress bar.
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.ERROR, **kwargs)
    except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterError(
            f"cannot connect to Ray at {address!r}: {first}",
            hint="start a cluster with `ray start --head`, pass its HOST:PORT, or use --ray local",
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_nodes(ray) -> list[NodeResources]:
    nodes = [NodeResources.from_ray(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]
    if not nodes:
        raise ClusterError("the Ray cluster has no alive node", hint="check `ray status` on the head node")
    return nodes
