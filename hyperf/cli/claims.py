"""``hyperf claims``: the Hyena paper's runtime claims, tested on stored runs."""

from __future__ import annotations

import json

import click

from hyperf.cli.common import RUN_ID, db_option, print_cells
from hyperf.errors import clear_errors


@click.command("claims", short_help="The paper's runtime claims, tested on stored runs.")
@click.argument("run_ids", metavar="[RUN]...", type=RUN_ID, nargs=-1)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the claims table as JSON.")
@clear_errors
def claims_command(run_ids: tuple[int, ...], db: str, as_json: bool) -> None:
    """Test the Hyena paper's runtime claims (2× as fast as highly optimized attention at
    8K, 100× at 64K, a crossover with FlashAttention between 4K and 8K) on RUNs [default:
    every run in the store]: per execution mode and pass, what the paper says, what its
    Figure 4.3 shows, what was measured with its 95 % interval, where the setting differs,
    and the verdict. A claim no run measured says which spec to sweep; the model's
    prediction beside it is never a verdict.

    \b
    Examples:
      hyperf claims --db reports/hyperf.db
      hyperf sweep sweeps/paper_claims.yaml --db claims.db && hyperf claims --db claims.db
    """
    from hyperf.report.model import build

    report = build(db, list(run_ids) or None)
    if as_json:
        records = report.claims.astype(object).where(report.claims.notna(), None)
        click.echo(json.dumps(records.to_dict("records"), indent=1, default=str))
        return
    print_claims(report.claims)


def print_claims(table, measured_only: bool = False) -> None:
    """The claims table as the report shows it; ``measured_only``: the claims some point
    measured (what a sweep prints after its headline)."""
    from hyperf.report.headline import claims_cells

    if measured_only:
        table = table[table["hyena"].notna()]
    print_cells(claims_cells(table), "The paper's claims (measured; 95 % intervals)", 160)
