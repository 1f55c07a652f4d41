"""Malformed specs are rejected with one message per problem; nothing is written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.sweep.spec import SpecError, load_spec

GOOD = """
name: ok
ops: [hyena:fft]
axes: {seq_len: [64]}
"""

MALFORMED = [
    ("name: x\nops: [hyena:fft]\nsurprise: 1\n", "surprise: unknown key; allowed: name,"),
    ("name: x\nops: [hyena:nope]\n", "ops: unknown ops ['hyena:nope']; allowed"),
    ("name: x\nops: []\n", "ops: List should have at least 1 item"),
    ("name: x\nops: [hyena:fft]\nmodes: [train]\n", "modes: unknown modes ['train']"),
    ("name: x\nops: [hyena:fft]\ndtypes: [float8]\n", "dtypes: unknown dtypes ['float8']"),
    (
        "name: x\nops: [hyena:fft]\naxes: {seq_len: []}\n",
        "axes.seq_len: List should have at least 1 item",
    ),
    (
        "name: x\nops: [hyena:fft]\naxes: {seq_len: [0]}\n",
        "axes.seq_len.0: Input should be greater than or equal to 1",
    ),
    ("name: x\nops: [hyena:fft]\naxes: {batch: [one]}\n", "axes.batch.0: Input should be a valid"),
    ("name: x\nops: [hyena:fft]\naxes: {seq_len: {log2: [9, 3]}}\n", "log2 range"),
    (
        "name: x\nops: [hyena:fft]\nbudget: {seconds: 0}\n",
        "budget.seconds: Input should be greater",
    ),
    ("name: x\nops: [hyena:fft]\ndevice: tpu\n", "device must be auto, cpu, cuda"),
    (
        "name: x\nops: [longconv:fft]\naxes: {depth: [1]}\n",
        "axes: depth 1: depth applies to mixers, not longconv:fft",
    ),
    ("name: x\nops: [hyena:fft]\ntimed_region: {filter_generation: out}\n", "not supported"),
    ("name: x\nops: [hyena:fft]\nskip: [{op: attention:naive, seq_len_gt: 1}]\n", "not in ops"),
    ("name: x\nops: [hyena:fft]\naxes: {variant: [mine]}\n", "axes.variant.0: Input should be"),
    ("ops: [hyena:fft]\n", "name: Field required"),
    ("name: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("name: x\nops: [hyena:fft]\ntolerances: {float32: -1}\n", "tolerances need dtype keys"),
    (
        "name: x\nops: [hyena:fft]\ntokens_per_batch: 100\naxes: {seq_len: [1024]}\n",
        "tokens_per_batch=100 is smaller",
    ),
    ("name: x\nops: [hyena:fft]\naxes: {causal: [false]}\n", "but no op is attention:*"),
    (
        "name: x\nops: [hyena:fft]\npoints: [{op: hyena:fft, causal: false}]\n",
        "points.0: causal: false applies to attention:* only; hyena:fft is causal",
    ),
    ("name: x\nops: [attention:naive]\naxes: {causal: [maybe]}\n", "axes.causal.0: Input should"),
    ("name: x\nops: [hyena:fft]\nsearch: {tol: 1.5}\n", "search.tol: Input should be less"),
    ("name: x\nops: [hyena:fft]\nsearch: {lmin: 512, lmax: 256}\n", "lmin 512 must be below"),
    (
        "name: x\nops: [hyena:fft]\nsearch: {pairs: [[hyena:fft, hyena:fft]]}\n",
        "names one operator twice",
    ),
    ("name: x\nops: [hyena:fft]\nsearch: {where: {colour: 2}}\n", "unknown parameters"),
    ("name: x\nops: [hyena:fft]\ntokens_per_batch: 4096\nsearch: {}\n", "fixed batch"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_spec_is_rejected_and_nothing_is_written(write_spec, tmp_path, text, message):
    path = write_spec(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    db = tmp_path / "results.db"
    result = CliRunner().invoke(main, ["sweep", str(path), "--db", str(db)])
    assert result.exit_code == 2 and message in result.output
    assert not db.exists()


def test_every_problem_is_listed(write_spec):
    path = write_spec("name: x\nops: [hyena:nope]\nmodes: [train]\nbogus: 1\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert len(caught.value.problems) == 3


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_shipped_specs_are_valid():
    from pathlib import Path

    specs = sorted((Path(__file__).parents[2] / "sweeps").glob("*.yaml"))
    assert {p.stem for p in specs} >= {"quick", "paper_fig4_3", "flashfftconv", "orders", "depth"}
    for path in specs:
        load_spec(path)


def test_good_spec_loads(write_spec):
    spec, text = load_spec(write_spec(GOOD))
    assert spec.name == "ok" and "hyena:fft" in text


SEARCHED = """
name: s
ops: [hyena:fft, hyena:blocked, attention:naive, longconv:fft]
modes: [fwd, fwd_bwd]
axes: {seq_len: [256, 1024], d_model: [32, 64], heads: [2], order: [2, 3]}
search: {where: {order: 2, d_model: 64}, tol: 0.05, budget_s: 30}
"""


def test_a_search_block_asks_for_every_hyena_attention_pair_at_each_swept_setting(write_spec):
    """Each Hyena (or long convolution) × attention pair, in each mode, at each combination
    of the other axes that ``where`` keeps: here 3 pairs × 2 modes at order 2, D=64."""
    spec, _ = load_spec(write_spec(SEARCHED))
    searches = spec.searches()
    pairs = {(s.a, s.b) for s in searches}
    assert pairs == {("hyena:fft", "attention:naive"), ("hyena:blocked", "attention:naive"),
                     ("longconv:fft", "attention:naive")}  # fmt: skip
    assert len(searches) == 6 and {s.mode for s in searches} == {"fwd", "fwd_bwd"}
    assert all(s.point.get("order", 2) == 2 and s.point["d_model"] == 64 for s in searches)
    assert all(s.tol == 0.05 and s.budget_s == 30 and s.lmax is None for s in searches)
    longconv = next(s for s in searches if s.a == "longconv:fft")
    assert "order" not in longconv.point  # applies to neither operator: not a setting
    assert load_spec(write_spec(GOOD))[0].searches() == []
