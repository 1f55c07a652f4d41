"""A tiny sweep of every operator family on the CPU: each point that can run here ends ok,
each that cannot is skipped with its reason, and every subquadratic mixer is compared with
attention."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.report.model import build
from hyperf.store import Store

SPEC = {
    "name": "families",
    "device": "cpu",
    "dtypes": ["float32"],
    "modes": ["fwd", "fwd_bwd"],
    "ops": ["hyena:fft", "hyena:se", "hyena:mr", "hyena:li", "ssm:mamba2",
            "ssm:mamba2-kernel", "hyena:subquadratic-ops", "attention:sdpa-flash"],
    "axes": {"seq_len": [256, 512], "d_model": [64], "heads": [1], "d_state": [16]},
    "points": [
        {"op": "attention:flex", "seq_len": 256, "d_model": 64, "n_heads": 1, "mode": "infer"},
        {"op": "attention:flex", "seq_len": 512, "d_model": 64, "n_heads": 1, "mode": "infer",
         "window": 64},
        {"op": "hyena:mr", "seq_len": 512, "d_model": 64, "filter_len": 32},
        # flex has no CPU backward: skipped with the reason, not crashed
        {"op": "attention:flex", "seq_len": 256, "d_model": 64, "n_heads": 1, "mode": "fwd"},
    ],
    "budget": {"seconds": 0.02, "min_samples": 3, "warmup_s": 0.0, "warmup_calls": 1,
               "repeats": 1, "timeout_s": 120},
    "measure_memory": False,
    "count_flops": False,
}  # fmt: skip


def test_every_family_sweeps_and_every_subquadratic_mixer_meets_attention(tmp_path):
    spec = tmp_path / "families.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    db = tmp_path / "families.db"
    result = CliRunner().invoke(main, ["sweep", str(spec), "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        points, _, _ = store.load(None)
    unavailable = {"ssm:mamba2-kernel", "hyena:subquadratic-ops"}
    for row in points.itertuples():
        no_grad_here = row.op == "attention:flex" and row.mode != "infer"
        expected = "skipped" if row.op in unavailable or no_grad_here else "ok"
        assert row.status == expected, (row.op, row.mode, row.seq_len, row.status, row.error)
    assert {"hyena:se", "hyena:mr", "hyena:li", "ssm:mamba2", "attention:flex"} <= set(points["op"])
    skipped = points[points["op"].isin(unavailable)]
    assert skipped["error"].str.contains("package").all()
    flex_fwd = points[(points["op"] == "attention:flex") & (points["mode"] == "fwd")]
    assert flex_fwd["error"].str.contains("no CPU backward").all()
    mr = points[(points["op"] == "hyena:mr") & (points["seq_len"] == 512)]
    assert sorted(mr["filter_len"].fillna(0)) == [0, 0, 32, 32]  # default and 32 taps, 2 modes
    speedups = build(db).speedups
    compared = set(speedups["hyena"])
    assert {"hyena:fft", "hyena:se", "hyena:mr", "hyena:li", "ssm:mamba2"} <= compared
