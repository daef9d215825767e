"""A pool of Ray actors of one worker class that hands out shards and survives actor deaths.

Each actor holds up to `inflight` shards (one running, the next queued on it, so it never waits
for the driver). When an actor dies (killed, OOM, its node lost) every shard it held goes back
to the front of the queue and a fresh actor takes its place; a shard that has failed on
`max_attempts` actors, or a worker that raises, stops the run with a typed error. Results are
yielded once per shard, in completion order, for the driver to commit.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from edgegen.distributed.cluster import NAMESPACE
from edgegen.distributed.shards import ActorDemand
from edgegen.errors import ClusterError, EdgegenError

DEFAULT_MAX_ATTEMPTS = 3


@dataclass(eq=False)  # identity: two actors are never the same actor
class _Actor:
    name: str
    handle: object
    busy: int = 0


class WorkerPool:
    def __init__(
        self,
        ray,
        worker_cls: type,
        args: tuple,
        demand: ActorDemand,
        kind: str,
        limit: int,
        *,
        inflight: int = 2,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.ray, self.args, self.demand, self.kind = ray, args, demand, kind
        self.limit, self.inflight, self.max_attempts = limit, inflight, max_attempts
        self._remote = ray.remote(worker_cls)
        self.prefix = f"edgegen-{kind}-{uuid.uuid4().hex[:8]}"  # `ray list actors` shows whose they are
        self.actors: list[_Actor] = []
        self.started = 0
        self.deaths = 0
        self.retried = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self) -> _Actor:
        if self.started >= self.limit * (1 + self.max_attempts):
            raise ClusterError(
                f"{self.deaths} {self.kind} actors died in this run; giving up",
                hint="check the nodes' memory and `ray status`; worker logs are in /tmp/ray/session_latest/logs",
            )
        name = f"{self.prefix}-{self.started}"
        handle = self._remote.options(
            name=name, namespace=NAMESPACE, max_restarts=0, **self.demand.ray_options()
        ).remote(*self.args)
        self.started += 1
        actor = _Actor(name, handle)
        self.actors.append(actor)
        return actor

    def grow(self, n: int, warm: str | None = None) -> int:
        """Start actors up to min(n, limit); return how many there are. `warm`: a method each new
        actor runs at once (loading its pipeline) while the driver does other things; its result
        is dropped (a failure shows again on the actor's first shard)."""
        while len(self.actors) < min(max(1, n), self.limit):
            actor = self._spawn()
            if warm:
                getattr(actor.handle, warm).remote()
        return len(self.actors)

    def call(self, method: str, *args):
        """One call on some actor (e.g. `describe`), retried on another if its actor dies."""
        shard = _Call(method)
        for _, result in self.map([shard], method, lambda _s: args):
            return result
        raise AssertionError("unreachable")

    def map(self, shards: Iterable, method: str, args_of: Callable[[object], tuple]) -> Iterator[tuple[object, object]]:
        """(shard, result) for every shard, each exactly once. Shards need an `id` and `label()`."""
        from ray.exceptions import NodeDiedError, ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError

        lost = (RayActorError, WorkerCrashedError, ObjectLostError, NodeDiedError)
        queue = deque(shards)
        attempts: Counter = Counter()
        pending: dict = {}  # ObjectRef → (shard, actor)
        self.grow(1)
        while queue or pending:
            for actor in list(self.actors):
                while queue and actor.busy < self.inflight:
                    shard = queue.popleft()
                    ref = getattr(actor.handle, method).remote(*args_of(shard))
                    pending[ref] = (shard, actor)
                    actor.busy += 1
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            shard, actor = pending.pop(ready[0])
            actor.busy -= 1
            try:
                result = self.ray.get(ready[0])
            except RayTaskError as exc:
                cause = exc.cause
                if isinstance(cause, EdgegenError):
                    raise cause from None  # deterministic: the same shard would fail again
                raise ClusterError(
                    f"{self.kind} worker failed on {shard.label()}: {type(cause).__name__}: "
                    + (str(cause).strip().splitlines() or [""])[0],
                    hint="EDGEGEN_DEBUG=1 and Ray's worker logs (/tmp/ray/session_latest/logs) have the traceback",
                ) from exc
            except lost as exc:
                attempts[shard.id] += 1
                if attempts[shard.id] >= self.max_attempts:
                    raise ClusterError(
                        f"{self.kind} shard {shard.label()} was lost with its actor {attempts[shard.id]} times",
                        hint="check the nodes' memory and `ray status`",
                    ) from exc
                queue.appendleft(shard)
                self.retried += 1
                self._replace(actor)
                continue
            yield shard, result

    def _replace(self, actor: _Actor) -> None:
        if actor not in self.actors:
            return  # its other shards already replaced it
        self.actors.remove(actor)
        self.deaths += 1
        self.ray.kill(actor.handle)  # an unavailable (not dead) actor must not run on
        self._spawn()

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor.handle)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors.clear()


@dataclass(frozen=True)
class _Call:
    method: str
    id: str = "call"

    def label(self) -> str:
        return f"the {self.method} call"
