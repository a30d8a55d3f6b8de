"""Wall time of the whole offline demo (`wavectl demo`), per wave and in total, synth excluded.

DESIGN.md's budget: the whole demo runs in well under a minute on 2 cores. Run it on a quiet machine;
the figures printed are real seconds and the simulated time each wave covered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        assembly, out = Path(tmp) / "cdk.out", Path(tmp) / "demo"
        subprocess.run([sys.executable, "-m", "wavectl", "synth", "--no-bundle", "--out", str(assembly)],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "wavectl", "demo", "--out", str(out), "--assembly", str(assembly)],
            cwd=ROOT, capture_output=True, text=True, env={"TZ": "UTC", **_env()},
        )  # fmt: skip
        status = json.loads((out / "status.json").read_text())
    local = status["local"]
    print(f"demo: exit {done.returncode}, wall {local['wall_seconds']:.1f} s, "
          f"simulated {local['simulated_seconds']:.0f} s")  # fmt: skip
    for wave in status["waves"]:
        print(f"  {wave['wave']:<20} {wave['status']:<10} {wave.get('duration_s') or 0:>8.0f} s simulated")
    return done.returncode


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":
    sys.exit(main())
