"""The driver side of a Ray run: connect, size the actor pool from the cluster and the device
profile, plan shards, and commit every shard's results as they arrive (the only writer), with one
aggregated progress callback.

    with ray_generation(RayRequest("auto"), spec) as run:   # actors load the pipeline once
        items, settings = ...plan from run.description...
        result = run.generate(items, settings, out_dir, progress)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from edgegen.distributed.cluster import cluster_nodes, ray_session
from edgegen.distributed.pool import WorkerPool
from edgegen.distributed.shards import (
    ActorDemand,
    actor_demand,
    default_shard_size,
    plan_generate_shards,
    plan_index_shards,
    pool_size,
    wants_gpu,
)
from edgegen.distributed.workers import (
    ClassifyWorker,
    GenerateWorker,
    PipelineDescription,
    PipelineSpec,
    StudyWorker,
)
from edgegen.errors import ClusterError
from edgegen.runtime.classify import ClassifyResult, summarize
from edgegen.runtime.generate import GenerateResult, GenerateSettings, PlannedImage, commit, resume
from edgegen.types import Backend


@dataclass(frozen=True)
class RayRequest:
    """What the user asked of the cluster; the rest comes from the cluster and the profile."""

    address: str = "auto"
    actors: int | None = None  # None: as many as the cluster holds
    threads: int | None = None  # per CPU actor (None: the profile's, else 1)
    memory_budget_gb: float | None = None  # the device profile's budget for one device
    planned_host_bytes: int | None = None  # one actor's predicted host peak (edgegen plan), when known
    shard_size: int | None = None  # None: a few shards per actor, ≤ 64 items


@dataclass
class RayStats:
    actors: int
    demand: str  # what each actor reserved
    shards: int = 0
    retried_shards: int = 0  # shards re-run after their actor died
    actor_deaths: int = 0


@dataclass
class RayGenerateResult(GenerateResult):
    ray: RayStats | None = None


@dataclass(frozen=True)
class RayClassifyResult(ClassifyResult):
    ray: RayStats | None = None


def _stats(pool: WorkerPool, shards: int, since: tuple[int, int] = (0, 0)) -> RayStats:
    """`since`: the pool's (retried, deaths) when the call began: a pool can serve several calls."""
    return RayStats(len(pool.actors), pool.demand.describe(), shards, pool.retried - since[0], pool.deaths - since[1])


def _plan_pool(ray, request: RayRequest, backend: Backend | None, threads: int | None) -> tuple[ActorDemand, int]:
    """`backend` None: CPU actors whatever the cluster has."""
    nodes = cluster_nodes(ray)
    gpu = backend is not None and wants_gpu(backend, sum(n.gpus for n in nodes))
    demand = actor_demand(
        nodes,
        gpu=gpu,
        threads=request.threads or threads,
        memory_budget_gb=request.memory_budget_gb,
        planned_host_bytes=request.planned_host_bytes,
    )
    return demand, pool_size(nodes, demand, request.actors)


def _worker_config(config, demand: ActorDemand):
    """The actor's RunConfig: its thread count, and CUDA for torch on a GPU actor (Ray sets
    CUDA_VISIBLE_DEVICES to the actor's own GPU)."""
    if demand.num_gpus:
        return replace(config, device="cuda") if config.backend is Backend.TORCH else config
    return replace(config, threads=demand.threads, device="cpu")


@dataclass
class RayGeneration:
    pool: WorkerPool
    request: RayRequest
    description: PipelineDescription

    def generate(
        self,
        items: list[PlannedImage],
        settings: GenerateSettings,
        out_dir: Path,
        progress: Callable[[int, int, float], None] | None = None,
        shard_size: int | None = None,
    ) -> RayGenerateResult:
        """Same files, tags and manifest as `generate_images`; resumes the same way. The pool
        stays up for further calls (other folders, other settings) until the `with` ends."""
        out_dir = Path(out_dir)
        facts = self.description.facts
        keep, todo = resume(out_dir, facts, items, settings)
        size = (
            shard_size or self.request.shard_size or default_shard_size(len(todo), self.pool.limit, settings.batch_size)
        )
        shards = plan_generate_shards(todo, size, settings.batch_size)
        since = (self.pool.retried, self.pool.deaths)
        start = time.perf_counter()
        committed: set[str] = set()
        steps: list[float] = []
        if shards:
            self.pool.grow(len(shards))
            for shard, out in self.pool.map(shards, "generate", lambda s: (s.items, settings)):
                if out.facts != facts:
                    raise ClusterError(
                        f"a worker generated {shard.label()} with another model or backend ({out.facts.get('model')}, "
                        f"sha256 {str(out.facts.get('model_sha256'))[:12]}) than the run's",
                        hint="install the same edgegen and model files on every node",
                    )
                for rendered in out.images:
                    if rendered.file not in committed:  # a shard yields once; belt and braces
                        commit(out_dir, rendered)
                        committed.add(rendered.file)
                steps += out.unet_steps_s
                if progress:
                    elapsed = time.perf_counter() - start
                    progress(len(keep) + len(committed), len(items), len(committed) / elapsed if elapsed > 0 else 0.0)
        seconds = time.perf_counter() - start
        done = len(committed)
        stats = _stats(self.pool, len(shards), since)
        return RayGenerateResult(
            out_dir, done, len(keep), seconds, done / seconds if seconds > 0 and done else 0.0, steps, stats
        )


@contextlib.contextmanager
def ray_generation(request: RayRequest, spec: PipelineSpec) -> Iterator[RayGeneration]:
    """Connect, start the actors (each loads its pipeline at once, in parallel) and describe the
    pipeline of the first."""
    with ray_session(request.address) as ray:
        demand, limit = _plan_pool(ray, request, spec.config.backend, spec.config.threads)
        worker_spec = replace(spec, config=_worker_config(spec.config, demand))
        with WorkerPool(ray, GenerateWorker, (worker_spec,), demand, "generate", limit) as pool:
            pool.grow(limit, warm="describe")
            yield RayGeneration(pool, request, pool.call("describe"))


@dataclass
class RayClassification:
    pool: WorkerPool
    request: RayRequest
    card: object  # ClassifierCard

    def classify(
        self,
        images: np.ndarray,
        names: list[str],
        labels,
        out_csv: Path | None,
        batch_size: int = 64,
        bootstrap: int = 500,
        backend: str = "",
        precision: str = "",
        progress: Callable[[int, int, float], None] | None = None,
    ) -> RayClassifyResult:
        """Same probabilities, CSV and metrics as `classify`: shards are whole batches of it."""
        n = len(images)
        size = self.request.shard_size or default_shard_size(n, self.pool.limit, batch_size)
        shards = plan_index_shards(n, size, batch_size)
        self.pool.grow(len(shards))
        since = (self.pool.retried, self.pool.deaths)
        start = time.perf_counter()
        ref = self.pool.ray.put(np.ascontiguousarray(images))  # once; each node fetches it once
        parts: dict[int, np.ndarray] = {}
        for shard, (probs, _) in self.pool.map(shards, "predict", lambda s: (ref, s.start, s.stop, batch_size)):
            parts[shard.id] = probs
            if progress:
                done = sum(len(p) for p in parts.values())
                elapsed = time.perf_counter() - start
                progress(done, n, done / elapsed if elapsed > 0 else 0.0)
        seconds = time.perf_counter() - start
        probs = np.concatenate([parts[s.id] for s in shards])
        result = summarize(self.card, probs, names, labels, out_csv, bootstrap, backend, precision, seconds)
        plain = {f.name: getattr(result, f.name) for f in fields(result)}
        return RayClassifyResult(**plain, ray=_stats(self.pool, len(shards), since))


@contextlib.contextmanager
def ray_classification(
    request: RayRequest, config, classifier: str | None, artifacts: Path | None
) -> Iterator[RayClassification]:
    with ray_session(request.address) as ray:
        demand, limit = _plan_pool(ray, request, config.backend, config.threads)
        args = (_worker_config(config, demand), classifier, artifacts)
        with WorkerPool(ray, ClassifyWorker, args, demand, "classify", limit) as pool:
            pool.grow(limit, warm="describe")
            yield RayClassification(pool, request, pool.call("describe"))


def run_study_units(
    state, todo: list, request: RayRequest, progress: Callable[[int, int, str], None] | None = None
) -> Iterator[dict]:
    """Train the units on CPU actors (edgegen trains classifiers on CPU) and save each unit's
    files as it arrives (the .json last: the done marker `prepare` looks for); yield its record."""
    from edgegen.study.runner import save_unit

    with ray_session(request.address) as ray:
        demand, limit = _plan_pool(ray, request, None, request.threads)
        ref = ray.put(state)  # the real splits and sources, shipped once per node
        with WorkerPool(ray, StudyWorker, (ref, demand.threads), demand, "study", limit) as pool:
            pool.grow(len(todo))
            before, done = len(state.done), 0
            if progress:
                progress(before, len(state.units), f"{len(todo)} units on {len(pool.actors)} Ray actors")
            for unit, (record, probs) in pool.map(todo, "train", lambda u: (u,)):
                save_unit(state.folder, record, probs)
                done += 1
                if progress:
                    progress(before + done, len(state.units), unit.label())
                yield record
