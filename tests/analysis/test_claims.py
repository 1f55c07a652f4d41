"""The paper's claims: verdicts from intervals, predictions never a verdict, every claim
present, and ``hyperf claims`` on a store a tiny CPU sweep built."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from hyperf.analysis.claims import (
    CLAIMS,
    HOLDS,
    UNMEASURED,
    UNRESOLVED,
    claims_table,
    predicted_speedups,
)
from hyperf.analysis.predict import published
from hyperf.cli import main
from hyperf.store import Store

ROOT = Path(__file__).resolve().parents[2]
ROLES = {"hyena:fft": "Hyena", "attention:sdpa-flash": "FlashAttention",
         "attention:sdpa-math": "attention"}  # fmt: skip


def speedup_rows(values: dict[int, tuple[float, float, float]], attention="attention:sdpa-flash"):
    """Speedup rows of one configuration at the paper's setting: L → (speedup, low, high)."""
    base = {"run_id": 1, "mode": "fwd", "exec": "eager", "device": "cuda", "batch": 1,
            "d_model": 768, "dtype": "float16", "depth": 0, "order": 2, "causal": 1,
            "hyena": "hyena:fft", "attention": attention, "noisy": False}  # fmt: skip
    return pd.DataFrame(
        [base | {"seq_len": n, "speedup": s, "speedup_low": lo, "speedup_high": hi}
         for n, (s, lo, hi) in values.items()]
    )  # fmt: skip


def table(speed, cross=None, predicted=None):
    figure = published()["paper_fig4_3"]
    cross = pd.DataFrame() if cross is None else cross
    return claims_table(speed, cross, ROLES, figure, {1: "GPU X"}, predicted)


def row(result, claim, against="FlashAttention"):
    found = result[(result["claim"] == claim) & (result["against"] == against)]
    assert len(found) == 1
    return found.iloc[0]


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [((2.1, 1.8, 2.4), UNRESOLVED), ((2.4, 2.1, 2.6), HOLDS), ((1.3, 1.2, 1.5), "does not hold")],
)
def test_the_8k_verdict_is_read_from_the_interval(interval, verdict):
    result = table(speedup_rows({4096: (1.1, 1.0, 1.2), 8192: interval}))
    assert row(result, "2x-at-8k")["verdict"] == verdict


def test_every_claim_has_a_row_and_an_unmeasured_length_is_not_judged():
    result = table(speedup_rows({4096: (1.1, 1.0, 1.2), 8192: (2.4, 2.1, 2.6)}))
    assert {(c.key, c.against) for c in CLAIMS} == set(
        zip(result["claim"], result["against"], strict=True)
    )
    at_64k = row(result, "100x-at-64k")
    assert at_64k["verdict"] == UNMEASURED and "L=8K" in at_64k["measured_text"]
    # no eager attention was measured: the claim against it says what to sweep
    eager = row(result, "2x-at-8k", "attention")
    assert eager["verdict"] == UNMEASURED and "paper_claims" in eager["measured_text"]


def test_a_prediction_is_shown_but_never_a_verdict():
    huge = {("FlashAttention", "fwd", 65536): 150.0, ("FlashAttention", "fwd", 8192): 3.0}
    result = table(pd.DataFrame(columns=["hyena", "attention"]), predicted=huge)
    assert HOLDS not in set(result["verdict"])
    assert "PREDICTED" in row(result, "100x-at-64k")["predicted"]
    measured = table(speedup_rows({8192: (1.3, 1.2, 1.5)}), predicted=huge)
    assert row(measured, "2x-at-8k")["verdict"] == "does not hold"  # the measurement decides


def test_the_crossover_claim_reads_the_crossover_interval():
    speed = speedup_rows({2048: (0.5, 0.4, 0.6), 4096: (0.8, 0.7, 0.9), 8192: (1.2, 1.1, 1.3),
                          16384: (2.0, 1.8, 2.2)})  # fmt: skip
    keys = speed.iloc[0][["mode", "exec", "batch", "d_model", "dtype", "depth", "order",
                          "causal", "hyena", "attention"]].to_dict()  # fmt: skip

    def crossing(low, high):
        return pd.DataFrame([keys | {"crossover_L": (low + high) / 2, "ci_low": low,
                                     "ci_high": high, "note": ""}])  # fmt: skip

    assert row(table(speed, crossing(5000, 7000)), "crossover-4k-8k")["verdict"] == HOLDS
    assert row(table(speed, crossing(3000, 6000)), "crossover-4k-8k")["verdict"] == UNRESOLVED
    late = row(table(speed, crossing(9000, 12000)), "crossover-4k-8k")
    assert late["verdict"] == "does not hold" and "–" in late["measured_text"]
    early = speedup_rows({2048: (1.5, 1.3, 1.7), 8192: (3.0, 2.5, 3.5)})
    assert row(table(early), "crossover-4k-8k")["verdict"] == "does not hold"


def test_hyperf_claims_on_a_tiny_cpu_sweep_of_the_cpu_spec(tmp_path):
    """The CPU variant of the claims spec, shrunk (D=16, forward, 4K and 8K, one process):
    every claim row, verdicts from the stored intervals, and a sweep hint where nothing
    matches."""
    spec = yaml.safe_load((ROOT / "sweeps" / "paper_claims_cpu.yaml").read_text())
    assert {8192} <= set(spec["axes"]["seq_len"])  # it measures the 8K claim
    spec["axes"] |= {"seq_len": [4096, 8192], "d_model": [16]}
    spec |= {"modes": ["fwd"], "ops": ["hyena:fft", "attention:sdpa-flash"]}
    spec["budget"] |= {"seconds": 0.02, "repeats": 2, "min_samples": 3}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(spec))
    db = tmp_path / "claims.db"
    runner = CliRunner()
    swept = runner.invoke(main, ["sweep", str(path), "--db", str(db)])
    assert swept.exit_code == 0, swept.output
    assert "The paper's claims" in swept.output
    shown = runner.invoke(main, ["claims", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    rows = pd.DataFrame(json.loads(shown.output))
    assert {(c.key, c.against) for c in CLAIMS} == set(
        zip(rows["claim"], rows["against"], strict=True)
    )
    at_8k = row(rows, "2x-at-8k")
    assert at_8k["hyena"] == "hyena:fft" and at_8k["seq_len"] == 8192
    expected = (HOLDS if at_8k["low"] >= 2 else "does not hold" if at_8k["high"] < 2
                else UNRESOLVED)  # fmt: skip
    assert at_8k["verdict"] == expected
    assert "D=16 (paper 768)" in at_8k["differs"]


def test_hyperf_claims_on_a_store_without_matching_points_says_what_to_sweep(tmp_path):
    db = tmp_path / "empty.db"
    with Store(db, write=True):  # a valid store with no runs
        pass
    result = CliRunner().invoke(main, ["claims", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "paper_claims" in result.output


def test_hyperf_claims_on_a_bad_store_exits_2(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("not a database")
    result = CliRunner().invoke(main, ["claims", "--db", str(bad)])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output
    assert bad.read_text() == "not a database"


def test_a_prediction_that_would_not_fit_in_memory_says_so_rather_than_a_speedup():
    """Eager attention at 64K holds 12 heads of 64K × 64K scores: on an 80 GB A100 the
    paper's figure has no point there, and the model gives no speedup either."""
    predicted = predicted_speedups()
    assert "does not fit" in predicted[("attention", "fwd", 65536)]
    assert isinstance(predicted[("FlashAttention", "fwd", 65536)], float)


def test_the_configuration_nearest_the_paper_is_judged_not_the_first_found():
    """A main job's depth-2 points at 1K and 4K beside its depth-1 series up to 8K: the claim
    is judged on depth 1 (nearer the paper's bare mixer, and measured at 8K)."""
    deeper = speedup_rows({1024: (0.9, 0.8, 1.0), 4096: (1.5, 1.4, 1.6)}).assign(depth=2)
    nearer = speedup_rows({1024: (0.9, 0.8, 1.0), 8192: (2.4, 2.1, 2.6)}).assign(depth=1)
    result = table(pd.concat([deeper, nearer], ignore_index=True))
    at_8k = row(result, "2x-at-8k")
    assert at_8k["verdict"] == HOLDS and "depth 1 (paper 0)" in at_8k["differs"]
