"""Memory plans (issue 19): the arithmetic on constructed needs, activation liveness on hand-made
graphs with known answers, the budget check refusing a run before anything is written,
and low-memory generation giving the normal path's images (streaming calibration:
tests/test_minmax_calibration.py)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from edgegen.export.activation_memory import activation_peak_bytes, live_peak
from edgegen.runtime.memory_plan import BackendMemory, ComponentNeed, fitting, plan_memory
from edgegen.types import Backend, Component, Precision, SchedulerName

MB = 2**20
ORT = BackendMemory("ort-cpu", 100 * MB, {"fp32": 2.0, "int8": 1.5}, 1.0, "host")
GPU = BackendMemory("ort-cuda", 300 * MB, {"fp32": 1.0, "fp16": 1.0}, 1.0, "gpu")


def _needs(unet_precision="fp32"):
    return [
        ComponentNeed("text_encoder", "fp32", 50 * MB, 10 * MB),
        ComponentNeed("unet", unet_precision, 400 * MB, 200 * MB),
        ComponentNeed("vae_decoder", "fp32", 100 * MB, 300 * MB),
    ]


def test_normal_mode_holds_everything_and_low_memory_the_largest_component():
    normal = plan_memory(_needs(), ORT, low_memory=False)
    # base + Σ (2.0 × weights + activations): 100 + (100+10) + (800+200) + (200+300)
    assert normal.peak_bytes == (100 + 110 + 1000 + 500) * MB
    assert [s.peak_bytes // MB for s in normal.stages] == [210, 1210, 1710]
    low = plan_memory(_needs(), ORT, low_memory=True)
    assert low.peak_bytes == (100 + 1000) * MB  # the UNet stage alone
    int8 = plan_memory(_needs("int8"), ORT, low_memory=True)
    assert int8.peak_bytes == (100 + 600 + 200) * MB  # INT8 weights 1.5× their bytes: still the largest stage
    assert int8.stages[1].weights_bytes == 600 * MB


def test_low_memory_budget_checks_use_the_measured_margin():
    from dataclasses import replace

    under = replace(ORT, low_memory_margin=1.2)  # low-memory runs measured up to 20% above the plan
    plan = plan_memory(_needs(), under, low_memory=True, budget_gb=1.2)
    assert plan.peak_bytes == 1100 * MB and plan.checked_bytes == 1320 * MB
    assert not plan.fits  # 1.15 GB predicted would fit 1.2 GB; 1.38 GB checked does not
    assert "(up to 1.4 GB)" in plan.one_line()
    normal = plan_memory(_needs(), under, low_memory=False, budget_gb=1.8)
    assert normal.checked_bytes == normal.peak_bytes and normal.fits  # the margin is low memory's only
    assert fitting([plan, normal]) == [normal]


def test_budget_and_where_it_applies():
    plan = plan_memory(_needs(), ORT, low_memory=True, budget_gb=1.0)
    assert plan.where == "host RAM" and not plan.fits  # 1.10 GB > 1.0 GB
    assert plan_memory(_needs(), ORT, low_memory=True, budget_gb=1.2).fits
    # a discrete GPU's budget is GPU memory: the host-side fixed cost does not count
    gpu = plan_memory(_needs(), GPU, low_memory=False, budget_gb=1.2, device_kind="cuda")
    assert gpu.where == "GPU memory" and gpu.base_bytes == 0
    # a Jetson shares one memory: everything counts
    assert plan_memory(_needs(), GPU, low_memory=False, device_kind="jetson").base_bytes == 300 * MB
    plans = [plan_memory(_needs(), ORT, low, 1.2) for low in (False, True)]
    assert [p.low_memory for p in fitting(plans)] == [True]
    assert "UNet fp32 + low memory" in plans[1].one_line()


def test_live_peak_known_answers():
    sizes = {"a": 10, "b": 20, "c": 5, "d": 1}
    # a → b → c, d = f(a, c): a stays alive until d is computed
    nodes = [([], ["a"]), (["a"], ["b"]), (["b"], ["c"]), (["a", "c"], ["d"])]
    assert live_peak(nodes, sizes, {"d"}) == 35  # computing c: its input b, and a, are alive too
    # a graph output stays alive to the end; an unread tensor dies after the node that made it
    assert live_peak([([], ["a"]), (["a"], ["b"]), ([], ["c"])], sizes, {"a"}) == 30


def _chain_model(path, hidden=64):
    """x[B,8] → MatMul(8×H) → Relu → MatMul(H×8) → y: intermediates B·H·4 bytes each."""
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [8, hidden], np.zeros(8 * hidden, np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [hidden, 8], np.zeros(8 * hidden, np.float32))
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [w1, w2],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_activation_peak_of_a_graph_scales_with_the_batch(tmp_path):
    path = _chain_model(tmp_path / "chain.onnx")
    # h and r (B×64 floats each) are alive together at the Relu: 2 × B × 256 bytes
    assert activation_peak_bytes(path, {"x": (1, 8)}) == 2 * 256
    assert activation_peak_bytes(path, {"x": (16, 8)}) == 16 * 2 * 256


def test_a_graph_with_embedded_weights_is_analysed_stripped_in_a_child_and_cached(tmp_path, monkeypatch):
    """The same peak whether the weights are there or stripped, in this process or a child; the
    second run reads the folder's cache instead of parsing the graph again."""

    from onnx import numpy_helper

    import edgegen.export.activation_memory as am

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((256, 512)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 512])],
        [w],
    )
    path = tmp_path / "g" / "mm.onnx"
    path.parent.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    model = onnx.load(str(path))
    assert am.strip_weights(model) == 256 * 512 * 4 and not model.graph.initializer[0].raw_data
    expected = 2 * 4 * 512 * 4  # h and y, batch 4 × 512 floats each
    monkeypatch.setattr(am, "IN_PROCESS_MAX_BYTES", 0)  # every graph goes to the child process
    assert activation_peak_bytes(path, {"x": (4, 256)}) == expected
    assert (path.parent / am.CACHE_FILE).is_file()

    def parse(*_):
        raise AssertionError("parsed again")

    monkeypatch.setattr(am, "_cached_peak", parse)
    assert activation_peak_bytes(path, {"x": (4, 256)}) == expected
    with pytest.raises(AssertionError, match="parsed again"):
        activation_peak_bytes(path, {"x": (8, 256)})  # new shapes: a new entry


def test_shape_constants_kept_in_external_data_are_read_for_inference(tmp_path, monkeypatch):
    """An export past 2 GB keeps every initializer in external data, the Reshape's target shape
    too: inference needs that value (the SD 1.5 UNet's plan failed on it), the weights stay on disk."""
    from onnx import numpy_helper

    import edgegen.export.activation_memory as am

    w = numpy_helper.from_array(np.ones((64, 128), np.float32), "w")
    target = numpy_helper.from_array(np.array([-1, 32], np.int64), "target")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Reshape", ["h", "target"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, target],
    )
    path = tmp_path / "ext.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    monkeypatch.setattr(am, "_STRIP_MIN_BYTES", 64)  # w (32 KB) stays on disk, the shape is read
    loaded = onnx.load(str(path), load_external_data=False)
    assert am.load_small_external(loaded, tmp_path) == 1
    # h (B×128) and y (4B×32) alive together at the Reshape
    assert activation_peak_bytes(path, {"x": (2, 64)}) == 2 * (2 * 128 * 4)


def _budget_profile(tmp_path, budget_gb):
    raw = yaml.safe_load(open("profiles/cpu-x86.yaml"))
    raw["memory_budget_gb"] = budget_gb
    path = tmp_path / "cpu-x86.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_budget_too_small_stops_before_anything_is_written(tiny_export, tmp_path, run_cli):
    folder = tiny_export[1].folder
    out = tmp_path / "images"
    code, _, err = run_cli(
        "generate", "--out", str(out), "--model", "tiny", "--artifacts", str(folder), "--backend", "ort-cpu",
        "--profile", str(_budget_profile(tmp_path, 0.05)), "--n", "1", "--class", "normal",
    )  # fmt: skip
    assert code == 13 and err.count("\n") == 1
    assert "allows 0.05 GB" in err and "nothing fits" in err
    assert not out.exists()
    # the plan command tells the same story without refusing
    code, text, _ = run_cli(
        "plan", "--model", "tiny", "--artifacts", str(folder), "--profile", str(_budget_profile(tmp_path, 0.05))
    )
    assert code == 0 and "does NOT fit" in text and "no variant fits" in text


def test_classify_is_checked_against_the_budget_too(tiny_export, tmp_path, run_cli):
    folder = tiny_export[1].folder
    out = tmp_path / "probs.csv"
    args = ("classify", "default", "--artifacts", str(folder), "--backend", "ort-cpu", "--out", str(out))
    code, _, err = run_cli(*args, "--profile", str(_budget_profile(tmp_path, 0.05)))
    assert code == 13 and err.count("\n") == 1 and "smaller --batch-size" in err and not out.exists()


def test_low_memory_gives_the_normal_paths_images(tiny_export):
    from edgegen.runtime.loader import RunConfig, open_sd_pipeline

    folder = tiny_export[1].folder
    config = RunConfig(Backend.ORT_CPU, {c: Precision.FP32 for c in Component})
    images = {}
    for low in (False, True):
        pipe, _ = open_sd_pipeline(config, SchedulerName.DPMPP, model="tiny", artifacts=folder, low_memory=low)
        images[low] = pipe(["a chest X-ray, frontal view, normal"] * 2, [5, 6], 3, 5.0, 64).images
        assert not low or not any(r.loaded for r in pipe.runners.values())
        pipe.release()
    # the guided halves run one after the other in low memory: the same numbers per image
    diff = np.abs(images[False].astype(int) - images[True].astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01


@pytest.mark.parametrize("backend", [Backend.ORT_CPU])
def test_every_backend_used_by_plans_has_measured_constants(backend):
    from edgegen.runtime.memory_needs import backend_memory

    constants = backend_memory(backend)
    assert constants.base_bytes > 0 and constants.source and "provisional" not in constants.source
