"""The README's main command (scripts/run.sh), install aside, end to end on a tiny spec: it
calibrates once, sweeps, writes the report and prints the headline table and the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name: tiny-main
device: cpu
dtypes: [float32]
modes: [fwd_bwd]
ops: [hyena:fft, attention:sdpa-flash]
axes: {seq_len: [64, 128, 256], d_model: [32], heads: [2], order: [2], depth: [1]}
budget: {seconds: 0.05, min_samples: 3, warmup_s: 0.0, warmup_calls: 1, repeats: 1}
"""


def test_main_job_end_to_end(tmp_path):
    spec = tmp_path / "tiny-main.yaml"
    spec.write_text(TINY)
    env = os.environ | {
        "HYPERF_SKIP_INSTALL": "1",
        "HYPERF_SPEC": str(spec),
        "HYPERF_REPORTS": str(tmp_path / "out"),
        "HYPERF_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "cache" / "ceilings.json").exists()  # calibrated
    assert "Headline (measured" in run.stdout and "hyena:fft (order 2)" in run.stdout
    html = tmp_path / "out" / "tiny-main.html"
    assert f"report written to {html}" in run.stdout
    page = html.read_text()
    assert 'id="headline-table"' in page and "Calibrated ceilings" in page
    assert (tmp_path / "out" / "tiny-main-headline.csv").read_text().startswith("hyena,")
    again = subprocess.run(
        ["hyperf", "calibrate", "--if-missing"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "already cached" in again.stdout  # once per machine
