"""How much slower a benchmark may get before the gate calls it a regression: relative
thresholds by group, and the test's significance level, from a TOML or YAML file, a
pyproject.toml's ``[tool.hyperf.bench]`` table, or the command line."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperf.bench.files import BenchInputError, Benchmark, dict_or_empty, short_repr
from hyperf.files import check_regular

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport, if installed
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

DEFAULT_THRESHOLD = 0.10
DEFAULT_ALPHA = 0.01

Threshold = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Alpha = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]

ALLOWED = {
    "default": "a relative threshold: a number ≥ 0 (0.05 means 5 % slower)",
    "groups": "a table of pattern = relative threshold (a number ≥ 0)",
    "alpha": "a significance level: a number between 0 and 1, e.g. 0.01",
}


class Thresholds(BaseModel):
    """How much slower a benchmark may get (a fraction), by group, and the test's level.

    ``groups`` maps fnmatch patterns to thresholds; a benchmark takes the first pattern, in
    the file's order, that matches its pytest-benchmark group, its name or its fullname, and
    ``default`` when none does."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    default: Threshold = DEFAULT_THRESHOLD
    alpha: Alpha = DEFAULT_ALPHA
    groups: dict[str, Threshold] = {}


@dataclass(frozen=True)
class ThresholdSettings:
    thresholds: Thresholds
    source: str  # where they came from, for the report


def threshold_for(benchmark: Benchmark, thresholds: Thresholds) -> tuple[float, str | None]:
    """(threshold, the pattern that chose it or None for the default)."""
    names = [n for n in (benchmark.group, benchmark.name, benchmark.fullname) if n is not None]
    for pattern, threshold in thresholds.groups.items():
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return threshold, pattern
    return thresholds.default, None


def load_thresholds(
    path: str | Path | None,
    search_dir: str | Path = ".",
    alpha: float | None = None,
    default: float | None = None,
) -> ThresholdSettings:
    """Thresholds from ``path`` (TOML, or YAML by its .yaml/.yml suffix; a pyproject.toml's
    ``[tool.hyperf.bench]`` table when it has one) or, without a path, from
    ``[tool.hyperf.bench]`` in ``search_dir``/pyproject.toml, else the built-in defaults.
    ``alpha`` and ``default`` (the command line's --alpha and --threshold) override them."""
    if path is not None:
        path = Path(path)
        data, source = _table(_read_config(path), path), str(path)
    else:
        data, source = _pyproject_table(Path(search_dir) / "pyproject.toml")
    thresholds = _validate(data, source)
    for option, key, value in (("--alpha", "alpha", alpha), ("--threshold", "default", default)):
        if value is not None:
            thresholds = _validate({**thresholds.model_dump(), key: value}, option, bare=True)
            source += f", {option} {value:g}"
    return ThresholdSettings(thresholds, source)


def _pyproject_table(pyproject: Path) -> tuple[Any, str]:
    """(``[tool.hyperf.bench]`` of a pyproject.toml, where it came from), or the defaults."""
    if pyproject.is_file():
        tool = dict_or_empty(_read_config(pyproject, optional=True).get("tool"))
        hyperf = dict_or_empty(tool.get("hyperf"))
        if "bench" in hyperf:
            return hyperf["bench"], f"{pyproject} [tool.hyperf.bench]"
    return {}, "built-in defaults"


def _read_config(path: Path, optional: bool = False) -> dict[str, Any]:
    """The mapping in a TOML or YAML file. ``optional``: a pyproject.toml read only to look
    for our table; without a TOML reader it is skipped unless it mentions tool.hyperf."""
    check_regular(path, "--thresholds")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BenchInputError(f"{path}: cannot read it ({error})") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise BenchInputError(f"{path}: not valid YAML ({error})") from None
    else:
        if tomllib is None:
            if optional and "tool.hyperf" not in text:
                return {}
            raise BenchInputError(
                f"{path}: reading TOML needs Python ≥ 3.11 or the tomli package "
                "(pip install tomli); or give --thresholds FILE.yaml"
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise BenchInputError(f"{path}: not valid TOML ({error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BenchInputError(f"{path}: must be a table of keys: default, alpha, groups")
    return data


def _table(data: dict[str, Any], path: Path) -> Any:
    """The thresholds inside a file given with --thresholds: the file itself, or its
    ``[tool.hyperf.bench]`` table when it is a pyproject.toml."""
    if "tool" not in data:
        return data
    try:
        return data["tool"]["hyperf"]["bench"]
    except (KeyError, TypeError):
        raise BenchInputError(f"{path}: has a [tool] table but no [tool.hyperf.bench]") from None


def _validate(data: Any, where: str, bare: bool = False) -> Thresholds:
    """Thresholds from ``data``, or a BenchInputError naming ``where``, each bad key and what it
    allows. ``bare``: ``where`` is itself the key (a command-line option)."""
    if not isinstance(data, dict):
        raise BenchInputError(f"{where}: must be a table of keys: {', '.join(ALLOWED)}")
    try:
        return Thresholds.model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            key = ".".join(str(part) for part in e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key; allowed: {', '.join(ALLOWED)}")
                continue
            top = str(e["loc"][0]) if e["loc"] else ""
            allowed = ALLOWED["default"] if len(e["loc"]) > 1 else ALLOWED.get(top, e["msg"])
            named = "" if bare else f"{key}: "
            problems.append(f"{named}must be {allowed}; got {short_repr(e['input'])}")
        raise BenchInputError(f"{where}: " + "; ".join(problems)) from None
