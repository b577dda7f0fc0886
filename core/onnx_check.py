"""Check an ONNX file before onnxruntime runs it: only the MLP its description promises.

onnxruntime runs whatever graph a file holds, and a graph can allocate any amount of memory at
run time (a ConstantOfShape of [1e6, 1e6], broadcasting a column against a row): such a file
asked for terabytes. MLP Studio's `predict` only runs files that are MLP Studio exports, so the
check is exact: the file's description is read and validated (a network of bounded size), the
studio's exporter builds the graph that description gives, and the file's graph must be that
graph, node for node and with initializers of the same names, shapes and types. Only the
weights' values may differ. Anything else is refused with a message, before onnxruntime sees it.
"""

from pathlib import Path

from mlp_studio.core.bundle import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, ModelBundle
from mlp_studio.core.errors import DataFormatError, ExportError
from mlp_studio.core.export.writers import onnx_bytes
from mlp_studio.core.limits import MAX_ONNX_BYTES
from mlp_studio.core.reading import read_regular


def checked_onnx(path: str | Path) -> tuple[ModelBundle, bytes]:
    """The model of an MLP Studio ONNX export whose graph is exactly what its description
    gives, and the file's bytes that were checked (hand those to onnxruntime, not the path,
    so the file cannot change in between); ExportError saying why and what to use instead."""
    import onnx
    from mlp_studio.core.onnx_import import import_onnx

    path = Path(path)
    try:
        # The onnx library reads a whole file into memory: bound it first.
        data = read_regular(path, MAX_ONNX_BYTES, "model file")
        proto = onnx.load_from_string(data)
    except DataFormatError as err:
        raise ExportError(str(err)) from None
    except Exception as err:  # protobuf raises its own DecodeError types
        raise ExportError(
            f"Cannot open {path}: it is not a valid ONNX model ({_first_line(err)})."
        ) from None
    graph = proto.graph
    if ([i.name for i in graph.input] != [INPUT_NAME]
            or [o.name for o in graph.output] != [OUTPUT_NAME]
            or METADATA_KEY not in {p.key for p in proto.metadata_props}):
        raise ExportError(
            f"Cannot open {path}: it is an ONNX model, but not one exported by MLP Studio "
            f"(it needs an input '{INPUT_NAME}', an output '{OUTPUT_NAME}' and MLP Studio's "
            "description)."
        )
    bundle = import_onnx(path, input_range="raw")  # reads the graph as data, never runs it
    difference = graph_difference(proto, onnx.load_from_string(onnx_bytes(bundle)))
    if difference:
        raise ExportError(
            f"Cannot run {path}: its graph is not the MLP its description gives ({difference}). "
            "MLP Studio runs only the ONNX files it exports: export the model again, or open "
            "its .safetensors export."
        )
    return bundle, data


def graph_difference(proto, reference) -> str | None:
    """The first way `proto`'s graph differs from `reference`'s, in words; None when they
    are the same graph (weights' values aside)."""
    if proto.functions or reference.functions:
        return "it defines functions"
    if len(proto.graph.sparse_initializer):
        return "it has sparse initializers"
    opsets = {(o.domain, o.version) for o in proto.opset_import}
    if opsets != {(o.domain, o.version) for o in reference.opset_import}:
        return f"operator sets {sorted(opsets)}"
    graph, ref = proto.graph, reference.graph
    for what in ("input", "output"):
        if [v.SerializeToString() for v in getattr(graph, what)] != [
                v.SerializeToString() for v in getattr(ref, what)]:
            return f"its {what}s are {[v.name for v in getattr(graph, what)]} with other shapes"
    if len(graph.node) != len(ref.node):
        return f"{len(graph.node)} nodes instead of {len(ref.node)}"
    for node, expected in zip(graph.node, ref.node, strict=True):
        same = (node.op_type == expected.op_type and node.domain == expected.domain
                and list(node.input) == list(expected.input)
                and list(node.output) == list(expected.output)
                and [a.SerializeToString() for a in node.attribute]
                == [a.SerializeToString() for a in expected.attribute])
        if not same:
            return f"node '{node.name or node.op_type}' ({node.op_type}) is not the expected one"
    tensors = {t.name: t for t in graph.initializer}
    expected = {t.name: t for t in ref.initializer}
    if set(tensors) != set(expected):
        extra = sorted(set(tensors) ^ set(expected))
        return f"initializers {extra[:3]} differ"
    for name, tensor in tensors.items():
        if tensor.data_location == 1:  # EXTERNAL: data in another file
            return f"the weight '{name}' is stored in a separate file"
        want = expected[name]
        if list(tensor.dims) != list(want.dims) or tensor.data_type != want.data_type:
            return f"the weight '{name}' has shape {list(tensor.dims)}, not {list(want.dims)}"
    return None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
