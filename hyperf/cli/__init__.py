"""The ``hyperf`` command line: the top-level group, whose commands load when named.

One module per command group (``COMMANDS``); each imports what it runs only when it runs, so
`hyperf --help`, `hyperf runs` or `hyperf bench` import no torch.
"""

from __future__ import annotations

import click

from hyperf import __version__
from hyperf.cli.common import LazyGroup

COMMANDS = {
    "bench": "hyperf.bench.cli.bench",
    "calibrate": "hyperf.cli.env.calibrate_command",
    "claims": "hyperf.cli.claims.claims_command",
    "crossover": "hyperf.cli.crossover.crossover_command",
    "env": "hyperf.cli.env.env_command",
    "export": "hyperf.cli.runs.export_command",
    "kernels": "hyperf.cli.kernels.kernels_command",
    "list": "hyperf.cli.env.list_backends",
    "predict": "hyperf.cli.predict.predict_command",
    "profile": "hyperf.cli.profile.profile_command",
    "report": "hyperf.cli.report.report_command",
    "runs": "hyperf.cli.runs.runs_command",
    "sweep": "hyperf.cli.sweep.sweep_command",
}
# The bench group imports pandas and scipy (its history and statistics) at its top: listed
# with its docstring's first line, so `hyperf --help` need not import it.
LISTED_HELP = {
    "bench": "pytest-benchmark results: the regression gate, and their history across commits.",
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    listed_help=LISTED_HELP,
    epilog="Run `hyperf COMMAND --help` for a command's options and an example; README.md "
    "has every command with its outputs.",
)
@click.version_option(__version__, prog_name="hyperf")
def main() -> None:
    """hyperf: where does Hyena beat attention, by how much, at what memory cost?

    A first session, on any machine (CPU is fine):

    \b
      hyperf list                                  # operators, and which run here
      hyperf calibrate --if-missing                # this device's ceilings, once
      hyperf sweep sweeps/quick.yaml --dry-run     # the plan and its predicted time
      hyperf sweep sweeps/quick.yaml               # measure into reports/hyperf.db
      hyperf report -o reports/quick.html          # HTML report, .md and CSVs beside it

    Bad input ends a command with `error: …` and exit status 2.
    """
