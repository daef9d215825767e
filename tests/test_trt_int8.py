"""TensorRT-compatible INT8 on the CPU: the two schemes and who gets which, the Q/DQ conformance
check (on real exported graphs of the tiny preset, where the CPU scheme must fail and the
TensorRT scheme pass, and on hand-built graphs breaking one rule each), the check at export and
in `edgegen build`, user-supplied (ModelOpt) graphs, and finite INT8 tolerances that a broken
graph fails."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import onnx
import pytest

from edgegen.errors import ArtifactError, BackendUnavailableError, ValidationError
from edgegen.export.components import EXPORTS
from edgegen.export.export_model import ExportRequest, export_model
from edgegen.export.int8_schemes import Int8Scheme, scheme_for_profile, scheme_options
from edgegen.export.qdq_graph import detach_non_fusible_readers
from edgegen.export.trt_conformance import ConformanceError, check_file, check_graph, require_conformant
from edgegen.hashing import sha256_file
from edgegen.profiles import load_all_profiles
from edgegen.types import Backend, Component, Precision
from tests.qdq_graphs import conv_graph

TRT_PROFILE = "laptop-rtx4060-8gb"  # any profile with TensorRT backends


@pytest.fixture(scope="module")
def trt_export(tmp_path_factory):
    """The tiny preset's INT8 graphs in the TensorRT scheme, as a TensorRT profile exports them."""
    request = ExportRequest(
        model="tiny",
        profile=TRT_PROFILE,
        out_root=tmp_path_factory.mktemp("trt"),
        precisions=(Precision.INT8,),
        components=(Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER, Component.CLASSIFIER),
        calibration_samples=4,
        image_size=64,
    )
    return export_model(request)


def test_each_profile_gets_the_scheme_its_backends_need():
    for profile in load_all_profiles():
        trt = any(b in (Backend.TENSORRT, Backend.ORT_TENSORRT) for b in profile.backends)
        assert scheme_for_profile(profile) is (Int8Scheme.TENSORRT if trt else Int8Scheme.CPU_U8S8), profile.name
    cpu, gpu = scheme_options(Int8Scheme.CPU_U8S8), scheme_options(Int8Scheme.TENSORRT)
    assert (cpu.activation_type, cpu.activation_symmetric, cpu.quantize_bias) == ("QUInt8", False, True)
    assert (gpu.activation_type, gpu.activation_symmetric, gpu.quantize_bias) == ("QInt8", True, False)
    assert gpu.extra_options()["OpTypesToExcludeOutputQuantization"] == ["Conv", "ConvTranspose", "MatMul", "Gemm"]
    with pytest.raises(ValueError, match="supplied with --int8-onnx"):
        scheme_options(Int8Scheme.MODELOPT)


def test_cpu_scheme_graphs_fail_the_tensorrt_rules(tiny_export):
    """The negative case on real graphs: every u8s8 INT8 graph of the tiny export breaks the
    zero-point and int8-type rules, and the manifest says so."""
    result = tiny_export[1]
    int8 = [a for a in result.manifest.components if a.precision is Precision.INT8]
    assert len(int8) == 5
    for art in int8:
        assert art.int8["scheme"] == "u8s8" and art.int8["tensorrt_conformance"]["passed"] is False
        report = check_file(result.folder / art.file)
        assert not report.passed
        assert {"q-not-int8", "nonzero-zero-point", "dq-not-int8"} <= set(report.counts()), art.component
        assert report.counts() == art.int8["tensorrt_conformance"]["rules"]
    with pytest.raises(ConformanceError) as exc:
        require_conformant(check_file(result.folder / "unet.int8.onnx"), "unet int8")
    assert exc.value.exit_code == ValidationError.exit_code and "\n" not in exc.value.one_line()
    assert "q-not-int8 ×" in str(exc.value) and exc.value.report.violations


def test_tensorrt_scheme_graphs_pass_and_are_what_they_claim(trt_export):
    folder = trt_export.folder
    for art in (a for a in trt_export.manifest.components if a.precision is Precision.INT8):
        assert art.int8["scheme"] == "trt-s8s8" and art.int8["biases"] == "float"
        report = check_file(folder / art.file)
        assert report.passed, report.summary()
        assert report.quantized_ops == art.int8["nodes_quantized"] > 0  # every candidate op really is int8
        assert art.int8["tensorrt_conformance"] == {"passed": True, "violations": 0, "rules": {}}
        assert all(c.passed for c in art.checks)
    model = onnx.load(str(folder / "unet.int8.onnx"))
    inits = {t.name: t for t in model.graph.initializer}
    qs = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert qs and all(inits[q.input[2]].data_type == onnx.TensorProto.INT8 for q in qs)
    assert all(not onnx.numpy_helper.to_array(inits[q.input[2]]).any() for q in qs)  # zero point 0
    consumers = {i: n.op_type for n in model.graph.node for i in n.input}
    dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert {consumers[d.output[0]] for d in dqs} <= {"Conv", "MatMul", "Gemm"}
    assert trt_export.manifest.find(Component.UNET, Precision.INT8).int8["readers_detached_from_qdq"] > 0


# One rule broken at a time on a hand-built int8 convolution.
RULE_CASES = [
    ({}, set()),
    ({"act_type": np.uint8, "act_zero_point": 128}, {"q-not-int8", "nonzero-zero-point", "dq-not-int8"}),
    ({"act_zero_point": 3}, {"nonzero-zero-point"}),
    ({"weight_type": np.uint8}, {"dq-not-int8"}),
    ({"weight_axis": 1}, {"weight-axis"}),
    ({"bias_through_dq": True}, {"dq-not-int8", "quantized-bias"}),
    ({"dq_reader": "Add"}, {"dq-into-non-fusible"}),
    ({"dq_into_q": True}, {"dq-into-q"}),
    ({"q_reader": "Identity"}, {"q-not-into-dq"}),
    ({"float_weight": True}, {"half-quantized", "no-qdq"}),
    ({"without_input_qdq": True}, {"half-quantized", "no-qdq"}),
]


@pytest.mark.parametrize(("knobs", "rules"), RULE_CASES, ids=[str(sorted(k)) or "clean" for k, _ in RULE_CASES])
def test_constructed_graphs_break_exactly_their_rule(knobs, rules):
    model = conv_graph(**knobs)
    onnx.checker.check_model(model)
    report = check_graph(model)
    assert set(report.counts()) == rules, report.summary()
    assert report.passed is (not rules)


@pytest.mark.parametrize("knobs", [{}, {"act_zero_point": 3}, {"weight_axis": 1}], ids=["clean", "zp", "axis"])
def test_file_check_reads_constants_stored_as_external_data(tmp_path, knobs):
    """onnxruntime's quantizer stores zero points of wide layers (SD 1.5's 320+ channels) in the
    external-data file: the file check, which skips loading weights, must still read them there."""
    model = conv_graph(**knobs)
    expected = check_graph(model).counts()
    path = tmp_path / "g.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="g.onnx.data", size_threshold=0)
    stored = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in stored.graph.initializer)
    assert check_file(path).counts() == expected


def test_detaching_non_fusible_readers_restores_the_float_path():
    import onnxruntime as ort

    model = conv_graph(dq_reader="Add")
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)

    def run(m):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"x": x}), strict=True))

    before = run(model)
    assert not np.array_equal(before["side"], x + x)  # the residual read the quantized tensor
    assert detach_non_fusible_readers(model, ("Conv", "MatMul", "Gemm")) == 2
    after = run(model)
    assert check_graph(model).passed
    assert np.array_equal(after["side"], x + x) and np.array_equal(after["y"], before["y"])


def test_build_checks_int8_graphs_before_any_engine(run_cli, tiny_export, trt_export):
    folder = tiny_export[1].folder
    code, _, err = run_cli("build", str(folder), "--profile", TRT_PROFILE)  # classifier int8, u8s8
    assert code == ValidationError.exit_code and err.count("\n") == 1
    assert "classifier.int8 (scheme u8s8)" in err and "q-not-int8" in err and "trt-s8s8" in err
    assert not (folder / "engines").exists()
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        code, _, err = run_cli("build", str(trt_export.folder), "--profile", TRT_PROFILE)
        assert code == BackendUnavailableError.exit_code and "tensorrt not installed" in err  # the check passed


def test_user_supplied_modelopt_graph_is_validated_and_recorded(tmp_path, trt_export, tiny_export):
    # Stand-in for a ModelOpt graph: TensorRT-clean Q/DQ, output named as TensorRT's demo names it.
    user = tmp_path / "unet_modelopt.onnx"
    model = onnx.load(str(trt_export.folder / "unet.int8.onnx"))
    for node in model.graph.node:
        node.output[:] = ["latent" if o == "noise_pred" else o for o in node.output]
    model.graph.output[0].name = "latent"
    onnx.save(model, str(user))
    request = ExportRequest(
        model="tiny",
        profile=TRT_PROFILE,
        out_root=tmp_path / "out",
        precisions=(Precision.FP32,),
        components=(Component.UNET,),
        classifier=None,
        image_size=64,
        int8_onnx=((Component.UNET, user),),
    )
    result = export_model(request)
    art = result.manifest.find(Component.UNET, Precision.INT8)
    assert art.int8["scheme"] == "modelopt (user-supplied)" and art.int8["source_sha256"] == sha256_file(user)
    assert art.int8["tensorrt_conformance"]["passed"] and all(c.passed for c in art.checks)
    assert any("latent → noise_pred" in n for n in art.notes)
    assert onnx.load(str(result.folder / art.file)).graph.output[0].name == "noise_pred"
    assert "unet.int8" in export_model(request).reused  # same file: reused
    # A u8s8 graph passed as the user's is refused, and no INT8 file or manifest is written.
    bad = replace(
        request, out_root=tmp_path / "bad", int8_onnx=((Component.UNET, tiny_export[1].folder / "unet.int8.onnx"),)
    )
    with pytest.raises(ConformanceError, match=r"unet int8 \(modelopt \(user-supplied\)\) breaks"):
        export_model(bad)
    bad_folder = tmp_path / "bad" / "tiny" / TRT_PROFILE
    assert not (bad_folder / "unet.int8.onnx").exists() and not (bad_folder / "manifest.json").exists()
    wrong = replace(
        request, out_root=tmp_path / "wrong", int8_onnx=((Component.UNET, trt_export.folder / "vae_decoder.int8.onnx"),)
    )
    with pytest.raises(ArtifactError, match="inputs \\['latent'\\], edgegen's are"):
        export_model(wrong)
    with pytest.raises(ArtifactError, match="no such file"):
        export_model(replace(request, int8_onnx=((Component.UNET, tmp_path / "missing.onnx"),)))


def test_cli_refuses_malformed_int8_flags(run_cli, tmp_path):
    for args, text in (
        (("--int8-onnx", "unet"), "is not COMPONENT=PATH"),
        (("--int8-onnx", "decoder=x.onnx"), "unknown component 'decoder'"),
        (("--int8-scheme", "s4"), "unknown INT8 scheme 's4'"),
    ):
        code, _, err = run_cli("export", "tiny", "--out", str(tmp_path), *args)
        assert code == 2 and text in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_int8_tolerances_are_finite_per_component():
    for component, cls in EXPORTS.items():
        for precision, tol in cls.tolerances.items():
            assert math.isfinite(tol.rel_l2) and math.isfinite(tol.max_abs), (component, precision)
        if component is not Component.CLASSIFIER:  # its bound that bites is max-abs on the logits
            assert cls.tolerances[Precision.INT8].rel_l2 < 1.0  # an all-zero output (rel-L2 1) fails


def test_broken_int8_graph_fails_export_validation(tmp_path, monkeypatch):
    """A calibration gone wrong (activation ranges 16× too narrow: everything clips) is caught
    by the INT8 tolerance, and nothing is written for it."""
    import edgegen.export.int8 as int8

    real = int8.quantize_qdq

    def miscalibrated(src, dst, *args, **kwargs):
        info = real(src, dst, *args, **kwargs)
        model = onnx.load(str(dst))
        inits = {t.name: t for t in model.graph.initializer}
        for q in (n for n in model.graph.node if n.op_type == "QuantizeLinear"):
            scale = inits[q.input[1]]
            scale.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(scale) / 16, scale.name))
        onnx.save(model, str(dst))
        return info

    monkeypatch.setattr(int8, "quantize_qdq", miscalibrated)
    request = ExportRequest(
        model="tiny",
        profile="cpu-x86",
        out_root=tmp_path,
        precisions=(Precision.INT8,),
        components=(Component.UNET,),
        classifier=None,
        calibration_samples=4,
    )
    with pytest.raises(ValidationError, match="unet int8 ONNX disagrees with torch: noise_pred at batch 1"):
        export_model(request)
    assert not list(tmp_path.rglob("unet.int8.onnx")) and not list(tmp_path.rglob("manifest.json"))
