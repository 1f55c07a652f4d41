"""One self-contained HTML report (figures and CSS inline), plus Markdown and CSV beside it:
the model (``model.build``) computed first, then laid out as sections (``sections.py``),
then rendered here."""

from __future__ import annotations

from pathlib import Path

import jinja2

from hyperf.files import OutputError, check_outputs, text, write_all
from hyperf.format import markdown_table
from hyperf.report.blocks import Section
from hyperf.report.headline import claims_cells, headline_cells
from hyperf.report.model import Report, build
from hyperf.report.sections import sections

TEMPLATES = Path(__file__).parent / "templates"


def template() -> jinja2.Template:
    """The report's template: every value escaped unless it is Markup, and a key it uses that
    the context lacks is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def render(
    report: Report, title: str, base: Path | None = None, csv_stem: str | None = None
) -> str:
    """The report as HTML; links to profile traces are relative to ``base`` (the report's
    folder) when given, and each table links to its CSV ``{csv_stem}-{name}.csv`` when given."""
    return page(report, title, sections(report, base), csv_stem)


def page(report: Report, title: str, built: list[Section], csv_stem: str | None) -> str:
    """The HTML of already built sections, under the incomplete-run banner and the counts."""
    return template().render(
        title=title,
        warnings=report.warnings,
        n_points=len(report.points),
        n_ranked=len(report.ranked),
        sections=built,
        csv_stem=csv_stem,
    )


def write_report(db: str | Path, run_ids: list[int] | None, output: str | Path) -> Report:
    """Write NAME.html, NAME.md and NAME-{table}.csv for every table of every section; return
    the report's data. Every path is checked before anything is written (none may be the store
    or another SQLite file), and the files replace the old ones only once all are written."""
    check_outputs([Path(output)], db)  # before deriving the others' names from it
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise OutputError(
            f"{output}: the report is HTML; give -o a NAME.html (NAME.md and NAME-*.csv are "
            "written beside it)"
        )
    stem = output.with_suffix("")
    markdown = Path(f"{stem}.md")
    check_outputs([output, markdown], db)
    report = build(db, run_ids)
    built = sections(report, output.resolve().parent)
    tables = [table for section in built for table in section.tables]
    csv_paths = {table.name: Path(f"{stem}-{table.name}.csv") for table in tables}
    check_outputs([output, markdown, *csv_paths.values()], db)
    runs = ", ".join(
        f"{n} (run {i})" for i, n in zip(report.runs["id"], report.runs["name"], strict=True)
    )
    runs = runs or "benchmark history"
    summary = [
        f"# hyperf report — {runs}",
        "",
        *[f"> **Warning:** {line}\n" for line in report.warnings],
        markdown_table(headline_cells(report.headline_table)),
        "",
        *[f"- {line}" for line in report.headline],
        "",
        "## The paper's claims",
        "",
        markdown_table(claims_cells(report.claims)),
        "",
        f"{len(report.points)} points, {len(report.not_ranked)} not ranked. Every table of "
        f"{output.name} is beside it as CSV: "
        + ", ".join(path.name for path in csv_paths.values())
        + ".",
    ]
    write_all(
        {
            output: text(page(report, f"hyperf report — {runs}", built, stem.name)),
            markdown: text("\n".join(summary) + "\n"),
            **{
                csv_paths[table.name]: (lambda path, f=table.frame: f.to_csv(path, index=False))
                for table in tables
            },
        }
    )
    return report
