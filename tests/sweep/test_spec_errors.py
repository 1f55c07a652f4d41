"""Bad spec input gets one clear line naming the file, the key and what is allowed, and exit
status 2 from the CLI; never a traceback. A huge spec's dry run says so and stays quick."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from hyperf.cli import main
from hyperf.format import format_duration
from hyperf.sweep.dryrun import MAX_ROWS, print_plan
from hyperf.sweep.spec import MAX_SEQ_LEN, SpecError, load_spec

HEAD = "name: x\nops: [hyena:fft]\n"


def rejected(path, message: str) -> None:
    """``load_spec`` raises SpecError with ``message`` and the path; the CLI exits 2 with it."""
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    result = CliRunner().invoke(main, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_non_utf8_spec_names_the_byte_and_where(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + "description: café\n".encode("latin-1"))
    rejected(path, f"not UTF-8 text: byte 0xe9 at offset {len(HEAD) + 16} (line 3)")


def test_missing_spec(tmp_path):
    rejected(tmp_path / "nope.yaml", "cannot read: No such file or directory")


def test_spec_path_that_is_a_directory(tmp_path):
    with pytest.raises(SpecError, match="cannot read: Is a directory"):
        load_spec(tmp_path)
    result = CliRunner().invoke(main, ["sweep", str(tmp_path), "--dry-run"])
    assert result.exit_code == 2 and "is a directory" in result.output


UNKNOWN_KEYS = [
    (
        "budget: {secondz: 1}\n",
        "budget.secondz: unknown key; did you mean 'seconds'? allowed: budget_s (or seconds), "
        "target_rel_ci, min_samples",
    ),
    ("budget: {warmup_call: 1}\n", "did you mean 'warmup_calls'?"),
    ("budget: {warmup_call: 1}\n", "min_warmup_calls (or warmup_calls)"),
    ("opps: [hyena:fft]\n", "opps: unknown key; did you mean 'ops'? allowed: name, description"),
    ("axes: {hedas: [2]}\n", "axes.hedas: unknown key; did you mean 'heads'?"),
    ("axes: {hedas: [2]}\n", "allowed: batch, seq_len, d_model, depth, order, variant, n_heads"),
    (
        "points: [{op: hyena:fft, seqlen: 64}]\n",
        "points.0.seqlen: unknown key; did you mean 'seq_len'?",
    ),
    ("points: [{op: hyena:fft, seqlen: 64}]\n", ", mode, modes"),
    ("axes: {seq_len: {log2: [1, 2], step: 2}}\n", "axes.seq_len.step: unknown key; allowed: log2"),
    (
        "skip: [{op: hyena:fft, seq_len_gte: 8}]\n",
        "skip.0.seq_len_gte: unknown key; did you mean 'seq_len_gt'? allowed: op, seq_len_gt",
    ),
    ("timed_region: {filter_gen: in}\n", "did you mean 'filter_generation'?"),
    ("surprise: 1\n", "surprise: unknown key; allowed: name,"),
]


@pytest.mark.parametrize(("text", "message"), UNKNOWN_KEYS)
def test_unknown_key_lists_the_allowed_keys(write_spec, text, message):
    rejected(write_spec(HEAD + text), message)


def test_unknown_key_without_a_close_match_suggests_nothing(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(HEAD + "surprise: 1\n"))
    assert "did you mean" not in str(caught.value)


OUT_OF_RANGE = [
    (
        "axes: {seq_len: [1099511627776]}\n",
        "axes.seq_len.0: Input should be less than or equal to 16777216 "
        "(got 1099511627776; allowed: 1 ≤ seq_len ≤ 16777216)",
    ),
    (
        "points: [{op: hyena:fft, seq_len: 16777217}]\n",
        "points.0.seq_len: Input should be less than or equal to 16777216 "
        "(got 16777217; allowed: 1 ≤ seq_len ≤ 16777216)",
    ),
    ("axes: {seq_len: {log2: [0, 25]}}\n", "0 ≤ lo ≤ hi ≤ 24; got (0, 25)"),
    ("axes: {batch: [1000000]}\n", "axes.batch.0: Input should be less than or equal to 65536"),
    ("axes: {d_model: [0]}\n", "(got 0; allowed: 1 ≤ d_model ≤ 65536)"),
    ("axes: {heads: [100000]}\n", "axes.heads.0: Input should be less than or equal to 65536"),
    ("axes: {order: [17]}\n", "axes.order.0: Input should be less than or equal to 16 (got 17"),
    ("axes: {depth: [1000]}\n", "(got 1000; allowed: 0 ≤ depth ≤ 256)"),
    ("axes: {filter_order: [8192]}\n", "(got 8192; allowed: 1 ≤ filter_order ≤ 4096)"),
    ("axes: {emb_dim: [1025]}\n", "(got 1025; allowed: 3 ≤ emb_dim ≤ 1023)"),
    (
        "tokens_per_batch: 1099511627776\n",
        "tokens_per_batch: Input should be less than or equal to 1073741824 "
        "(got 1099511627776; allowed: 1 ≤ tokens_per_batch ≤ 1073741824)",
    ),
    (  # the batch tokens_per_batch implies is bounded too
        "tokens_per_batch: 1073741824\naxes: {seq_len: [1, 1024]}\n",
        "axes: batch: Input should be less than or equal to 65536 (got 1073741824; allowed: "
        "1 ≤ batch ≤ 65536) (first at op=hyena:fft, seq_len=1, batch=1073741824 from "
        "tokens_per_batch)",
    ),
    ("budget: {target_rel_ci: 2}\n", "(got 2; allowed: 0 < target_rel_ci < 1)"),
]


@pytest.mark.parametrize(("text", "message"), OUT_OF_RANGE)
def test_out_of_range_value_names_the_key_and_the_range(write_spec, text, message):
    rejected(write_spec(HEAD + text), message)


def test_lists_and_log2_ranges_share_the_longest_sequence(write_spec):
    listed, _ = load_spec(write_spec(HEAD + f"axes: {{seq_len: [{MAX_SEQ_LEN}]}}\n"))
    ranged, _ = load_spec(write_spec(HEAD + "axes: {seq_len: {log2: [24, 24]}}\n"))
    assert listed.axes.seq_lens() == ranged.axes.seq_lens() == [MAX_SEQ_LEN]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.2 s"),
        (42, "42 s"),
        (90, "1.5 min"),
        (3 * 3600, "3.0 h"),
        (36 * 3600, "1.5 days"),
        (400 * 86400, "1.1 years"),
        (15771432774.3 * 60, "29,986 years"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


HUGE = """\
name: huge
device: cpu
ops: [hyena:fft, hyena:blocked, hyena:reference]
dtypes: [float32, float16]
modes: [infer, fwd, bwd, fwd_bwd]
axes:
  seq_len: {log2: [0, 24]}
  batch: [1, 2, 4, 8, 16, 32, 64]
  d_model: [64, 128, 256, 512, 768]
  order: [2, 3, 4, 5]
  depth: [0, 1]
"""


def test_dry_run_of_a_huge_spec_warns_and_shows_the_first_rows(write_spec):
    result = CliRunner().invoke(main, ["sweep", str(write_spec(HUGE)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "warning: this spec plans 168,000 points; measuring them all would take" in result.output
    assert f"the table shows the first {MAX_ROWS} of 168,000 points" in result.output
    assert sum("│ hyena:" in line for line in result.output.splitlines()) == MAX_ROWS
    assert re.search(r"168,000 points; predicted sweep time about [\d,]+ years\n", result.output)


def test_dry_run_totals_cover_every_point_however_few_rows_are_shown(write_spec, capsys):
    spec, _ = load_spec(write_spec(HEAD + "modes: [fwd, bwd]\naxes: {seq_len: [64, 128, 256]}\n"))
    print_plan(spec, "cpu")
    whole = capsys.readouterr()
    print_plan(spec, "cpu", max_rows=2)
    cut = capsys.readouterr()
    total = whole.out.splitlines()[-1]
    assert total.startswith("6 points; predicted sweep time about")
    assert cut.out.endswith(total + "\n")
    assert sum("│ hyena:fft" in line for line in cut.out.splitlines()) == 2
    assert "the table shows the first 2 of 6 points (the totals cover all)" in cut.err
    assert "warning" not in whole.err


def test_a_bad_log2_range_is_not_also_called_a_bad_list(write_spec):
    """``seq_len`` is a list or a log2 range: a wrong range is reported as such, without the
    list alternative's 'should be a valid list' beside it."""
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(HEAD + "axes: {seq_len: {log2: [3, 40]}}\n"))
    assert caught.value.problems == [
        "axes.seq_len.log2: log2 range must be [lo, hi] with 0 ≤ lo ≤ hi ≤ 24; got (3, 40)"
    ]
