"""Folding the models into fewer operators: exact, checked, and never in the way."""

from __future__ import annotations

from collections import Counter
import logging
from pathlib import Path
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import pytest

from custom_components.plate_tracker.engine import fusion
from custom_components.plate_tracker.engine.models import ensure_models
from custom_components.plate_tracker.engine.recognition import plate_reduction

from .conftest import MODEL_CACHE, require_models

RNG = np.random.default_rng(7)


def _constant(name: str, value: np.ndarray) -> onnx.NodeProto:
    """Return a Constant node, the way Paddle's converter writes weights and scalars."""
    return helper.make_node(
        "Constant",
        [],
        [name],
        value=numpy_helper.from_array(np.asarray(value, np.float32), name),
    )


def _affine(prefix: str, x: str) -> list[onnx.NodeProto]:
    """PP-LCNetV3's learnable affine block: ``x * s + b`` with scalar s and b."""
    return [
        _constant(f"{prefix}.s", np.array([1.7])),
        _constant(f"{prefix}.b", np.array([-0.3])),
        helper.make_node("Mul", [f"{prefix}.s", x], [f"{prefix}.mul"]),
        helper.make_node("Add", [f"{prefix}.mul", f"{prefix}.b"], [f"{prefix}.out"]),
    ]


def _hard_swish(prefix: str, x: str) -> list[onnx.NodeProto]:
    """Hard-swish written out in four operators, as the converter emits it."""
    return [
        _constant(f"{prefix}.three", np.array(3.0)),
        _constant(f"{prefix}.zero", np.array(0.0)),
        _constant(f"{prefix}.six", np.array(6.0)),
        helper.make_node("Add", [x, f"{prefix}.three"], [f"{prefix}.add"]),
        helper.make_node(
            "Clip",
            [f"{prefix}.add", f"{prefix}.zero", f"{prefix}.six"],
            [f"{prefix}.clip"],
        ),
        helper.make_node("Mul", [x, f"{prefix}.clip"], [f"{prefix}.mul"]),
        helper.make_node("Div", [f"{prefix}.mul", f"{prefix}.six"], [f"{prefix}.out"]),
    ]


def _lcnet_like_model() -> onnx.ModelProto:
    """conv3x3 -> affine -> hard-swish -> affine -> conv1x1, and a padded depthwise branch.

    The affine in front of the padded depthwise convolution must stay.
    """
    weights = {
        "c1.W": RNG.normal(size=(4, 3, 3, 3)),
        "c1.B": RNG.normal(size=4),
        "c2.W": RNG.normal(size=(5, 4, 1, 1)),
        "c2.B": RNG.normal(size=5),
        "dw.W": RNG.normal(size=(4, 1, 3, 3)),
        "dw.B": RNG.normal(size=4),
    }
    nodes = [_constant(name, value) for name, value in weights.items()]
    nodes.append(
        helper.make_node("Conv", ["x", "c1.W", "c1.B"], ["c1"], pads=[1, 1, 1, 1])
    )
    nodes += _affine("a1", "c1")
    nodes += _hard_swish("h1", "a1.out")
    nodes += _affine("a2", "h1.out")
    nodes.append(helper.make_node("Conv", ["a2.out", "c2.W", "c2.B"], ["pointwise"]))
    nodes += _affine("a3", "h1.out")
    nodes.append(
        helper.make_node(
            "Conv",
            ["a3.out", "dw.W", "dw.B"],
            ["depthwise"],
            pads=[1, 1, 1, 1],
            group=4,
        )
    )
    graph = helper.make_graph(
        nodes,
        "lcnet_like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [
            helper.make_tensor_value_info("pointwise", TensorProto.FLOAT, [1, 5, 8, 8]),
            helper.make_tensor_value_info("depthwise", TensorProto.FLOAT, [1, 4, 8, 8]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def _run(model: bytes, batch: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return [np.asarray(out) for out in session.run(None, {"x": batch})]


def _operators(model: onnx.ModelProto) -> Counter[str]:
    return Counter(node.op_type for node in model.graph.node)


def test_folding_is_exact_and_leaves_padded_convolutions_alone() -> None:
    """Each pattern folds where its identity holds exactly, and the outputs stay the same."""
    model = _lcnet_like_model()
    original = model.SerializeToString()
    folded = fusion.fold(model)
    assert folded == fusion.Folded(
        affine_after_conv=1, hard_swish=1, affine_before_conv=1, after_transposed_conv=0
    )
    operators = _operators(model)
    assert "Clip" not in operators
    assert "Div" not in operators
    assert operators["HardSigmoid"] == 1
    assert operators["Conv"] == 3
    assert "Constant" not in operators
    # Left: the hard-swish's gate product, and the affine (Mul, Add) in front
    # of the padded depthwise convolution.
    assert operators["Mul"] == 2
    assert operators["Add"] == 1
    onnx.checker.check_model(model)
    batch = RNG.uniform(-3, 3, size=(1, 3, 8, 8)).astype(np.float32)
    for before, after in zip(
        _run(original, batch), _run(model.SerializeToString(), batch), strict=True
    ):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_bias_and_batch_norm_fold_into_a_transposed_convolution() -> None:
    """The detector head's upsampling: transposed conv, separate bias, batch norm -> one op."""
    channels = 4
    nodes = [
        _constant("T.W", RNG.normal(size=(3, channels, 2, 2))),
        _constant("T.c", RNG.normal(size=(1, channels, 1, 1))),
        _constant("N.gamma", RNG.uniform(0.5, 2, size=channels)),
        _constant("N.beta", RNG.normal(size=channels)),
        _constant("N.mean", RNG.normal(size=channels)),
        _constant("N.var", RNG.uniform(0.1, 3, size=channels)),
        helper.make_node("ConvTranspose", ["x", "T.W"], ["t"], strides=[2, 2]),
        helper.make_node("Add", ["t", "T.c"], ["biased"]),
        helper.make_node(
            "BatchNormalization",
            ["biased", "N.gamma", "N.beta", "N.mean", "N.var"],
            ["normed"],
            epsilon=1e-5,
        ),
        helper.make_node("Relu", ["normed"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 16, 16])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    original = model.SerializeToString()
    assert fusion.fold(model).after_transposed_conv == 1
    assert _operators(model) == Counter({"ConvTranspose": 1, "Relu": 1})
    batch = RNG.uniform(-3, 3, size=(1, 3, 8, 8)).astype(np.float32)
    (before,) = _run(original, batch)
    (after,) = _run(model.SerializeToString(), batch)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_nothing_to_fold_changes_nothing() -> None:
    """A graph without the patterns keeps every operator."""
    nodes = [
        _constant("W", RNG.normal(size=(2, 3, 1, 1))),
        helper.make_node("Conv", ["x", "W"], ["c"]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    assert fusion.fold(model).total == 0
    assert _operators(model) == Counter({"Conv": 1, "Relu": 1})


HEAD_CHARACTERS = ["A", "中", "1", "-", "文", "ａ"]
"""A recogniser alphabet in miniature: kept are A, 1, the dash (a blank) and
the full-width a; the two Chinese characters go."""


def _softmax_head(axis: int = 2, opset: int = 12) -> onnx.ModelProto:
    """Return the recogniser's CTC head: ``softmax(x @ W + b)`` over blank, alphabet, space."""
    classes = len(HEAD_CHARACTERS) + 2
    nodes = [
        _constant("W", RNG.normal(size=(4, classes))),
        _constant("b", RNG.normal(size=classes)),
        helper.make_node("MatMul", ["x", "W"], ["logits"]),
        helper.make_node("Add", ["logits", "b"], ["biased"]),
        helper.make_node("Softmax", ["biased"], ["y"], axis=axis),
    ]
    graph = helper.make_graph(
        nodes,
        "ctc_head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, classes])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    helper.set_model_props(model, {"character": "\n".join(HEAD_CHARACTERS)})
    return model


def test_recognizer_head_keeps_only_the_columns_the_engine_reads() -> None:
    """The pruned head's softmax is the original's over the kept columns, renormalised."""
    model = _softmax_head()
    original = model.SerializeToString()
    columns = fusion.prune_recognizer_head(model)
    assert columns is not None
    assert columns.tolist() == [0, 1, 3, 4, 6, 7]
    onnx.checker.check_model(model)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert metadata["character"].splitlines() == ["A", "1", "-", "ａ"]
    # Read again, the pruned alphabet keeps every column, folded as before.
    pruned_columns, pruned_reduction = plate_reduction(
        ["", *metadata["character"].splitlines(), " "]
    )
    _, reduction = plate_reduction(["", *HEAD_CHARACTERS, " "])
    assert pruned_columns.tolist() == list(range(6))
    np.testing.assert_array_equal(pruned_reduction, reduction)
    batch = RNG.normal(size=(1, 5, 4)).astype(np.float32)
    (before,) = _run(original, batch)
    (after,) = _run(model.SerializeToString(), batch)
    kept = before[..., columns]
    np.testing.assert_allclose(
        after, kept / kept.sum(axis=-1, keepdims=True), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    ("axis", "opset"),
    [(1, 12), (None, 12), (1, 13)],
    ids=["flattened-from-time", "opset-12-default", "time-axis"],
)
def test_head_not_over_the_classes_alone_is_left_alone(
    axis: int | None, opset: int
) -> None:
    """Pruning a softmax that normalises over more than the classes would change it."""
    model = _softmax_head(axis=1 if axis is None else axis, opset=opset)
    if axis is None:
        del model.graph.node[-1].attribute[:]
    original = model.SerializeToString()
    assert fusion.prune_recognizer_head(model) is None
    assert model.SerializeToString() == original


def test_head_without_an_alphabet_is_left_alone() -> None:
    """The kept columns come from the ``character`` metadata; without it nothing is cut."""
    model = _softmax_head()
    del model.metadata_props[:]
    original = model.SerializeToString()
    assert fusion.prune_recognizer_head(model) is None
    assert model.SerializeToString() == original


@pytest.fixture(name="model_copy")
def model_copy_fixture(tmp_path: Path) -> Path:
    """Copy the verified real models, so their folded twins are made afresh."""
    require_models(MODEL_CACHE)
    for name in ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"):
        shutil.copy(MODEL_CACHE / name, tmp_path / name)
    return tmp_path


def test_real_models_fold_and_agree(model_copy: Path) -> None:
    """Both PP-OCRv4 models lose their affine blocks and written-out hard-swish, outputs unchanged."""
    paths = ensure_models(model_copy, download=False)
    for role, path, source in (
        ("detector", paths.detector, "ch_PP-OCRv4_det_infer.onnx"),
        ("recognizer", paths.recognizer, "ch_PP-OCRv4_rec_infer.onnx"),
    ):
        assert path.name == source.replace(
            ".onnx", f".folded-{fusion.FUSION_VERSION}.onnx"
        )
        before = onnx.load(model_copy / source)
        after = onnx.load(path)
        written_out = _operators(before)["Clip"]
        assert written_out > 20
        # Each written-out hard-swish had one Clip and one Div (the
        # recogniser's layer norms keep theirs).
        assert "Clip" not in _operators(after)
        assert _operators(after)["Div"] == _operators(before)["Div"] - written_out
        assert len(after.graph.node) < len(before.graph.node) / 2
        columns = None
        if role == "recognizer":
            # The alphabet travels in the metadata: it lists the kept classes.
            alphabet = {p.key: p.value for p in before.metadata_props}["character"]
            columns, reduction = plate_reduction(["", *alphabet.splitlines(), " "])
            kept = {p.key: p.value for p in after.metadata_props}["character"]
            assert len(kept.splitlines()) == len(columns) - 2 < 300
            pruned_columns, pruned_reduction = plate_reduction(
                ["", *kept.splitlines(), " "]
            )
            assert len(pruned_columns) == len(columns)
            np.testing.assert_array_equal(pruned_reduction, reduction)
        else:
            assert after.metadata_props == before.metadata_props
        deviation = fusion.max_deviation(
            (model_copy / source).read_bytes(),
            path.read_bytes(),
            fusion.CHECK_SHAPES[role],
            columns,
        )
        assert deviation < 1e-4


def test_folded_twin_is_reused_and_remade_when_damaged(model_copy: Path) -> None:
    """The twin is made once; a truncated twin no longer matches its digest and is made again."""
    first = ensure_models(model_copy, download=False).detector
    made = first.stat().st_mtime_ns
    assert ensure_models(model_copy, download=False).detector == first
    assert first.stat().st_mtime_ns == made
    good = first.read_bytes()
    first.write_bytes(good[: len(good) // 2])
    assert ensure_models(model_copy, download=False).detector == first
    assert first.read_bytes() == good


def test_twins_of_an_earlier_folding_are_removed(model_copy: Path) -> None:
    """A new FUSION_VERSION replaces the old twin instead of leaving it on disk."""
    stale = model_copy / "ch_PP-OCRv4_det_infer.folded-0.onnx"
    stale.write_bytes(b"an earlier folding")
    stale.with_suffix(".sha256").write_text("0" * 64)
    paths = ensure_models(model_copy, download=False)
    assert not stale.exists()
    assert not stale.with_suffix(".sha256").exists()
    assert paths.detector.exists()
    assert (model_copy / "ch_PP-OCRv4_det_infer.onnx").exists()


def test_disagreeing_fold_is_not_used(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A folded model whose outputs differ from the original's is refused, with a warning."""
    fold = fusion.fold

    def wrong_fold(model: onnx.ModelProto) -> fusion.Folded:
        folded = fold(model)
        # Damage one weight: the check must notice.
        tensor = model.graph.initializer[0]
        tensor.CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(tensor) * 3, tensor.name)
        )
        return folded

    monkeypatch.setattr(fusion, "fold", wrong_fold)
    with caplog.at_level(logging.WARNING, logger=fusion.__name__):
        paths = ensure_models(model_copy, download=False)
    assert paths.detector == model_copy / "ch_PP-OCRv4_det_infer.onnx"
    assert paths.recognizer == model_copy / "ch_PP-OCRv4_rec_infer.onnx"
    assert "deviates" in caplog.text
    assert not list(model_copy.glob("*.folded-*"))


def test_pruned_head_that_disagrees_is_not_used(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The check compares the pruned head with the columns it claims to keep."""
    prune = fusion.prune_recognizer_head

    def misreported_prune(model: onnx.ModelProto) -> np.ndarray | None:
        columns = prune(model)
        assert columns is not None
        # Claim the neighbours of the kept columns: the outputs no longer agree.
        return np.minimum(columns + 1, columns[-1])

    monkeypatch.setattr(fusion, "prune_recognizer_head", misreported_prune)
    with caplog.at_level(logging.WARNING, logger=fusion.__name__):
        paths = ensure_models(model_copy, download=False)
    assert paths.recognizer == model_copy / "ch_PP-OCRv4_rec_infer.onnx"
    assert paths.detector.name.endswith(f".folded-{fusion.FUSION_VERSION}.onnx")
    assert "deviates" in caplog.text


def test_fold_that_breaks_the_graph_is_not_used(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A folded graph ONNX Runtime cannot load costs speed, not the engine."""
    fold = fusion.fold

    def breaking_fold(model: onnx.ModelProto) -> fusion.Folded:
        folded = fold(model)
        del model.graph.node[0]
        return folded

    monkeypatch.setattr(fusion, "fold", breaking_fold)
    with caplog.at_level(logging.WARNING, logger=fusion.__name__):
        paths = ensure_models(model_copy, download=False)
    assert paths.detector == model_copy / "ch_PP-OCRv4_det_infer.onnx"
    assert "folding failed" in caplog.text


def test_without_onnx_the_originals_are_used(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The onnx package only speeds things up: without it the engine still starts."""
    monkeypatch.setitem(sys.modules, "onnx", None)
    with caplog.at_level(logging.WARNING, logger=fusion.__name__):
        paths = ensure_models(model_copy, download=False)
    assert paths.detector == model_copy / "ch_PP-OCRv4_det_infer.onnx"
    assert "onnx package is missing" in caplog.text


def test_unwritable_folder_uses_the_originals(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder that refuses the twin (read-only, full) costs speed, not the engine."""

    def refuse(target: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fusion, "write_atomically", refuse)
    with caplog.at_level(logging.WARNING, logger=fusion.__name__):
        paths = ensure_models(model_copy, download=False)
    assert paths.recognizer == model_copy / "ch_PP-OCRv4_rec_infer.onnx"
    assert "No space left" in caplog.text
