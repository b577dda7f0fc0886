"""`mlp-studio predict MODEL IMAGE...`: classify digit images with an exported model."""

import json


def run_predict(args) -> int:
    import numpy as np
    from mlp_studio.core.digits import load_image, preprocess_digit
    from mlp_studio.core.export import load_predictor

    predictor = load_predictor(args.model)
    pixels, empty = [], []
    for path in args.images:
        steps = preprocess_digit(load_image(path))
        pixels.append(steps.pixels)
        empty.append(steps.empty)
    probs = predictor.predict(np.stack(pixels).astype(np.float32))
    results = []
    for path, p, blank in zip(args.images, probs, empty, strict=True):
        digit = None if blank else predictor.class_names[int(p.argmax())]
        results.append({"file": path, "digit": digit,
                        "probabilities": [round(float(v), 6) for v in p]})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["digit"] is None:
                print(f"{r['file']}: no ink found (the image is blank)")
                continue
            top = max(r["probabilities"])
            probs_text = " ".join(f"{n}:{v:.3f}" for n, v in
                                  zip(predictor.class_names, r["probabilities"], strict=True))
            print(f"{r['file']}: {r['digit']} ({top:.1%})  {probs_text}")
    return 0

