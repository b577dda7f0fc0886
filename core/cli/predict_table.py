"""`mlp-studio predict MODEL data.csv`: one prediction per row of a table, for a model trained
on a table. The rows are encoded with the model's own table description (column order,
categories, missing-value fills), found by the header's names; the target column, if there,
is ignored."""

import json

from mlp_studio.core.text import terminal_safe


def predict_table(predictor, path: str, as_json: bool) -> int:
    from mlp_studio.core.table_reading import read_table

    schema = predictor.table
    table = read_table(path)
    outputs = predictor.predict(schema.encode(table))
    lines = table.lines.tolist()
    if predictor.task == "regression":
        results = [{"line": line, "value": float(v[0])} for line, v in
                   zip(lines, outputs, strict=True)]
    else:
        names = predictor.class_names
        results = [{"line": line, "class": names[int(p.argmax())],
                    "probabilities": [round(float(v), 6) for v in p]}
                   for line, p in zip(lines, outputs, strict=True)]
    if as_json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:  # class names are the file's text: escaped
        if "value" in r:
            print(f"line {r['line']}: {r['value']:.6g}")
            continue
        probs = " ".join(f"{terminal_safe(n)}:{v:.3f}"
                         for n, v in zip(predictor.class_names, r["probabilities"], strict=True))
        print(f"line {r['line']}: {terminal_safe(r['class'])} ({max(r['probabilities']):.1%})"
              f"  {probs}")
    return 0
