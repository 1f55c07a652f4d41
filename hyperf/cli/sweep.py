"""``hyperf sweep``: measure a sweep spec into the store (or, with --dry-run, plan it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hyperf.cli.claims import print_claims
from hyperf.cli.common import MAX_RUN_ID
from hyperf.cli.report import print_headline
from hyperf.errors import clear_errors, fail


@click.command("sweep", short_help="Measure every point of a sweep spec into the store.")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option(
    "--db",
    default="reports/hyperf.db",
    show_default=True,
    help="SQLite store (created if missing).",
)
@click.option(
    "--device",
    default=None,
    help="auto, cpu, cuda or cuda:N [default: the spec's `device:`].",
)
@click.option(
    "--resume",
    "resume",
    metavar="[RUN]",
    default=None,
    is_flag=False,
    flag_value="latest",
    help="Continue run RUN (or, with no value, the latest run of this spec on this device).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume: measure the run's timeout and crashed points again.",
)
@click.option(
    "--profile",
    "profile_all",
    is_flag=True,
    help="Also profile each point's first repeat (after timing it): trace and breakdown.",
)
@click.option(
    "--profile-filter",
    default=None,
    help="Profile only matching points, e.g. 'op=hyena:fft,seq_len>=4096' (implies --profile).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the whole plan with predicted times, memory and wall time; run nothing.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: one worker process at a time on this machine; ray: each point a Ray task "
    "(needs the ray extra).",
)
@click.option(
    "--ray-address",
    metavar="HOST:PORT",
    default=None,
    help="With --executor ray: the cluster to join (HOST:6379, or auto) [default: start a "
    "Ray instance on this machine for the sweep].",
)
@click.option(
    "--quiet", is_flag=True, help="Log lines instead of a progress bar, and no headline table."
)
@clear_errors
def sweep_command(
    spec_path: str,
    db: str,
    device: str | None,
    resume: str | None,
    retry_failed: bool,
    profile_all: bool,
    profile_filter: str | None,
    dry_run: bool,
    executor: str,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Run the sweep described by SPEC (a YAML file, see sweeps/) and store every point in
    --db, one SQLite transaction per finished repeat; then print the headline table. An
    interrupted sweep (Ctrl-C, SIGTERM, a crash) continues with --resume. With --profile or
    --profile-filter, a store NAME.db gets the traces in NAME-profiles/run-N/ beside it.

    \b
    Examples:
      hyperf sweep sweeps/quick.yaml --dry-run
      hyperf sweep sweeps/quick.yaml --db reports/hyperf.db
      hyperf sweep sweeps/quick.yaml --resume
      hyperf sweep sweeps/gpu_smoke.yaml --device cuda --profile-filter 'seq_len=4096'
      hyperf sweep sweeps/quick.yaml --executor ray --ray-address auto
    """
    from hyperf import registry
    from hyperf.sweep.driver import SweepInterrupted, run_sweep
    from hyperf.sweep.plan import point_filter
    from hyperf.sweep.spec import load_spec

    if retry_failed and resume is None:
        fail("--retry-failed measures a resumed run's timeout/crashed points again; add --resume")
    digits = resume is not None and resume.isascii() and resume.isdigit()
    if resume not in (None, "latest") and not (digits and 1 <= int(resume) <= MAX_RUN_ID):
        fail(
            f"--resume takes a run id from 1 to {MAX_RUN_ID} (see `hyperf runs --db {db}`) or "
            f"no value; got {resume!r}"
        )
    if str(db).strip() and Path(db).resolve() == Path(spec_path).resolve():
        fail(f"--db {db} is the spec {spec_path}; refusing to write the store over it")
    if ray_address is not None and executor != "ray":
        fail("--ray-address goes with --executor ray")
    if profile_filter is not None:
        point_filter(profile_filter)  # a bad filter is refused before anything runs
    if executor == "ray" and not dry_run:
        try:
            import ray  # noqa: F401
        except ImportError:
            fail("--executor ray needs ray: pip install -e '.[ray]' (on every node)")
    registry.names()  # a broken HYPERF_PLUGINS module is reported as such, not as a spec error
    spec, text = load_spec(spec_path)
    if dry_run:
        from hyperf.device import resolve_device
        from hyperf.sweep.driver import stored_points
        from hyperf.sweep.dryrun import print_plan

        profile = profile_filter if profile_filter is not None else ("" if profile_all else None)
        target = str(resolve_device(device or spec.device))
        again = True if resume == "latest" else resume
        run_id, stored, note = stored_points(db, spec, text, target, again)
        if note:
            click.echo(f"note: {note}")
        elif run_id is not None:
            click.echo(f"resuming run {run_id}: its stored points are not measured again")
        print_plan(spec, device, db=db, profile=profile, stored=stored)
        searches = spec.searches()
        if searches:
            each = f"up to {spec.search.budget_s:g} s each" if spec.search.budget_s else "no budget"
            click.echo(f"then {len(searches)} crossover searches (search:), {each}")
        return
    try:
        summary = run_sweep(
            spec,
            text,
            db,
            device=device,
            executor=executor,
            ray_address=ray_address,
            resume=True if resume == "latest" else resume,
            retry_failed=retry_failed,
            profile=profile_filter if profile_filter is not None else ("" if profile_all else None),
            quiet=quiet,
        )
    except ConnectionError as error:
        if executor != "ray":
            raise
        fail(
            f"--executor ray: {error}. Is the cluster up (`ray status`)? If its token "
            "authentication is on, set RAY_AUTH_MODE=token here too"
        )
    except SweepInterrupted as stop:
        where = (
            f"run {stop.run_id} is marked interrupted; continue it with "
            f"`hyperf sweep {spec_path} --db {db} --resume {stop.run_id}`"
            if stop.run_id
            else ""
        )
        click.echo(f"\nstopped by {stop}; every finished repeat is stored. {where}", err=True)
        sys.exit(128 + stop.signum)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    click.echo(
        f"run {summary.run_id}: {summary.planned} points planned, "
        f"{summary.already_done} already stored, measured now: {counts or 'none'} "
        f"in {summary.wall_s:.0f} s"
    )
    click.echo(
        f"results in {db} (hyperf runs --db {db}; hyperf export {summary.run_id} --db {db}; "
        f"hyperf report {summary.run_id} --db {db})"
    )
    searched = _searches(spec, spec_path, db, device, resume is not None, quiet)
    if not quiet:
        from hyperf.report.html import build

        report = build(db, [summary.run_id, *searched])
        print_headline(report.headline_table, [], report.warnings)
        print_claims(report.claims, measured_only=True)


def _searches(spec, spec_path: str, db: str, device: str | None, resume: bool, quiet: bool):
    """Run the spec's ``search:`` (each a search run of its own; with ``--resume``, a
    matching stored search continues instead of starting again); return their run ids."""
    from hyperf.search import run_search, search_hash
    from hyperf.store import Store
    from hyperf.sweep.driver import SweepInterrupted

    run_ids = []
    for search in spec.searches():
        if device:
            search = search.model_copy(update={"device": device})
        earlier = None
        if resume:
            from hyperf.device import resolve_device

            target = str(resolve_device(search.device))
            with Store(db) as store:
                earlier = store.latest_run([search_hash(search)], target)
        try:
            result = run_search(search, db, resume=earlier, quiet=True)
        except SweepInterrupted as stop:
            click.echo(
                f"\nstopped by {stop} during a search; `hyperf sweep {spec_path} --db {db} "
                "--resume` continues the sweep's searches",
                err=True,
            )
            sys.exit(128 + stop.signum)
        run_ids.append(result.run_id)
        if not quiet:
            from hyperf.cli.crossover import summary

            click.echo(summary(result.as_dict()))
    return run_ids
