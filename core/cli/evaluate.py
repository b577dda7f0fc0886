"""`mlp-studio evaluate MODEL --data DIR`: any model file the app reads, on the MNIST test split.

The same metrics table and JSON as `train` (no epochs: nothing is trained). Keras and ONNX
files that do not say how their pixels are scaled need --input-range raw|unit.
"""

import json
import sys
from pathlib import Path


def add_evaluate_arguments(evaluate) -> None:
    from mlp_studio.core.model_import import IMPORT_SUFFIXES, INPUT_RANGES

    evaluate.add_argument("model", help=f"a model file: {', '.join(IMPORT_SUFFIXES)}")
    evaluate.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files or "
                          "mnist.npz (default: $MLP_STUDIO_DATA, then the cache, then a download)")
    evaluate.add_argument("--no-download", action="store_true", help="never download MNIST")
    evaluate.add_argument("--input-range", choices=INPUT_RANGES,
                          help="when the file does not say: raw pixels 0-255 or unit 0-1")
    evaluate.add_argument("--metrics-json", metavar="PATH", help="write the metrics as JSON "
                          "(- for standard output)")


def run_evaluate(args) -> int:
    from mlp_studio.core.cli.report import metrics_table
    from mlp_studio.core.cli.train_data import data_folder
    from mlp_studio.core.evaluation import evaluate_bundle, evaluation_report
    from mlp_studio.core.mnist import load_mnist
    from mlp_studio.core.model_import import import_model
    from mlp_studio.core.outputs import check_distinct, plan_output, write_output

    target = None
    if args.metrics_json is not None:
        target = plan_output(args.metrics_json, "--metrics-json", allow_stdout=True)
        check_distinct([("--metrics-json", target)], [("the model", Path(args.model))],
                       [("the data folder", data_folder(args.data))])  # fmt: skip
    bundle = import_model(args.model, args.input_range)
    mnist = load_mnist(args.data, download=not args.no_download)
    metrics, class_names = evaluate_bundle(bundle, mnist)
    print(metrics_table(metrics, class_names),
          file=sys.stderr if target is not None and target.stream else sys.stdout)
    if target is not None:
        report = evaluation_report(metrics, class_names, args.model, bundle)
        write_output(target, (json.dumps(report, indent=2) + "\n").encode())
    return 0
