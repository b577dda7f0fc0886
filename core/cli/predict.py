"""`mlp-studio predict MODEL IMAGE...`: classify images with an exported model. Digits are
prepared as MNIST was made; a model of an image folder takes each picture as its folder's were
(cropped square, resized, grayscale or RGB). A model trained on a table predicts the rows of a
CSV file instead: core.cli.predict_table."""

import json
import sys

from mlp_studio.core.text import terminal_safe


def run_predict(args) -> int:
    import numpy as np
    from mlp_studio.core.cli.predict_table import predict_table
    from mlp_studio.core.digits import load_image, preprocess_digit
    from mlp_studio.core.errors import DataFormatError, ExportError
    from mlp_studio.core.export import load_predictor
    from mlp_studio.core.image_folder import read_picture

    if getattr(args, "input_range", None) is not None:
        predictor = _imported(args.model, args.input_range)  # a Keras or ONNX file of any MLP
    else:
        predictor = load_predictor(args.model)
    tables = [path for path in args.images if path.lower().endswith((".csv", ".tsv"))]
    if predictor.table is not None:
        if len(args.images) != 1 or not tables:
            raise ExportError(
                f"{args.model} was trained on a table: give one CSV file with the columns "
                f"{', '.join(c.name for c in predictor.table.columns)} (one prediction per "
                "row).")
        return predict_table(predictor, tables[0], args.json)
    if tables:
        raise ExportError(f"{args.model} was not trained on a table: it takes images, not "
                          f"{tables[0]}. Predict CSV rows with a model trained on a CSV file.")
    # One unreadable picture does not cost the others their answers: it gets its own line
    # (or "error" entry) and the exit status says something failed.
    pixels, empty, problems = [], [], {}
    for path in args.images:
        try:
            if predictor.image_shape:  # a picture model: each picture as its folder's were
                pixels.append(read_picture(path, predictor.image_shape).reshape(-1))
                empty.append(False)
            else:
                steps = preprocess_digit(load_image(path))
                pixels.append(steps.pixels)
                empty.append(steps.empty)
        except DataFormatError as err:
            problems[path] = str(err)
    probs = iter(predictor.predict(np.stack(pixels).astype(np.float32)) if pixels else [])
    blanks = iter(empty)
    results = []
    for path in args.images:
        if path in problems:
            results.append({"file": path, "error": problems[path]})
            continue
        p = next(probs)
        digit = None if next(blanks) else predictor.class_names[int(p.argmax())]
        results.append({"file": path, "digit": digit, "class": digit,
                        "probabilities": [round(float(v), 6) for v in p]})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:  # file names and class names are anybody's text: escaped
            file = terminal_safe(r["file"])
            if "error" in r:
                print(f"{file}: {terminal_safe(r['error'])}")
            elif r["digit"] is None:
                print(f"{file}: no ink found (the image is blank)")
            else:
                top = max(r["probabilities"])
                probs_text = " ".join(
                    f"{terminal_safe(n)}:{v:.3f}" for n, v in
                    zip(predictor.class_names, r["probabilities"], strict=True))
                print(f"{file}: {terminal_safe(r['digit'])} ({top:.1%})  {probs_text}")
    if problems:
        print(f"error: {len(problems)} of {len(args.images)} pictures could not be read "
              "(each one says why).", file=sys.stderr)
        from mlp_studio.core.cli import EXIT_BAD_INPUT

        return EXIT_BAD_INPUT
    return 0


def _imported(path: str, input_range: str):
    """Any model file the app imports (core.model_import), run with torch."""
    from mlp_studio.core.export import Predictor, inference_module
    from mlp_studio.core.export.loaders import torch_run
    from mlp_studio.core.model_import import import_model

    bundle = import_model(path, input_range)
    return Predictor(bundle.class_names, f"{path} (imported, torch)", bundle.spec.input_size,
                     torch_run(inference_module(bundle)))
