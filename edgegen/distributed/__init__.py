"""Ray execution of `generate`, `classify` and study units across the GPUs and machines of a cluster.

Why Ray Core actors, not Ray Data `map_batches` with an actor pool: both load the model once per
actor, but what edgegen must guarantee is exactly-once files on a local or shared filesystem and
resume after a killed driver, both built on `generate`'s own manifest logic. With Core actors
the driver owns every write: workers return encoded images (or probabilities, or a unit's
record), the driver commits each shard once (image atomically, then its manifest line), and a
re-run resumes from what the manifest and the files agree on. Ray Data would either write from
its workers through a datasink (a retried block can write again, and its files are not our
manifest) or stream results back to the driver, where it adds little over an actor pool while
taking block and batch boundaries out of our hands (the single-process batches are what make
images bit-exact) and retrying on its own terms. Shards here are few, small and known up front,
so a plain queue over actors suffices: when an actor dies its shards go back to the queue and a
fresh actor takes its place.

Layout: `shards` (pure: shard plans, actor resources from the cluster and the device profile),
`cluster` (the `ray` import and connection), `workers` (what runs in an actor), `pool` (actors,
retries), `orchestrator` (the driver: plan, run, commit, progress).

Bit-exact images: an image depends on its seed only (per-image noise generators), and shards are
whole batches, so a worker computes exactly what the single-process loop computes, given the
same runtime and the same intra-op thread count: on CPU, float reductions are ordered by the
thread split (measured: ±1 grey level on the tiny preset between 1 and 2 torch threads), so run
the single-process path with `--threads T` to compare with CPU actors of T threads.
"""
