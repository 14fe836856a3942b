"""Fold the PP-OCRv4 graphs into fewer operators, exactly, before they are loaded.

Both networks stand on PaddleOCR's PP-LCNetV3 backbone, which follows its
convolutions with a learnable affine block (``x * s + b``: two scalar
operators) and writes hard-swish out in four operators
(``x * clip(x + 3, 0, 6) / 6``), as Paddle's ONNX converter emits them. ONNX
Runtime fuses none of these: each is one more pass over a whole feature map,
and each breaks its blocked (NCHWc) convolutions into layout reorders. Four
identities remove them:

- ``conv(x) * s + b`` is one convolution with weights ``s * W`` and bias ``s * B + b``;
- ``x * clip(x + 3, 0, 6) / 6`` is ``x * hard_sigmoid(x)`` (alpha 1/6, beta 1/2),
  which ONNX Runtime fuses into the convolution before it;
- ``conv(x * s + b)`` for an unpadded 1x1 convolution is one convolution with
  weights ``s * W`` and bias ``B + b * sum(W)``;
- in the detector's head, a transposed convolution followed by a separate
  per-channel bias and a batch norm (``(t(x) + c) * g + h`` per channel) is one
  transposed convolution with weights ``g * W`` and bias ``g * c + h``.

The recogniser's head also loses the columns the engine never reads
(``prune_recognizer_head``): it scores 6625 classes, mostly Chinese
characters, at every time step, and the engine keeps the 288 that fold into
plate characters or count as blanks, then renormalises them. A softmax over
only those columns is that same renormalised distribution, so the head's
matrix keeps their columns alone and the ``character`` metadata lists their
characters.

An affine block in front of a padded convolution stays: the zeros padded
around ``x * s + b`` are not ``b``. The folded model is checked against the
original on the same input before it replaces it (``MAX_DEVIATION``); when the
folding cannot be done or does not agree, the original model is used, as it
is, and a warning says why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .files import file_matches, write_atomically
from .imaging import model_input
from .synthetic import render_plate

if TYPE_CHECKING:
    import onnx

_LOGGER = logging.getLogger(__name__)

FUSION_VERSION = 3
"""Part of the folded file's name: a change to the folding makes new files."""
MAX_DEVIATION = 1e-3
"""Largest difference allowed between the outputs of the folded and the
original model on the check inputs (they differ by float rounding: 1e-7 to 1.3e-5)."""
CHECK_SHAPES = {"detector": (1, 3, 96, 160), "recognizer": (1, 3, 48, 160)}
"""Input of the agreement check, per model role (NCHW)."""


@dataclass(slots=True)
class Folded:
    """How many of each pattern a model lost to folding."""

    affine_after_conv: int = 0
    hard_swish: int = 0
    affine_before_conv: int = 0
    after_transposed_conv: int = 0

    @property
    def total(self) -> int:
        """Patterns folded in all."""
        return (
            self.affine_after_conv
            + self.hard_swish
            + self.affine_before_conv
            + self.after_transposed_conv
        )


def folded_model(source: Path, role: str) -> Path:
    """Return the folded twin of the verified model ``source``, made on first use.

    The twin lives beside the source with its SHA-256 in a ``.sha256`` file, so
    a truncated or edited twin is made again. Blocking: call from an executor.
    Returns ``source`` itself (with a warning) when no twin can be made.
    """
    target = source.with_name(f"{source.stem}.folded-{FUSION_VERSION}.onnx")
    digest_file = target.with_suffix(".sha256")
    if _matches_digest(target, digest_file):
        return target
    try:
        data, folded = fold_file(source, role)
    except ImportError as err:
        _LOGGER.warning(
            "Using %s unfolded (about a fifth slower): the onnx package is missing (%s)",
            source.name,
            err,
        )
        return source
    except FoldingError as err:
        _LOGGER.warning("Using %s unfolded: %s", source.name, err)
        return source
    try:
        write_atomically(target, data)
        write_atomically(digest_file, hashlib.sha256(data).hexdigest().encode())
    except OSError as err:
        _LOGGER.warning(
            "Using %s unfolded: cannot write %s (%s)", source.name, target, err
        )
        return source
    _LOGGER.debug("Folded %s: %s", source.name, folded)
    _remove_stale_twins(source, keep={target, digest_file})
    return target


def _remove_stale_twins(source: Path, keep: set[Path]) -> None:
    """Delete twins an earlier FUSION_VERSION made: nothing reads them any more."""
    for path in source.parent.glob(f"{source.stem}.folded-*"):
        if path not in keep:
            path.unlink(missing_ok=True)


class FoldingError(RuntimeError):
    """The folded model could not be made or does not agree with the original."""


def fold_file(source: Path, role: str) -> tuple[bytes, Folded]:
    """Fold the model at ``source`` and check it; return its bytes and what was folded."""
    import onnx  # noqa: PLC0415  # needed once per model file, then never again

    original = source.read_bytes()
    try:
        model = onnx.load_from_string(original)
    except Exception as err:  # onnx raises DecodeError and others from protobuf
        raise FoldingError(f"cannot parse the model: {err}") from err
    try:
        folded = fold(model)
        columns = prune_recognizer_head(model) if role == "recognizer" else None
        data = model.SerializeToString()
        deviation = max_deviation(original, data, CHECK_SHAPES[role], columns)
    except Exception as err:  # whatever went wrong, the original still works
        raise FoldingError(f"folding failed: {err!r}") from err
    if not deviation <= MAX_DEVIATION:
        raise FoldingError(
            f"folded model deviates by {deviation:g} from the original "
            f"(more than {MAX_DEVIATION:g})"
        )
    if columns is not None:
        _LOGGER.debug("Kept %d classes of the recogniser's head", len(columns))
    return data, folded


def max_deviation(
    original: bytes,
    folded: bytes,
    shape: tuple[int, ...],
    columns: npt.NDArray[np.intp] | None = None,
) -> float:
    """Largest absolute difference of the two models' outputs on the check inputs.

    The inputs are a generated plate (text the networks respond to: on noise
    alone the detector's map stays near zero and would hide a difference) and
    uniform noise, both scaled to the networks' [-1, 1] range. With
    ``columns`` (a pruned recogniser head), the original's output is reduced
    to those columns of its last axis and renormalised first.
    """
    import onnxruntime as ort  # noqa: PLC0415

    batches = [_plate_batch(shape), _noise_batch(shape)]
    outputs: list[list[npt.NDArray[np.float32]]] = []
    for model in (original, folded):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        outputs.append(
            [np.asarray(session.run(None, {name: batch})[0]) for batch in batches]
        )
        if columns is not None and len(outputs) == 1:
            outputs[0] = [_renormalised(output[..., columns]) for output in outputs[0]]
    return max(
        float(np.abs(before - after).max())
        for before, after in zip(outputs[0], outputs[1], strict=True)
    )


def _plate_batch(shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """Return a generated plate on a grey ground, filling the input's width."""
    _, _, height, width = shape
    plate = render_plate(["AE1234BK"], char_height=max(8, height // 3))
    scale = min(width / plate.width, height / plate.height)
    plate = plate.resize((round(plate.width * scale), round(plate.height * scale)))
    ground = Image.new("RGB", (width, height), (128, 128, 128))
    ground.paste(plate, ((width - plate.width) // 2, (height - plate.height) // 2))
    return model_input(ground)[np.newaxis]


def _renormalised(probabilities: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    total = np.maximum(probabilities.sum(axis=-1, keepdims=True), np.float32(1e-30))
    return np.asarray(probabilities / total, dtype=np.float32)


def _noise_batch(shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    return np.random.default_rng(0).uniform(-1.0, 1.0, size=shape).astype(np.float32)


def fold(model: onnx.ModelProto) -> Folded:
    """Fold ``model``'s graph in place (see the module's docstring); return what was folded."""
    graph = _Graph(model)
    folded = Folded(
        affine_after_conv=graph.fold_affine_after_conv(),
        hard_swish=graph.fold_hard_swish(),
        affine_before_conv=graph.fold_affine_before_conv(),
        after_transposed_conv=graph.fold_after_transposed_conv(),
    )
    graph.write_back()
    return folded


def prune_recognizer_head(model: onnx.ModelProto) -> npt.NDArray[np.intp] | None:
    """Keep only the classes the engine reads in the recogniser's softmax head.

    The head must end the graph as ``softmax(x @ W + b)`` over its last axis,
    with ``W`` and ``b`` constants, and the ``character`` metadata must list
    the classes between the CTC blank (first) and the space (last). The
    metadata is rewritten to the kept characters, so the pruned model reads
    like any other (``recognition.plate_reduction`` then keeps every column).
    Returns the original columns kept, or None when the model is left as it is.
    """
    # recognition imports onnxruntime, which this module must not (Home
    # Assistant OS imports the integration without it).
    from .recognition import plate_reduction  # noqa: PLC0415

    metadata = {prop.key: prop for prop in model.metadata_props}
    if "character" not in metadata:
        return None
    characters = metadata["character"].value.splitlines()
    alphabet = ["", *characters, " "]
    columns, _ = plate_reduction(alphabet)
    # Blank first and space last keep the layout the recogniser expects.
    if columns[0] != 0 or columns[-1] != len(alphabet) - 1:
        return None
    kept = [alphabet[column] for column in columns[1:-1]]
    if "\n".join(kept).splitlines() != kept:
        return None
    graph = _Graph(model)
    if not graph.prune_softmax_head(columns, len(alphabet)):
        return None
    graph.write_back()
    metadata["character"].value = "\n".join(kept)
    return columns


@dataclass
class _Graph:
    """An editable view of an ONNX graph: nodes in order, constants as arrays."""

    model: onnx.ModelProto
    nodes: list[Any] = field(init=False)
    constants: dict[str, npt.NDArray[Any]] = field(init=False)
    outputs: set[str] = field(init=False)
    renamed: int = 0

    def __post_init__(self) -> None:
        from onnx import numpy_helper  # noqa: PLC0415

        graph = self.model.graph
        self.constants = {
            tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer
        }
        self.nodes = []
        for node in graph.node:
            if node.op_type == "Constant" and [a.name for a in node.attribute] == [
                "value"
            ]:
                self.constants[node.output[0]] = numpy_helper.to_array(
                    node.attribute[0].t
                )
            else:
                self.nodes.append(node)
        self.outputs = {output.name for output in graph.output}

    def _consumers(self) -> dict[str, list[Any]]:
        consumers: dict[str, list[Any]] = defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                consumers[name].append(node)
        return consumers

    def _only_consumer(
        self, consumers: dict[str, list[Any]], name: str, op_type: str
    ) -> Any | None:
        """Return the one node reading ``name``, if it is of ``op_type`` and nothing else reads it."""
        readers = consumers.get(name, [])
        if name in self.outputs or len(readers) != 1:
            return None
        return readers[0] if readers[0].op_type == op_type else None

    def _scalar(self, name: str) -> float | None:
        value = self.constants.get(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(-1)[0])

    def _other_operand(self, node: Any, other_than: str) -> str | None:
        """Return the input a binary ``node`` combines with ``other_than``."""
        if len(node.input) != 2 or other_than not in node.input:
            return None
        first, second = node.input
        return str(second if first == other_than else first)

    def _scalar_operand(self, node: Any, other_than: str) -> float | None:
        """Return the scalar constant a binary ``node`` combines with ``other_than``."""
        name = self._other_operand(node, other_than)
        return None if name is None else self._scalar(name)

    def _conv_parameters(
        self, conv: Any, *, out_axis: int = 0
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """Return a convolution's weights and bias (zeros when it has none).

        ``out_axis`` is the weights' output-channel axis: 0 for Conv, 1 for ConvTranspose.
        """
        weight = self.constants.get(conv.input[1])
        if weight is None or weight.dtype != np.float32:
            return None
        bias = (
            self.constants.get(conv.input[2])
            if len(conv.input) > 2
            else np.zeros(weight.shape[out_axis], np.float32)
        )
        if bias is None:
            return None
        return weight, bias

    def _set_conv_parameters(
        self,
        conv: Any,
        weight: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
    ) -> None:
        self.renamed += 1
        weight_name = f"folded.{self.renamed}.W"
        bias_name = f"folded.{self.renamed}.B"
        self.constants[weight_name] = weight.astype(np.float32)
        self.constants[bias_name] = bias.astype(np.float32)
        conv.input[1] = weight_name
        if len(conv.input) > 2:
            conv.input[2] = bias_name
        else:
            conv.input.append(bias_name)

    def fold_affine_after_conv(self) -> int:
        """``conv(x) * s [+ b]`` -> ``conv'(x)``."""
        consumers = self._consumers()
        removed: set[int] = set()
        count = 0
        for conv in self.nodes:
            if (
                conv.op_type != "Conv"
                or (parameters := self._conv_parameters(conv)) is None
            ):
                continue
            out = conv.output[0]
            mul = self._only_consumer(consumers, out, "Mul")
            scale = None if mul is None else self._scalar_operand(mul, out)
            if mul is None or scale is None:
                continue
            add = self._only_consumer(consumers, mul.output[0], "Add")
            shift = None if add is None else self._scalar_operand(add, mul.output[0])
            weight, bias = parameters
            self._set_conv_parameters(
                conv,
                weight * np.float32(scale),
                bias * np.float32(scale) + np.float32(shift or 0.0),
            )
            removed.add(id(mul))
            last = mul
            if add is not None and shift is not None:
                removed.add(id(add))
                last = add
            conv.output[0] = last.output[0]
            count += 1
        self.nodes = [node for node in self.nodes if id(node) not in removed]
        return count

    def fold_hard_swish(self) -> int:
        """``x * clip(x + 3, 0, 6) / 6`` -> ``x * hard_sigmoid(x)``."""
        from onnx import helper  # noqa: PLC0415

        consumers = self._consumers()
        replaced: dict[int, list[Any]] = {}
        removed: set[int] = set()
        for add in self.nodes:
            if add.op_type != "Add" or len(add.input) != 2:
                continue
            x = add.input[0]
            if self._scalar(add.input[1]) != 3.0:
                continue
            clip = self._only_consumer(consumers, add.output[0], "Clip")
            if (
                clip is None
                or len(clip.input) != 3
                or self._scalar(clip.input[1]) != 0.0
                or self._scalar(clip.input[2]) != 6.0
            ):
                continue
            mul = self._only_consumer(consumers, clip.output[0], "Mul")
            if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
                continue
            div = self._only_consumer(consumers, mul.output[0], "Div")
            if div is None or self._scalar_operand(div, mul.output[0]) != 6.0:
                continue
            if div.input[0] != mul.output[0]:
                continue
            out = div.output[0]
            gate = f"{out}.hard_sigmoid"
            replaced[id(add)] = [
                helper.make_node(
                    "HardSigmoid", [x], [gate], name=gate, alpha=1 / 6, beta=0.5
                ),
                helper.make_node("Mul", [x, gate], [out], name=f"{out}.hard_swish"),
            ]
            removed.update({id(clip), id(mul), id(div)})
        nodes: list[Any] = []
        for node in self.nodes:
            if id(node) in replaced:
                nodes.extend(replaced[id(node)])
            elif id(node) not in removed:
                nodes.append(node)
        self.nodes = nodes
        return len(replaced)

    def fold_affine_before_conv(self) -> int:
        """``conv1x1(x * s + b)``, unpadded, ungrouped -> ``conv1x1'(x)``."""
        consumers = self._consumers()
        removed: set[int] = set()
        count = 0
        for mul in self.nodes:
            if mul.op_type != "Mul" or len(mul.input) != 2:
                continue
            scalars = [self._scalar(name) for name in mul.input]
            if scalars.count(None) != 1:
                continue
            x = mul.input[scalars.index(None)]
            scale = next(value for value in scalars if value is not None)
            add = self._only_consumer(consumers, mul.output[0], "Add")
            shift = None if add is None else self._scalar_operand(add, mul.output[0])
            if add is None or shift is None or add.output[0] in self.outputs:
                continue
            # Every reader must be a plain 1x1 convolution, or x * s + b stays.
            readers = consumers.get(add.output[0], [])
            plans = [
                (conv, parameters)
                for conv in readers
                if (parameters := self._pointwise_parameters(conv, add.output[0]))
            ]
            if not readers or len(plans) != len(readers):
                continue
            for conv, (weight, bias) in plans:
                self._set_conv_parameters(
                    conv,
                    weight * np.float32(scale),
                    bias + np.float32(shift) * weight.sum(axis=(1, 2, 3)),
                )
                conv.input[0] = x
            removed.update({id(mul), id(add)})
            count += 1
        self.nodes = [node for node in self.nodes if id(node) not in removed]
        return count

    def fold_after_transposed_conv(self) -> int:
        """``t(x) [+ c] [-> batch norm]``, per output channel -> ``t'(x)``."""
        consumers = self._consumers()
        removed: set[int] = set()
        count = 0
        for conv in self.nodes:
            if (
                conv.op_type != "ConvTranspose"
                or self._attribute(conv, "group", 1) != 1
            ):
                continue
            if (parameters := self._conv_parameters(conv, out_axis=1)) is None:
                continue
            weight, bias = parameters
            channels = weight.shape[1]
            last = conv
            add = self._only_consumer(consumers, conv.output[0], "Add")
            shift = (
                None
                if add is None
                else self._channel_operand(add, conv.output[0], channels)
            )
            if add is not None and shift is not None:
                bias = bias + shift
                removed.add(id(add))
                last = add
            norm = self._only_consumer(consumers, last.output[0], "BatchNormalization")
            folded_norm = None if norm is None else self._batch_norm(norm, channels)
            if norm is not None and folded_norm is not None:
                scale, offset = folded_norm
                weight = weight * scale[np.newaxis, :, np.newaxis, np.newaxis]
                bias = bias * scale + offset
                removed.add(id(norm))
                last = norm
            if last is conv:
                continue
            self._set_conv_parameters(conv, weight, bias)
            conv.output[0] = last.output[0]
            count += 1
        self.nodes = [node for node in self.nodes if id(node) not in removed]
        return count

    def _channel_operand(
        self, node: Any, other_than: str, channels: int
    ) -> npt.NDArray[np.float32] | None:
        """Return the per-channel constant (shape 1xCx1x1 or C) ``node`` adds to ``other_than``."""
        name = self._other_operand(node, other_than)
        value = None if name is None else self.constants.get(name)
        if value is None or value.dtype != np.float32:
            return None
        if value.shape not in ((1, channels, 1, 1), (channels, 1, 1)):
            return None
        return value.reshape(channels)

    def _batch_norm(
        self, norm: Any, channels: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """Return a batch norm's per-channel scale and offset, when its statistics are constants."""
        if len(norm.input) != 5 or len(norm.output) != 1:
            return None
        values = [self.constants.get(name) for name in norm.input[1:]]
        if any(v is None or v.shape != (channels,) for v in values):
            return None
        gamma, beta, mean, variance = (np.asarray(v, np.float64) for v in values)
        epsilon = float(self._attribute(norm, "epsilon", 1e-5))
        scale = gamma / np.sqrt(variance + epsilon)
        return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)

    def _attribute(self, node: Any, name: str, default: Any) -> Any:
        from onnx import helper  # noqa: PLC0415

        for attribute in node.attribute:
            if attribute.name == name:
                return helper.get_attribute_value(attribute)
        return default

    def _pointwise_parameters(
        self, conv: Any, name: str
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
        """Return the weights of ``conv`` if it is an unpadded, ungrouped 1x1 convolution of ``name``."""
        if conv.op_type != "Conv" or conv.input[0] != name:
            return None
        parameters = self._conv_parameters(conv)
        if parameters is None or parameters[0].shape[2:] != (1, 1):
            return None
        plain = (
            not any(self._attribute(conv, "pads", [0]))
            and self._attribute(conv, "group", 1) == 1
            and self._attribute(conv, "auto_pad", b"NOTSET") in (b"NOTSET", b"VALID")
        )
        return parameters if plain else None

    def prune_softmax_head(self, columns: npt.NDArray[np.intp], classes: int) -> bool:
        """``softmax(x @ W + b)`` ending the graph -> the same over ``columns`` only."""
        graph = self.model.graph
        if len(graph.output) != 1:
            return False
        output = graph.output[0]
        producers = {name: node for node in self.nodes for name in node.output}
        softmax = producers.get(output.name)
        if softmax is None or softmax.op_type != "Softmax":
            return False
        consumers = self._consumers()
        add = producers.get(softmax.input[0])
        if add is None or add.op_type != "Add" or len(consumers[add.output[0]]) != 1:
            return False
        matmul = next(
            (
                producers[name]
                for name in add.input
                if name in producers and producers[name].op_type == "MatMul"
            ),
            None,
        )
        if matmul is None or len(consumers[matmul.output[0]]) != 1:
            return False
        bias_name = self._other_operand(add, matmul.output[0])
        weight_name = matmul.input[1]
        if bias_name is None:
            return False
        bias = self.constants.get(bias_name)
        weight = self.constants.get(weight_name)
        if (
            weight is None
            or bias is None
            or weight.ndim != 2
            or weight.shape[1] != classes
            or bias.shape != (classes,)
            or len(consumers[weight_name]) != 1
            or len(consumers[bias_name]) != 1
        ):
            return False
        # Over the last axis: opset 13's default, or the last of a 3-D output.
        dims = output.type.tensor_type.shape.dim
        axis = self._attribute(softmax, "axis", 1 if self._opset() < 13 else -1)
        if len(dims) != 3 or axis not in (-1, 2):
            return False
        self.constants[weight_name] = np.ascontiguousarray(weight[:, columns])
        self.constants[bias_name] = np.ascontiguousarray(bias[columns])
        dims[2].Clear()
        dims[2].dim_value = len(columns)
        return True

    def _opset(self) -> int:
        return next(
            (
                entry.version
                for entry in self.model.opset_import
                if entry.domain in ("", "ai.onnx")
            ),
            1,
        )

    def write_back(self) -> None:
        """Replace the model's graph nodes and initializers with the edited ones."""
        from onnx import numpy_helper  # noqa: PLC0415

        graph = self.model.graph
        used = {name for node in self.nodes for name in node.input}
        del graph.node[:]
        graph.node.extend(self.nodes)
        del graph.initializer[:]
        graph.initializer.extend(
            numpy_helper.from_array(value, name)
            for name, value in self.constants.items()
            if name in used
        )


def _matches_digest(path: Path, digest_file: Path) -> bool:
    try:
        expected = digest_file.read_text(encoding="ascii").strip()
    except OSError:
        return False
    return file_matches(path, expected)
