"""Ray scale-out on one local cluster started here on loopback (2 CPUs, no dashboard): images equal
the single-process path's bit for bit, an actor killed mid-run costs nothing (no image lost or
doubled), a driver killed with SIGKILL resumes, classify and a study run through Ray; shard and
resource planning are checked without a cluster, and a missing `ray` is a one-line error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgegen.distributed.shards import (
    GIB,
    ActorDemand,
    NodeResources,
    actor_demand,
    default_shard_size,
    parse_address,
    plan_generate_shards,
    plan_index_shards,
    pool_size,
    wants_gpu,
)
from edgegen.errors import BackendUnavailableError, ClusterError, UsageError
from edgegen.runtime.generate import GenerateSettings, generate_images, plan
from edgegen.runtime.loader import RunConfig, open_pipeline
from edgegen.types import Backend, Component, Precision, SchedulerName

# Ray then takes 127.0.0.1 as the node address (its macOS/Windows behaviour) instead of the
# machine's network address: the test cluster listens on loopback only. Workers inherit it.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

N_PER_CLASS = 20  # × 2 classes = 40 images
STEPS = 4
TEMPLATE = "a chest X-ray, {class}"
CONFIG = RunConfig(Backend.TORCH, {c: Precision.FP32 for c in Component}, threads=1)  # = each CPU actor's


def _items():
    return plan(["normal", "pneumonia"], N_PER_CLASS, TEMPLATE, seed=100)


def _settings():
    return GenerateSettings(steps=STEPS, guidance_scale=5.0, scheduler="dpm++", size=64)


def _lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]


def _same_as_reference(out: Path, ref: Path) -> None:
    """Every image byte-identical (pixels and provenance chunks); manifest lines equal but for
    the time they were made."""
    got = {p.relative_to(out) for p in out.rglob("*.png")}
    assert got == {p.relative_to(ref) for p in ref.rglob("*.png")} and len(got) == 2 * N_PER_CLASS
    for rel in got:
        assert (out / rel).read_bytes() == (ref / rel).read_bytes(), rel

    def timeless(lines: list[dict]) -> list[dict]:
        return sorted(({k: v for k, v in x.items() if k not in ("created", "seconds")} for x in lines), key=str)

    assert timeless(_lines(out)) == timeless(_lines(ref))
    assert not list(out.rglob("*.tmp"))


# --- planning, no cluster ------------------------------------------------------------------------


def test_generate_shards_are_class_seed_runs_in_whole_batches():
    items = _items()
    shards = plan_generate_shards(items, shard_size=6, batch_size=4)  # rounded up to 8
    assert [len(s.items) for s in shards] == [8, 8, 4, 8, 8, 4]
    assert [it for s in shards for it in s.items] == items  # each image once, in plan order
    assert all(len({it.class_name for it in s.items}) == 1 for s in shards)
    assert shards[0].label() == "normal seeds 100-107" and shards[3].seeds == (120, 127)
    # a resumed run has holes: a shard never spans one
    todo = [it for it in items if it.seed not in (102, 103)]
    shards = plan_generate_shards(todo, 8)
    assert [s.seeds for s in shards[:2]] == [(100, 101), (104, 111)]
    assert plan_generate_shards([], 8) == []
    with pytest.raises(UsageError, match="shard size 0"):
        plan_generate_shards(items, 0)
    assert [(s.start, s.stop) for s in plan_index_shards(312, 100, 64)] == [(0, 128), (128, 256), (256, 312)]
    assert default_shard_size(40, 2, 1) == 5 and default_shard_size(10_000, 2, 1) == 64
    assert default_shard_size(40, 2, 4) == 8 and default_shard_size(0, 2, 1) == 1


def test_actor_resources_come_from_cluster_and_profile():
    this = [NodeResources(cpus=2, memory=15 * GIB)]  # this machine: a 16 GB budget, capped at Ray's 15
    cpu = actor_demand(this, gpu=False, memory_budget_gb=16.0)
    assert cpu == ActorDemand(1.0, 0.0, int(7.5 * GIB), 1) and pool_size(this, cpu) == 2
    assert pool_size(this, cpu, requested=1) == 1
    two = actor_demand(this, gpu=False, threads=2, memory_budget_gb=16.0)
    assert (two.num_cpus, two.threads, pool_size(this, two)) == (2.0, 2, 1)
    gpus = [NodeResources(cpus=32, gpus=8, memory=128 * GIB), NodeResources(cpus=8, gpus=1, memory=64 * GIB)]
    gpu = actor_demand(gpus, gpu=True, memory_budget_gb=22.0)  # 4090 profile: 22 GB per GPU, ≤ 16 GB/GPU here
    assert (gpu.num_gpus, gpu.num_cpus, gpu.memory) == (1.0, 1.0, 16 * GIB)
    assert pool_size(gpus, gpu) == 9 and gpu.describe() == "1 CPU, 1 GPU, 16.0 GiB memory"
    assert gpu.ray_options() == {"num_cpus": 1.0, "num_gpus": 1.0, "memory": 16 * GIB}
    assert wants_gpu(Backend.TORCH, 9) and not wants_gpu(Backend.ORT_CPU, 9) and not wants_gpu(Backend.TORCH, 0)
    with pytest.raises(BackendUnavailableError, match="backend trt needs a GPU, and the Ray cluster has none"):
        wants_gpu(Backend.TENSORRT, 0)
    with pytest.raises(ClusterError, match="no Ray node can host an actor needing 4 CPU"):
        pool_size(this, actor_demand(this, gpu=False, threads=4))
    with pytest.raises(UsageError, match="--ray-actors 0"):
        pool_size(this, cpu, requested=0)
    # With a memory plan, an actor reserves its own predicted peak: each loads the whole pipeline,
    # so a 6 GB SD 1.5 actor fits twice in 15 GiB even on a 16-core node, not 16 times.
    big = [NodeResources(cpus=16, memory=15 * GIB)]
    planned = actor_demand(big, gpu=False, memory_budget_gb=16.0, planned_host_bytes=6 * GIB)
    assert planned.memory == 6 * GIB and pool_size(big, planned) == 2
    assert pool_size(big, actor_demand(big, gpu=False, memory_budget_gb=16.0)) == 16
    assert parse_address(" auto ") == "auto" and parse_address("10.0.0.5:6379") == "10.0.0.5:6379"
    assert parse_address("ray://head:10001") == "ray://head:10001"
    with pytest.raises(UsageError, match="is not a Ray address"):
        parse_address("head node")


def test_without_ray_every_ray_flag_is_a_one_line_error(run_cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    runs = [
        ("generate", "--out", str(tmp_path / "g"), "--model", "tiny", "--backend", "torch", "--ray", "auto"),
        ("classify", "default", "--backend", "torch", "--ray", "local"),
        ("study", "--out", str(tmp_path / "s"), "--ray", "auto"),
    ]
    for args in runs:
        code, _, err = run_cli(*args)
        assert code == BackendUnavailableError.exit_code, err
        assert err.count("\n") == 1 and "pip install 'edgegen[ray]'" in err, err
    assert not list(tmp_path.iterdir())  # nothing written, nothing loaded
    code, _, err = run_cli("generate", "--out", str(tmp_path / "g"), "--ray", "two words")
    assert code == UsageError.exit_code and "is not a Ray address" in err


# --- on the cluster --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module: its GCS address (127.0.0.1:PORT) for drivers to join."""
    ray = pytest.importorskip("ray")
    # num_gpus=0: on a GPU machine these CPU tests still compare CPU actors with the CPU path
    context = ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, namespace="edgegen-tests")
    assert context.address_info["gcs_address"].startswith("127.0.0.1:")
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-process output, with the thread count of a CPU actor."""
    out = tmp_path_factory.mktemp("single")
    pipe, facts = open_pipeline(CONFIG, SchedulerName.DPMPP, model="tiny")
    generate_images(pipe, {**facts, "backend": "torch"}, _items(), _settings(), out)
    pipe.release()
    return out


def _ray_generation(address: str):
    from edgegen.distributed.orchestrator import RayRequest, ray_generation
    from edgegen.distributed.workers import PipelineSpec

    request = RayRequest(address, actors=2, threads=1, memory_budget_gb=16.0)
    return ray_generation(request, PipelineSpec(CONFIG, SchedulerName.DPMPP, "tiny"))


class TestGenerateOnTwoActors:
    """One pool of 2 actors (each loads the tiny pipeline once) serves both runs; it holds the
    cluster's 2 CPUs until the class ends."""

    @pytest.fixture(scope="class")
    def run(self, cluster):
        with _ray_generation(cluster) as run:
            yield run

    def test_40_images_equal_the_single_process_output(self, run, reference, tmp_path):
        assert run.description.family == "sd" and run.description.facts["backend"] == "torch"
        seen = []
        result = run.generate(
            _items(), _settings(), tmp_path, lambda done, total, ips: seen.append((done, total)), shard_size=8
        )
        assert result.generated == 40 and result.skipped == 0
        assert result.ray.actors == 2 and result.ray.shards == 6 and result.ray.retried_shards == 0
        assert seen[-1] == (40, 40) and [d for d, _ in seen] == sorted(d for d, _ in seen)  # one bar, monotonic
        assert len(result.unet_step_s) == 40 * STEPS
        _same_as_reference(tmp_path, reference)

    def test_an_actor_killed_mid_run_loses_and_doubles_nothing(self, run, reference, tmp_path):
        import ray

        box: dict = {}

        def drive() -> None:
            try:
                box["result"] = run.generate(_items(), _settings(), tmp_path, shard_size=2)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
                box["error"] = exc

        thread = threading.Thread(target=drive)
        thread.start()
        manifest = tmp_path / "manifest.jsonl"
        deadline = time.time() + 180
        while time.time() < deadline and thread.is_alive():
            if manifest.is_file() and len(manifest.read_text().splitlines()) >= 6:
                break
            time.sleep(0.01)
        assert thread.is_alive(), "the run finished before an actor could be killed"
        names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "-generate-" in a["name"]]
        assert len(names) == 2
        ray.kill(ray.get_actor(sorted(names)[0], namespace="edgegen"))
        thread.join(timeout=300)
        assert "error" not in box, box.get("error")
        result = box["result"]
        assert result.ray.actor_deaths == 1 and result.ray.retried_shards >= 1 and result.generated == 40
        lines = _lines(tmp_path)
        assert len(lines) == 40 and len({x["file"] for x in lines}) == 40
        _same_as_reference(tmp_path, reference)


def test_driver_sigkill_then_rerun_resumes_without_duplicates(cluster, reference, tmp_path, run_cli):
    from edgegen.hashing import sha256_file

    out = tmp_path / "gen"
    args = [
        "generate",
        "--out",
        str(out),
        "--model",
        "tiny",
        "--backend",
        "torch",
        "--class",
        "normal",
        "--class",
        "pneumonia",
        "--n",
        str(N_PER_CLASS),
        "--seed",
        "100",
        "--prompt-template",
        TEMPLATE,
        "--steps",
        str(STEPS),
        "--guidance",
        "5.0",
        "--scheduler",
        "dpm++",
        "--size",
        "64",
        "--batch-size",
        "1",
        "--threads",
        "1",
        "--ray",
        cluster,
        "--ray-actors",
        "2",
    ]
    exe = str(Path(sys.executable).parent / "edgegen")
    proc = subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    manifest = out / "manifest.jsonl"
    deadline = time.time() + 900  # generous: a loaded 2-core box starts a Ray driver and actors slowly
    while time.time() < deadline and proc.poll() is None:
        if manifest.is_file() and len(manifest.read_text().splitlines()) >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(manifest.read_text().splitlines())
    assert 5 <= partial < 40
    code, stdout, err = run_cli(*args, "--json")  # this process is connected already: the same cluster
    assert code == 0, err
    result = json.loads(stdout)
    assert result["skipped"] >= partial and result["generated"] + result["skipped"] == 40
    lines = _lines(out)
    assert len(lines) == 40 and len({x["file"] for x in lines}) == 40 and len(list(out.rglob("*.png"))) == 40
    assert all(sha256_file(out / x["file"]) == x["sha256"] for x in lines)
    assert not list(out.rglob(".*"))  # no temp file left by the killed driver survives the re-run
    _same_as_reference(out, reference)


def test_a_worker_side_error_arrives_typed_and_one_line(cluster, run_cli, tmp_path):
    from edgegen.errors import ModelError

    code, _, err = run_cli(
        "generate", "--out", str(tmp_path / "g"), "--model", "./no-such-model", "--backend", "torch", "--ray", cluster
    )
    assert code == ModelError.exit_code and err.count("\n") == 1 and "no-such-model" in err, err
    assert not (tmp_path / "g").exists()


def test_classify_on_ray_equals_the_single_process_result(cluster, run_cli, tmp_path):
    common = ["classify", "default", "--backend", "torch", "--threads", "1", "--bootstrap", "20", "--json"]
    code, single, err = run_cli(*common, "--out", str(tmp_path / "single.csv"))
    assert code == 0, err
    code, remote, err = run_cli(*common, "--out", str(tmp_path / "ray.csv"), "--ray", cluster, "--ray-actors", "2")
    assert code == 0, err
    single, remote = json.loads(single), json.loads(remote)
    assert remote["ray"]["actors"] == 2 and remote["ray"]["shards"] >= 2 and remote["n"] == single["n"]
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()
    assert remote["report"] == single["report"]


def test_study_units_run_on_ray_and_resume(cluster, tmp_path):
    from edgegen.data.load import load_dataset
    from edgegen.study.runner import prepare, run_units
    from edgegen.study.spec import parse_spec
    from tests.test_study import _source, _spec

    real = load_dataset("kermany-128", "train", 32)
    fp32 = _source(tmp_path / "fp32", real.images, real.labels, "fp32")
    raw = _spec({"fp32": fp32, "int8": fp32}, seeds=1, sources={"fp32": {"folder": str(fp32)}})
    raw["classifier"] = {**raw["classifier"], "epochs": 1}
    raw["arms"] = [{"kind": "real-only"}, {"kind": "synthetic-only", "sources": ["fp32"]}]
    spec = parse_spec(raw)
    state = prepare(spec, tmp_path / "study")
    seen = []
    run_units(state, lambda done, total, info: seen.append((done, total, info)), ray_address=cluster)
    assert set(state.done) == {u.id for u in state.units} and len(state.units) == 2
    for uid, rec in state.done.items():
        assert (tmp_path / "study" / "units" / f"{uid}.json").is_file() and "accuracy" in rec["metrics"]
        probs = np.load(tmp_path / "study" / "units" / f"{uid}.npz")["probs"]
        assert probs.shape == (len(state.real.test), 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert seen[-1] == (2, 2, "done")
    again = prepare(spec, tmp_path / "study")
    assert set(again.done) == set(state.done)  # a re-run recomputes nothing


@pytest.mark.gpu
def test_gpu_actors_take_one_gpu_each(tmp_path):
    """`--ray local` on a GPU machine (its own cluster, GPUs detected): one torch actor per GPU."""
    pytest.importorskip("ray")
    import torch

    exe = str(Path(sys.executable).parent / "edgegen")
    args = ["generate", "--out", str(tmp_path), "--model", "tiny", "--backend", "torch", "--class", "normal"]
    done = subprocess.run(
        [exe, *args, "--n", "4", "--steps", "2", "--size", "64", "--ray", "local", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["generated"] == 4 and "1 GPU" in result["ray"]["demand"]
    assert result["ray"]["actors"] == torch.cuda.device_count()
