"""Plans: cross product, normalisation, deterministic IDs, skip rules."""

from __future__ import annotations

from hyperf.sweep.plan import build_plan
from hyperf.sweep.spec import Spec


def spec(**kwargs) -> Spec:
    return Spec.model_validate({"name": "t", "ops": ["hyena:fft"], **kwargs})


def test_cross_product_and_normalisation():
    s = spec(
        ops=["hyena:fft", "attention:naive"],
        modes=["fwd", "fwd_bwd"],
        axes={"seq_len": [64, 128], "order": [2, 3], "heads": [2]},
    )
    plan = build_plan(s, "cpu")
    hyena = [p for p in plan if p.workload.op == "hyena:fft"]
    attention = [p for p in plan if p.workload.op == "attention:naive"]
    assert len(hyena) == 2 * 2 * 2  # seq_len × order × mode
    assert len(attention) == 2 * 2  # order does not apply: no duplicates
    assert all(p.workload.n_heads is None for p in hyena)
    assert len({p.id for p in plan}) == len(plan)


def test_ids_are_deterministic_and_depend_on_every_parameter():
    a = build_plan(spec(axes={"seq_len": [64, 128]}), "cpu")
    b = build_plan(spec(axes={"seq_len": [128, 64]}), "cpu")
    assert {p.id for p in a} == {p.id for p in b}
    c = build_plan(spec(axes={"seq_len": [64, 128], "d_model": [32]}), "cpu")
    assert not {p.id for p in a} & {p.id for p in c}
    assert {p.id for p in build_plan(spec(axes={"seq_len": [64]}), "cuda")} != {
        p.id for p in build_plan(spec(axes={"seq_len": [64]}), "cpu")
    }


def test_skip_rules_log2_and_tokens_per_batch():
    s = spec(
        ops=["hyena:fft", "attention:naive"],
        axes={"seq_len": {"log2": [6, 9]}},
        skip=[{"op": "attention:naive", "seq_len_gt": 128, "reason": "too big"}],
        tokens_per_batch=1024,
    )
    plan = build_plan(s, "cpu")
    assert sorted({p.workload.seq_len for p in plan}) == [64, 128, 256, 512]
    skipped = [p for p in plan if p.skip_reason]
    assert {p.workload.seq_len for p in skipped} == {256, 512}
    assert all(p.workload.op == "attention:naive" and "too big" in p.skip_reason for p in skipped)
    assert all(p.workload.batch * p.workload.seq_len == 1024 for p in plan)


def test_explicit_points_join_the_plan():
    s = spec(axes={"seq_len": [64]}, points=[{"op": "hyena:blocked", "seq_len": 100}])
    ops = {(p.workload.op, p.workload.seq_len) for p in build_plan(s, "cpu")}
    assert ops == {("hyena:fft", 64), ("hyena:blocked", 100)}
