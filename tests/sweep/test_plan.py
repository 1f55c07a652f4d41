"""Plans: cross product, normalisation, deterministic IDs, skip rules."""

from __future__ import annotations

from hyperf.sweep.plan import Point, build_plan, point_filter, point_id
from hyperf.sweep.spec import Spec, spec_hash
from hyperf.workload import Workload


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


def test_causal_axis_doubles_attention_points_only():
    s = spec(
        ops=["hyena:fft", "attention:naive", "attention:sdpa-math"],
        modes=["fwd", "fwd_bwd"],
        axes={"seq_len": [64, 128], "causal": [True, False]},
    )
    plan = build_plan(s, "cpu")
    hyena = [p for p in plan if p.workload.op == "hyena:fft"]
    attention = [p for p in plan if p.workload.family == "attention"]
    assert len(hyena) == 2 * 2  # seq_len × mode: causal does not apply, no duplicates
    assert len(attention) == 2 * 2 * 2 * 2  # op × seq_len × mode × causal
    assert all(p.workload.causal for p in hyena)
    assert sorted(p.workload.causal for p in attention) == [False] * 8 + [True] * 8
    assert len({p.id for p in plan}) == len(plan)
    # A bare flag is a one-value axis; the default is causal.
    assert spec(ops=["attention:naive"], axes={"causal": False}).axes.causal == [False]
    assert spec(ops=["attention:naive"]).axes.causal == [True]


# Computed before ``causal`` existed (hyperf at commit 2b61113): a stored run resumed after it
# must find its points under the same IDs, and its spec under the same hash.
OLD_IDS = {
    ("attention:naive", 64, 32, 2): "bf8daa71a156e289",
    ("hyena:fft", 64, 32, None): "694724a871791865",
}
OLD_SPEC = {
    "ops": ["hyena:fft", "attention:sdpa-math"],
    "axes": {"seq_len": [64], "d_model": [32], "heads": [2]},
    "points": [{"op": "attention:naive", "seq_len": 32, "d_model": 16}],
}
OLD_SPEC_HASH = "ca0690b5f74995c0"
OLD_PLAN_IDS = {"694724a871791865", "ba3ab7010c7b2e59", "c692ad092e338c8e"}


def test_causal_points_keep_the_ids_and_hashes_stored_before_causal_existed():
    for (op, seq_len, d_model, heads), stored in OLD_IDS.items():
        w = Workload(op, seq_len=seq_len, d_model=d_model, n_heads=heads)
        assert point_id(w, "fwd", "cpu") == stored
        assert point_id(Workload(**{**w.as_dict(), "causal": True}), "fwd", "cpu") == stored
    encoder = Workload("attention:naive", seq_len=64, d_model=32, n_heads=2, causal=False)
    assert point_id(encoder, "fwd", "cpu") not in OLD_IDS.values()
    assert spec_hash(spec(**OLD_SPEC)) == OLD_SPEC_HASH
    assert {p.id for p in build_plan(spec(**OLD_SPEC), "cpu")} == OLD_PLAN_IDS
    # Spelling the default out changes neither; asking for bidirectional points does.
    spelled = {
        **OLD_SPEC,
        "axes": {**OLD_SPEC["axes"], "causal": [True]},
        "points": [{**OLD_SPEC["points"][0], "causal": True}],
    }
    assert spec_hash(spec(**spelled)) == OLD_SPEC_HASH
    both = {**OLD_SPEC, "axes": {**OLD_SPEC["axes"], "causal": [True, False]}}
    assert spec_hash(spec(**both)) != OLD_SPEC_HASH
    assert {p.id for p in build_plan(spec(**both), "cpu")} > OLD_PLAN_IDS
    # A plan serialised before causal existed (no such key) reads back causal.
    point = build_plan(spec(**OLD_SPEC), "cpu")[0]
    data = point.as_dict()
    del data["workload"]["causal"]
    assert Point.from_dict(data).workload.causal


def test_profile_filter_reads_causal_as_a_flag():
    plan = build_plan(
        spec(ops=["hyena:fft", "attention:naive"], axes={"seq_len": [64], "causal": [True, False]}),
        "cpu",
    )
    for text in ("causal=false", "causal=0", "causal=no", "causal!=true"):
        chosen = [p for p in plan if point_filter(text)(p)]
        assert [(p.workload.op, p.workload.causal) for p in chosen] == [("attention:naive", False)]
    assert len([p for p in plan if point_filter("causal=true")(p)]) == 2
