"""Kill the command line with SIGKILL while it writes, and check that no old file is damaged.

Each round continues a session and writes it back, two exports (ONNX, safetensors + JSON) and
the metrics JSON. The script watches the output folder and sends SIGKILL the moment the
temporary file of the round's target (session, export or metrics, in turn) appears, i.e. in the
middle of writing it. Afterwards every output must be either byte-identical to the previous
one or a complete new file that loads (session, export pair, JSON); never a torn or missing one.

    python bench/fault_injection_writes.py [--kills 20] [--hidden 512,512]

Prints the kills that landed during a write, per target, and the files found intact. Exit
status 1 if any file was damaged. POSIX only (SIGKILL).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mlp_studio.core.errors import StudioError
from mlp_studio.core.export import load_bundle, load_predictor
from mlp_studio.core.session import load_session

TARGETS = {"session": "run.mlps", "export": "model.safetensors", "metrics": "metrics.json"}
OUTPUTS = ["run.mlps", "model.onnx", "model.safetensors", "model.json", "metrics.json"]


def write_tiny_mnist(folder: Path, n_train: int = 600, n_test: int = 100) -> None:
    """Random IDX files with MNIST's names: enough for the CLI to train on."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], ">u4").tobytes() + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([2049, n], ">u4").tobytes() + labels.tobytes())


def command(data: Path, out: Path) -> list[str]:
    """Continue the session for one epoch and write every output."""
    return [sys.executable, "-m", "mlp_studio.core.cli", "train", "--data", str(data),
            "--session", str(out / "run.mlps"), "--epochs", "1",
            "--export", str(out / "model.onnx"), "--export", str(out / "model.safetensors"),
            "--metrics-json", str(out / "metrics.json"), "--quiet"]


def kill_while_writing(argv: list[str], out: Path, name: str, timeout: float = 300) -> bool:
    """Run argv; SIGKILL it as soon as the temporary file of `name` exists. True if it was
    killed during that write, False if the run ended first."""
    prefix, deadline = f".{name}.", time.monotonic() + timeout
    old = {e.name for e in os.scandir(out)}  # temporary files earlier kills left behind
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if any(e.name.startswith(prefix) and e.name.endswith(".tmp") and e.name not in old
                   for e in os.scandir(out)):  # fmt: skip
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.0005)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def damaged(out: Path, before: dict[str, bytes]) -> list[str]:
    """The outputs that are neither their old bytes nor a complete new file."""
    problems = []
    now = {name: (out / name).read_bytes() if (out / name).exists() else None for name in OUTPUTS}
    for name in OUTPUTS:
        if now[name] is None:
            problems.append(f"{name} is missing")
    if problems:
        return problems
    checks = {
        "run.mlps": lambda: load_session(out / "run.mlps"),
        "model.onnx": lambda: load_predictor(out / "model.onnx"),
        "model.safetensors": lambda: load_bundle(out / "model.safetensors"),
        "metrics.json": lambda: json.loads(now["metrics.json"])["epochs"],
    }
    for name, check in checks.items():
        if now[name] != before[name]:
            try:
                check()
            except (StudioError, ValueError, KeyError, TypeError) as err:
                problems.append(f"{name}: {err}")
    # The export pair: both old or both new (the JSON describes the weights beside it).
    pair = [now[n] == before[n] for n in ("model.safetensors", "model.json")]
    if pair[0] != pair[1]:
        problems.append("model.safetensors and model.json are from different exports")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--hidden", default="512,512", help="larger: longer writes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlp-studio-fault-injection-") as folder:
        data, out = Path(folder) / "mnist", Path(folder) / "out"
        data.mkdir()
        out.mkdir()
        write_tiny_mnist(data)
        argv = command(data, out)
        first = subprocess.run([*argv, "--hidden", args.hidden], capture_output=True, text=True)
        if first.returncode != 0:
            print(f"the first run failed: {first.stderr.strip()}")
            return 1
        kills = {target: 0 for target in TARGETS}
        intact, missed, failures = 0, 0, []
        targets = list(TARGETS)
        while sum(kills.values()) < args.kills and missed < 5 * args.kills:
            target = targets[(sum(kills.values()) + missed) % len(targets)]
            before = {name: (out / name).read_bytes() for name in OUTPUTS}
            if not kill_while_writing(argv, out, TARGETS[target]):
                missed += 1  # the write was over before the folder was looked at
                print(f"run ended before a kill ({missed})", file=sys.stderr, flush=True)
                continue
            kills[target] += 1
            print(f"kill {sum(kills.values())}/{args.kills} during the {target} write",
                  file=sys.stderr, flush=True)
            problems = damaged(out, before)
            if problems:
                failures.append(f"kill {sum(kills.values())} during {target}: {problems}")
            else:
                intact += 1
        total = sum(kills.values())
        stray = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
        print(f"kills during a write: {total} ({', '.join(f'{k} {v}' for k, v in kills.items())})"
              f"; runs that finished before a kill: {missed}")
        print(f"old files intact (or completely new) after {intact}/{total} kills")
        print(f"temporary files left behind by SIGKILL: {len(stray)} (hidden, never read; a later "
              "write of the same file removes them once an hour old)")
        for failure in failures:
            print(f"DAMAGED: {failure}")
    return 0 if not failures and total == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
