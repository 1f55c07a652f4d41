"""One rule for "rankable": no interpreted, contended, wrong or unchecked point reaches a
crossover, speedup, fit, per-step cost, memory table, roofline or figure.

The points frame is built by hand: a clean Hyena (0.01·L ms, 1000·L saved bytes) and
attention (1e-5·L² ms, 0.5·L² saved bytes) pair, which cross at L = 1000 in time and
L = 2000 in memory, plus points that would change every answer if they leaked.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from hyperf.analysis import mark_rankable, not_ranked_points, rankable_points
from hyperf.analysis.crossover import crossovers, rankable, scaling_fits, speedups
from hyperf.analysis.scaling import memory_crossovers, memory_fits, roofline_table, step_costs
from hyperf.report import figures, html, model

LENGTHS = [256, 512, 1024, 2048, 4096]


def point(
    op: str,
    seq_len: int,
    ms: float,
    saved: float,
    *,
    status: str = "ok",
    interpreted: int = 0,
    contended: int = 0,
    depth: int = 1,
    order: int = 2,
    dtype: str = "float32",
) -> dict:
    return {
        "run_id": 1,
        "point_id": f"{op}|{seq_len}|{depth}|{order}|{dtype}",
        "op": op,
        "family": op.split(":")[0],
        "mode": "fwd",
        "device": "cpu",
        "dtype": dtype,
        "batch": 1,
        "seq_len": seq_len,
        "d_model": 64,
        "n_heads": 2,
        "hyena_order": order,
        "depth": depth,
        "variant": "safari",
        "status": status,
        "error": None,
        "median_ms": ms,
        "ci_low_ms": 0.99 * ms,
        "ci_high_ms": 1.01 * ms,
        "interpreted": interpreted,
        "contended": contended,
        "flops": 1e6 * seq_len,
        "bytes": 1e5 * seq_len,
        "peak_bytes": 2 * saved,
        "saved_bytes": saved,
        "max_rel_error": 1e-6,
        "tolerance": 1e-3,
    }


def hyena(n: int, **kw) -> dict:
    return point("hyena:fft", n, 0.01 * n, 1000.0 * n, **kw)


def attention(n: int, **kw) -> dict:
    return point("attention:naive", n, 1e-5 * n**2, 0.5 * n**2, **kw)


def build_points() -> pd.DataFrame:
    rows = [hyena(n) for n in LENGTHS[:-1]]
    rows.append({**hyena(4096, contended=1), "median_ms": 4096.0, "saved_bytes": 1e12})
    rows += [attention(n) for n in LENGTHS if n != 512]
    # wrong: if it leaked, attention at 512 would be 100 ms and the crossing would move below 512
    rows.append({**attention(512, status="wrong"), "median_ms": 100.0, "saved_bytes": 1e3})
    # interpreted: fast enough to win every speedup, at every length, depth and order
    rows += [point("hyena:triton", n, 1e-4 * n, 10.0 * n, interpreted=1) for n in LENGTHS]
    rows.append(point("hyena:triton", 1024, 5.0, 1e4, interpreted=1, depth=2))
    rows.append(point("hyena:triton", 1024, 9.0, 1e4, interpreted=1, order=3))
    # unchecked (no independent oracle): very slow, so it would make a crossover and speedups
    rows += [
        point("attention:plugin_x", n, 1e-3 * n**2, 0.5 * n**2, status="unchecked") for n in LENGTHS
    ]
    # depth and order steps: clean ones, and a contended attention at depth 2
    rows.append({**hyena(1024, depth=2), "median_ms": 20.48})
    rows.append({**hyena(1024, order=3), "median_ms": 15.36})
    rows.append({**attention(1024, depth=2, contended=1), "median_ms": 1e4})
    return pd.DataFrame(rows)


def samples_of(points: pd.DataFrame) -> dict[tuple[int, str], list[list[float]]]:
    return {
        (r.run_id, r.point_id): [[0.99 * r.median_ms, r.median_ms, 1.01 * r.median_ms]]
        for r in points.itertuples()
    }


CLEAN = {"hyena:fft", "attention:naive"}


@pytest.fixture
def points() -> pd.DataFrame:
    return mark_rankable(build_points())


def test_the_mark_and_its_reasons(points):
    because = dict(zip(points["point_id"], points["not_ranked_because"], strict=True))
    assert because["hyena:fft|1024|1|2|float32"] == ""
    assert because["hyena:fft|4096|1|2|float32"] == "contended"
    assert because["attention:naive|512|1|2|float32"] == "status wrong"
    assert because["attention:plugin_x|256|1|2|float32"] == "status unchecked"
    assert because["hyena:triton|256|1|2|float32"] == "interpreted (Triton interpreter)"
    assert points["rankable"].dtype == bool and int(points["rankable"].sum()) == 10
    assert set(rankable_points(points)["op"]) == CLEAN
    assert len(not_ranked_points(points)) == len(points) - 10
    assert rankable is rankable_points  # the older name is the same rule


def test_old_databases_without_contended_and_several_reasons():
    raw = build_points()
    old = mark_rankable(raw.drop(columns="contended"))  # before the column existed
    assert old.loc[raw["contended"] == 1, "rankable"].all()
    nulls = mark_rankable(raw.assign(contended=None, interpreted=float("nan")))
    assert nulls.loc[raw["op"] == "hyena:triton", "rankable"].all()
    both = mark_rankable(pd.DataFrame([hyena(64, status="wrong", interpreted=1, contended=1)]))
    assert both["not_ranked_because"].iloc[0] == (
        "status wrong; interpreted (Triton interpreter); contended"
    )
    # an unmarked frame is marked on the way in: the rule holds for every caller
    assert set(rankable_points(raw)["op"]) == CLEAN


def test_crossovers_see_only_rankable_points(points):
    table = crossovers(points, samples_of(points))
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["hyena"], row["order"], row["attention"]) == ("hyena:fft", 2, "attention:naive")
    assert row["crossover_L"] == pytest.approx(1000, rel=1e-9)  # 512 if the wrong one leaked
    assert row["lengths"] == "256–2048" and not row["extrapolated"]


def test_speedups_see_only_rankable_points(points):
    table = speedups(points, samples_of(points))
    got = {(r.hyena, r.order, r.attention, r.seq_len): r.speedup for r in table.itertuples()}
    assert got == pytest.approx(
        {
            ("hyena:fft", 2, "attention:naive", 256): 0.256,
            ("hyena:fft", 2, "attention:naive", 1024): 1.024,
            ("hyena:fft", 2, "attention:naive", 2048): 2.048,
            ("hyena:fft", 3, "attention:naive", 1024): 10.48576 / 15.36,
        }
    )


def test_scaling_fits_see_only_rankable_points(points):
    fits = scaling_fits(points).set_index("op")
    assert set(fits.index) == CLEAN
    assert fits.loc["hyena:fft", "b"] == pytest.approx(1.0)  # 4096 contended: left out
    assert fits.loc["hyena:fft", "points"] == 4
    assert fits.loc["attention:naive", "b"] == pytest.approx(2.0)
    assert fits.loc["attention:naive", "points"] == 4  # 512 wrong: left out


def test_step_costs_see_only_rankable_points(points):
    depth = step_costs(points, "depth")
    assert len(depth) == 1 and depth["op"].iloc[0] == "hyena:fft"
    assert depth["per_step_ms"].iloc[0] == pytest.approx(10.24)
    order = step_costs(points, "hyena_order")
    assert len(order) == 1 and order["op"].iloc[0] == "hyena:fft"
    assert order["per_step_ms"].iloc[0] == pytest.approx(5.12)


def test_memory_tables_see_only_rankable_points(points):
    fits = memory_fits(points).set_index("op")
    assert set(fits.index) == CLEAN
    assert fits.loc["hyena:fft", "b"] == pytest.approx(1.0)
    assert fits.loc["hyena:fft", "max_L_within_80GB"] == pytest.approx(8e7, rel=1e-6)
    assert fits.loc["attention:naive", "max_L_within_80GB"] == pytest.approx(4e5, rel=1e-6)
    cross = memory_crossovers(points)
    assert len(cross) == 1 and cross["attention"].iloc[0] == "attention:naive"
    assert cross["memory_crossover_L"].iloc[0] == pytest.approx(2000, rel=1e-9)


def test_roofline_table_sees_only_rankable_points(points):
    ceilings = {"matmul_flops": {"float32": 1e9}, "copy_bytes_per_s": 1e9}
    table = roofline_table(points, ceilings)
    assert set(table["op"]) == CLEAN and len(table) == 10
    # hyena:fft at L=1024: 1.024e9 FLOPs in 10.24 ms → 0.1 TFLOP/s; bound 1.024 s → 100×
    one = table[(table["op"] == "hyena:fft") & (table["seq_len"] == 1024)]
    one = one[(one["depth"] == 1) & (one["order"] == 2)].iloc[0]
    assert one["tflops"] == pytest.approx(0.1) and one["roofline_fraction"] == pytest.approx(100)


def test_roofline_table_uses_the_points_dtype_peak():
    """2e9 FLOPs and 1e8 bytes in 4 s: the bound is 2 s at float32's 1e9 FLOP/s (fraction
    0.5) and 0.5 s at bfloat16's 4e9 FLOP/s (fraction 0.125); float16, not calibrated,
    falls back to float32's rate."""
    ceilings = {"matmul_flops": {"float32": 1e9, "bfloat16": 4e9}, "copy_bytes_per_s": 1e9}
    rows = [
        {**point("hyena:fft", 1024, 4000.0, 1.0, dtype=d), "flops": 2e9, "bytes": 1e8}
        for d in ("float32", "bfloat16", "float16")
    ]
    table = roofline_table(pd.DataFrame(rows), ceilings).set_index("dtype")
    assert table.loc["float32", "roofline_fraction"] == pytest.approx(0.5)
    assert table.loc["bfloat16", "roofline_fraction"] == pytest.approx(0.125)
    assert table.loc["float16", "roofline_fraction"] == pytest.approx(0.5)
    # memory-bound when bytes dominate: 8e9 bytes at 1e9 B/s = 8 s, whatever the dtype
    table = roofline_table(pd.DataFrame(rows).assign(bytes=8e9), ceilings)
    assert table["roofline_fraction"].tolist() == pytest.approx([2.0, 2.0, 2.0])
    # no rate for the dtype nor float32: no fraction, not a crash
    only_bf16 = {"matmul_flops": {"bfloat16": 4e9}, "copy_bytes_per_s": 1e9}
    table = roofline_table(pd.DataFrame(rows), only_bf16).set_index("dtype")
    assert math.isnan(table.loc["float32", "roofline_fraction"])
    assert table.loc["bfloat16", "roofline_fraction"] == pytest.approx(0.125)


def runs_frame() -> pd.DataFrame:
    ceilings = {
        "device_name": "test",
        "threads": 2,
        "matmul_flops": {"float32": 1e9},
        "copy_bytes_per_s": 1e9,
    }
    return pd.DataFrame(
        [
            {
                "id": 1,
                "name": "rank-test",
                "started_at": "2025-01-01T00:00:00+00:00",
                "env_json": json.dumps({"device_name": "test"}),
                "ceilings_json": json.dumps(ceilings),
            }
        ]
    )


def test_report_draws_and_states_only_rankable_points(monkeypatch):
    """The report's data and the frames its figures are drawn from hold rankable points
    only; every other point is listed under Not ranked with its reason."""
    drawn: dict[str, pd.DataFrame] = {}

    def spy(name, real):
        def draw(frame, *args, **kwargs):
            drawn[name] = frame
            return real(frame, *args, **kwargs)

        return draw

    for name in ("time_vs_length", "memory_vs_length", "speedup_vs_length"):
        monkeypatch.setattr(figures, name, spy(name, getattr(figures, name)))
    raw = build_points()
    report = model.assemble(raw, samples_of(raw), runs_frame())
    page = html.render(report, "rank test")

    assert set(drawn["time_vs_length"]["op"]) == CLEAN
    assert len(drawn["time_vs_length"]) == 10 and drawn["time_vs_length"]["rankable"].all()
    assert set(drawn["memory_vs_length"]["op"]) == CLEAN
    assert set(drawn["speedup_vs_length"]["attention"]) == {"attention:naive"}
    assert set(drawn["speedup_vs_length"]["hyena"]) == {"hyena:fft"}

    top = report.headline_table.set_index(["hyena", "attention"]).loc[
        ("hyena:fft", "attention:naive")
    ]
    assert float(top["crossover_L"]) == pytest.approx(1000, rel=0.01)
    assert "1000 (" in page and "2.05×" in page  # the table's cells, in the HTML
    headline = " ".join(report.headline)
    assert "2.05×" in headline  # the largest measured speedup, at L = 2048
    assert "triton" not in headline and "plugin_x" not in headline

    assert len(report.not_ranked) == len(raw) - 10
    assert set(report.not_ranked["not_ranked_because"]) == {
        "contended",
        "status wrong",
        "status unchecked",
        "interpreted (Triton interpreter)",
    }
    assert "Not ranked: failures, interpreted, contended, wrong, unchecked" in page
    for reason in ("status unchecked", "status wrong", "interpreted (Triton interpreter)"):
        assert reason in page
    assert f"{len(raw)} points, 10 ranked" in page


def test_report_with_nothing_rankable_says_why():
    raw = pd.DataFrame([point("hyena:triton", n, 1.0, 1.0, interpreted=1) for n in (64, 128)])
    report = model.assemble(raw, samples_of(raw), runs_frame())
    assert report.headline == [
        "None of the 2 points can be ranked (2 × interpreted (Triton interpreter)); "
        "see Not ranked below.",
        "Only one family of operators was measured: there is nothing to cross.",
    ]
    assert report.crossovers.empty and report.speedups.empty and report.scaling.empty


def test_unchecked_attention_leaves_one_family_to_rank():
    raw = pd.DataFrame(
        [hyena(n) for n in LENGTHS[:3]]
        + [
            point("attention:plugin_x", n, 1e-3 * n**2, 1.0, status="unchecked")
            for n in LENGTHS[:3]
        ]
    )
    report = model.assemble(raw, samples_of(raw), runs_frame())
    assert report.headline == [
        "Only one family of operators can be ranked: there is nothing to cross."
    ]
    assert report.crossovers.empty and report.speedups.empty
    assert set(report.not_ranked["op"]) == {"attention:plugin_x"}
