"""Plain-Python code that runs an exported file, shown by the export dialog."""

from pathlib import Path

from mlp_studio.core.bundle import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, ModelBundle
from mlp_studio.core.errors import ExportError


def usage_snippet(path: str | Path, bundle: ModelBundle | None = None) -> str:
    """Plain-Python code that runs the exported file at `path` (the GUI shows it).

    With the `bundle` written there, the example inputs and the printout fit the model: a
    playground model takes its features, a regression prints its predicted values.
    """
    path = Path(path)
    if bundle is not None and bundle.image_shape:
        name, n = "pixels", bundle.spec.input_size
        prepare = (
            f"# pixels: float32 [N, {n}], {bundle.input_description()}.\n"
            f"pixels = np.zeros((1, {n}), dtype=np.float32)\n"
        )
    elif bundle is None or bundle.takes_images:
        name = "pixels"
        prepare = (
            "# pixels: float32 [N, 784], raw 0-255, 28x28 row-major, white ink on black,\n"
            "# digits fitted into 20x20 and centred by mass like MNIST (see core.digits).\n"
            "pixels = np.zeros((1, 784), dtype=np.float32)\n"
        )
    else:
        name, n = "inputs", bundle.spec.input_size
        columns = (
            f"columns {bundle.feature_list()}" if bundle.feature_names else bundle.feature_list()
        )
        row = ", ".join(["0.0"] * n)
        if bundle is not None and bundle.table is not None:
            what = ("one table row per line, encoded as the description's 'table' says\n"
                    "# (numbers as they are, 1/0 per category; `mlp-studio predict MODEL "
                    "rows.csv` does it),\n# " + columns)
        else:
            what = f"one point per row, {columns}"
        prepare = (
            f"# inputs: float32 [N, {n}], {what},\n"
            "# raw values in the units of the training data (the normalization is built in).\n"
            f"inputs = np.array([[{row}]], dtype=np.float32)\n"
        )
    regression = bundle is not None and bundle.task == "regression"
    result = "values" if regression else "probabilities"
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        imports = "import numpy as np\nimport onnxruntime\n\n"
        body = (
            f"session = onnxruntime.InferenceSession({str(path)!r})\n"
            f"{result} = session.run([{OUTPUT_NAME!r}], {{{INPUT_NAME!r}: {name}}})[0]\n"
        )
        if regression or name != INPUT_NAME:
            body = (
                f"# Every MLP Studio export names its tensors {INPUT_NAME!r} (in) and "
                f"{OUTPUT_NAME!r} (out).\n" + body
            )
    elif suffix in (".pt", ".torchscript"):
        imports = "import numpy as np\nimport torch\n\n"
        body = (
            f"model = torch.jit.load({str(path)!r})\n"
            "with torch.no_grad():\n"
            f"    {result} = model(torch.from_numpy({name})).numpy()\n"
        )
    elif suffix == ".safetensors":
        imports = (
            "import json\n\nimport numpy as np\nfrom safetensors import safe_open\n\n"
            "# MLP Studio rebuilds the network from the description:\n"
            "from mlp_studio.core.export import load_predictor\n\n"
        )
        body = (
            f"with safe_open({str(path)!r}, framework='numpy') as f:\n"
            f"    description = json.loads(f.metadata()[{METADATA_KEY!r}])  # spec, loss...\n"
            "    weights = {name: f.get_tensor(name) for name in f.keys()}\n"
            f"{result} = load_predictor({str(path)!r}).predict({name})\n"
        )
    else:
        raise ExportError(f"No usage example for {path}: export to .onnx, .pt or .safetensors.")
    if regression:
        show = "print(values[:, 0])  # one predicted value per row (not a probability)\n"
    else:
        show = "print(probabilities.argmax(1), probabilities.max(1))  # class index, confidence\n"
    return imports + prepare + body + show
