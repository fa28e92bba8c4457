"""How long ``import ntinspect`` takes, next to a bare interpreter and to numpy (which the
package loads only on first use). Runs on the host (any OS):

    .cache/bench/host-venv/bin/python benchmarks/bench_import.py

Each row is the best of ROUNDS fresh interpreters, rounds interleaved so every row sees the
same drift of the machine; the import itself is timed inside the child (perf_counter around
the import statement), and the whole child's wall time is shown beside it.
"""
from __future__ import annotations

import subprocess
import sys
import time

ROUNDS = 7
ROWS = {
    "bare interpreter": "pass",
    "import ntinspect": "import ntinspect",
    "import ntinspect; ntinspect.HandleTable (numpy loads)": "import ntinspect; ntinspect.HandleTable",
    "import numpy": "import numpy",
}
PROBE = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def main() -> int:
    best = {name: (float("inf"), float("inf")) for name in ROWS}
    for _ in range(ROUNDS):
        for name, code in ROWS.items():
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True,
                                 check=True).stdout
            wall = time.perf_counter() - start
            inner, old_wall = best[name]
            best[name] = (min(inner, float(out)), min(old_wall, wall))
    bare = best["bare interpreter"][1]
    print("| what | import: s | child wall: s | x bare wall |")
    print("|---|---|---|---|")
    for name, (inner, wall) in best.items():
        print(f"| {name} | {inner:.4f} | {wall:.4f} | {wall / bare:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
