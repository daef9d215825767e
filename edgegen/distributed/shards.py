"""Pure planning for Ray runs: how work is cut into shards, what one actor asks of the cluster, and
how many actors fit. No ray import here, so all of it is tested fast without a cluster.

Shards keep the single-process path's batches: a shard's size is a multiple of the batch size,
so every pipeline call on a worker sees the same images the single-process loop would batch
together (images then match bit for bit; see `edgegen.distributed` for the thread-count caveat).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edgegen.errors import BackendUnavailableError, ClusterError, UsageError
from edgegen.types import Backend

GIB = 1024**3
DEFAULT_SHARDS_PER_ACTOR = 4  # enough to rebalance when actors run at different speeds
MAX_SHARD_IMAGES = 64  # bounds the work an actor death throws away
GPU_BACKENDS = (Backend.TORCH, Backend.ORT_CUDA, Backend.ORT_TENSORRT, Backend.TENSORRT)
GPU_ONLY_BACKENDS = (Backend.ORT_CUDA, Backend.ORT_TENSORRT, Backend.TENSORRT)
_ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def parse_address(text: str) -> str:
    """'auto' (a running cluster: RAY_ADDRESS or the one `ray start` left on this machine),
    'local' (a fresh single-machine cluster for this run) or host:port / ray://host:port."""
    value = text.strip()
    if value in ("auto", "local") or _ADDRESS.match(value):
        return value
    raise UsageError(
        f"--ray {text!r} is not a Ray address",
        hint="use auto, local, HOST:PORT (the head's GCS port, 6379 by default) or ray://HOST:10001",
    )


@dataclass(frozen=True)
class GenerateShard:
    """Consecutive seeds of one condition: the unit of work an actor takes and, on its death,
    the unit that is retried."""

    id: int
    class_name: str
    items: tuple  # PlannedImage, in plan order

    @property
    def seeds(self) -> tuple[int, int]:
        return self.items[0].seed, self.items[-1].seed

    def label(self) -> str:
        lo, hi = self.seeds
        return f"{self.class_name} seeds {lo}-{hi}" if hi != lo else f"{self.class_name} seed {lo}"


@dataclass(frozen=True)
class IndexShard:
    """Images [start, stop) of a classification input."""

    id: int
    start: int
    stop: int

    def label(self) -> str:
        return f"images {self.start}-{self.stop - 1}"


def round_to_batch(size: int, batch_size: int) -> int:
    return max(batch_size, math.ceil(size / batch_size) * batch_size)


def default_shard_size(n: int, actors: int, batch_size: int) -> int:
    """A few shards per actor (so a fast actor takes more of them), capped so that losing an actor
    loses little work, in whole batches."""
    want = math.ceil(n / max(1, actors * DEFAULT_SHARDS_PER_ACTOR)) if n else 1
    return round_to_batch(min(max(1, want), MAX_SHARD_IMAGES), batch_size)


def plan_generate_shards(todo: list, shard_size: int, batch_size: int = 1) -> list[GenerateShard]:
    """Cut the images still to generate (PlannedImage, plan order) into runs of consecutive seeds
    of one condition, each at most `shard_size` (rounded up to whole batches) long."""
    if shard_size < 1:
        raise UsageError(f"shard size {shard_size} must be ≥ 1")
    size = round_to_batch(shard_size, batch_size)
    shards: list[GenerateShard] = []
    run: list = []

    def flush() -> None:
        if run:
            shards.append(GenerateShard(len(shards), run[0].class_name, tuple(run)))
            run.clear()

    for it in todo:
        if run and (it.class_name != run[-1].class_name or it.seed != run[-1].seed + 1 or len(run) == size):
            flush()
        run.append(it)
    flush()
    return shards


def plan_index_shards(n: int, shard_size: int, batch_size: int = 1) -> list[IndexShard]:
    if shard_size < 1:
        raise UsageError(f"shard size {shard_size} must be ≥ 1")
    size = round_to_batch(shard_size, batch_size)
    return [IndexShard(i, start, min(start + size, n)) for i, start in enumerate(range(0, n, size))]


@dataclass(frozen=True)
class NodeResources:
    """What one alive Ray node offers (Ray's own totals)."""

    cpus: float
    gpus: float = 0.0
    memory: float = 0.0  # bytes: Ray's `memory` resource (heap memory it may hand to workers)

    @classmethod
    def from_ray(cls, resources: dict) -> NodeResources:
        return cls(float(resources.get("CPU", 0)), float(resources.get("GPU", 0)), float(resources.get("memory", 0)))


@dataclass(frozen=True)
class ActorDemand:
    """What one actor reserves: Ray schedules it only where all of it is free."""

    num_cpus: float
    num_gpus: float
    memory: int  # bytes; 0: no memory reservation
    threads: int | None  # intra-op threads of the actor's runtime

    def describe(self) -> str:
        parts = [f"{self.num_cpus:g} CPU"]
        if self.num_gpus:
            parts.append(f"{self.num_gpus:g} GPU")
        if self.memory:
            parts.append(f"{self.memory / GIB:.1f} GiB memory")
        return ", ".join(parts)

    def ray_options(self) -> dict:
        opts: dict = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory:
            opts["memory"] = self.memory
        return opts


def wants_gpu(backend: Backend | None, cluster_gpus: float) -> bool:
    """GPU actors where the cluster has GPUs and the backend can use one; a GPU-only backend on a
    cluster without GPUs is an error before any actor starts."""
    if backend in GPU_ONLY_BACKENDS and cluster_gpus < 1:
        raise BackendUnavailableError(
            f"backend {backend.value} needs a GPU, and the Ray cluster has none",
            hint="add GPU nodes (`ray start --num-gpus`), or pass --backend ort-cpu",
        )
    return cluster_gpus >= 1 and (backend is None or backend in GPU_BACKENDS)


def actor_demand(
    nodes: list[NodeResources],
    *,
    gpu: bool,
    threads: int | None = None,
    memory_budget_gb: float | None = None,
    planned_host_bytes: int | None = None,
) -> ActorDemand:
    """One actor per GPU (one CPU for its host thread), or a CPU actor of `threads` cores (1 when
    not given: on a cluster, parallelism belongs across actors). Memory, from the device profile's
    budget for one device: a GPU actor reserves the budget of its GPU, at most the node's memory
    divided among its GPUs; CPU actors share the node (one device) in proportion to the cores they
    take, its budget capped at what Ray offers there. So Ray never packs more actors on a node
    than its memory holds. The smallest such share over the nodes is used: one demand has to fit
    on every node. With a memory plan of the run (`edgegen.runtime.memory_needs`), each actor
    reserves the host memory its own process is predicted to peak at instead: every actor loads
    the whole pipeline, so a share of the budget would over-commit a node."""
    if threads is not None and threads < 1:
        raise UsageError(f"--threads {threads} must be ≥ 1")
    t = threads or 1
    usable = [n for n in nodes if (n.gpus >= 1 if gpu else n.cpus >= t)]
    memory = 0
    if memory_budget_gb and usable:
        budget = memory_budget_gb * GIB
        if gpu:
            shares = [min(budget, n.memory / n.gpus) if n.memory else budget for n in usable]
        else:
            shares = [(min(budget, n.memory) if n.memory else budget) * t / n.cpus for n in usable]
        memory = int(min(shares))
    if planned_host_bytes:
        memory = int(planned_host_bytes)
    if gpu:
        return ActorDemand(1.0, 1.0, memory, threads)
    return ActorDemand(float(t), 0.0, memory, t)


def fits_on(node: NodeResources, demand: ActorDemand) -> int:
    counts = [math.floor(node.cpus / demand.num_cpus + 1e-9)] if demand.num_cpus else []
    if demand.num_gpus:
        counts.append(math.floor(node.gpus / demand.num_gpus + 1e-9))
    if demand.memory:
        counts.append(math.floor(node.memory / demand.memory + 1e-9))
    return max(0, min(counts)) if counts else 0


def pool_size(nodes: list[NodeResources], demand: ActorDemand, requested: int | None = None) -> int:
    """How many actors to start: as many as the cluster holds at once, or fewer if asked."""
    if requested is not None and requested < 1:
        raise UsageError(f"--ray-actors {requested} must be ≥ 1")
    fit = sum(fits_on(n, demand) for n in nodes)
    if fit == 0:
        have = "; ".join(f"{n.cpus:g} CPU, {n.gpus:g} GPU, {n.memory / GIB:.1f} GiB" for n in nodes) or "no nodes"
        raise ClusterError(
            f"no Ray node can host an actor needing {demand.describe()} (nodes: {have})",
            hint="lower --threads, use a profile with a smaller memory budget, or add nodes",
        )
    return min(fit, requested) if requested else fit
