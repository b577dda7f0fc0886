"""`mlp-studio evaluate MODEL --data PATH`: any model file the app reads, on any data `train`
takes that fits it (core.evaluation_data): an MNIST-format family's test split, every picture
of an image folder, every row of a CSV (encoded with the model's own table schema).

The same metrics table and JSON as `train` (no epochs: nothing is trained), plus
`evaluated_on`. Keras and ONNX files that do not say how their pixels are scaled need
--input-range raw|unit.
"""

import json
import sys
from pathlib import Path


def add_evaluate_arguments(evaluate) -> None:
    from mlp_studio.core.model_import import IMPORT_SUFFIXES, INPUT_RANGES

    evaluate.add_argument("model", help=f"a model file: {', '.join(IMPORT_SUFFIXES)}")
    evaluate.add_argument("--data", metavar="PATH",
                          help="an MNIST-format folder or .npz (its test split), a folder with "
                          "one subfolder of pictures per class, or a .csv with the model's "
                          "columns and target (every sample); default: MNIST from "
                          "$MLP_STUDIO_DATA, then the cache, then a download")
    evaluate.add_argument("--dataset", choices=("mnist", "fashion-mnist", "kmnist"),
                          help="which MNIST-format family (default: mnist)")
    evaluate.add_argument("--no-download", action="store_true", help="never download MNIST")
    evaluate.add_argument("--input-range", choices=INPUT_RANGES,
                          help="when the file does not say: raw pixels 0-255 or unit 0-1")
    evaluate.add_argument("--metrics-json", metavar="PATH", help="write the metrics as JSON "
                          "(- for standard output)")


def run_evaluate(args) -> int:
    from mlp_studio.core.cli.report import metrics_table
    from mlp_studio.core.cli.train_data import data_inputs
    from mlp_studio.core.evaluation import evaluate_on, evaluation_report
    from mlp_studio.core.evaluation_data import evaluation_data
    from mlp_studio.core.model_import import import_model
    from mlp_studio.core.outputs import check_distinct, plan_output, write_output
    from mlp_studio.core.text import terminal_safe

    target = None
    if args.metrics_json is not None:
        target = plan_output(args.metrics_json, "--metrics-json", allow_stdout=True)
        inputs = data_inputs(args.data, args.dataset)
        inputs["input_files"] = [("the model", Path(args.model)),
                                 *inputs.get("input_files", [])]
        check_distinct([("--metrics-json", target)], **inputs)
    bundle = import_model(args.model, args.input_range)
    samples = evaluation_data(bundle, args.data, dataset=args.dataset,
                              download=not args.no_download)
    for note in samples.notes:
        print(f"note: {terminal_safe(note)}", file=sys.stderr)
    print(f"evaluate: {terminal_safe(samples.what)}", file=sys.stderr)
    if bundle.task == "regression" and bundle.target_scaling is not None:
        name = terminal_safe(bundle.class_names[0])
        print(f"note: the loss is on standardized targets {bundle.target_scaling.describe(name)}"
              f", as in training; RMSE and MAE are in {name}'s units", file=sys.stderr)
    metrics = evaluate_on(bundle, samples.data)
    class_names = samples.data.class_names
    print(metrics_table(metrics, class_names),
          file=sys.stderr if target is not None and target.stream else sys.stdout)
    if target is not None:
        report = evaluation_report(metrics, class_names, args.model, bundle)
        report["evaluated_on"] = samples.what
        write_output(target, (json.dumps(report, indent=2) + "\n").encode())
    return 0
