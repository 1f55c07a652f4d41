"""The package's structure, read from its source with ``ast``: no import cycles, imports point
down the layers, hyperf imports inside functions only where a reason allows one, no module
imports another's ``_private`` name, and SQL only in ``hyperf/store/``.

Each known exception is listed with its reason; the lists only shrink. A new violation fails
here and names the module and the import.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hyperf"

# The layers, lowest first: a module imports only from its own layer or those below. Data
# flows spec → plan → worker → store → analysis → report → CLI; as imports:
# - base: what every layer uses and that knows no operator: errors, output files, units,
#   the device abstraction, the environment record (and the package's version).
# - operators: the registry, the operators' files, and the point model built on them.
# - measure: measuring one built point (timing, correctness, FLOPs, memory, ceilings,
#   statistics), the profiler (``profile``: one point's trace and breakdown) and the rows a
#   measurement produces (``results``: what a stored point and repeat hold).
# - store: persisting those rows (the only SQL). It sits below the sweep, which writes
#   through it and whose dry run reads it; it needs nothing above ``results``.
# - sweep: spec, plan, runner, worker, executors, driver, dry-run estimate.
# - analysis: pure functions over DataFrames, including the GPU prediction model
#   (``analysis.predict``, ``gpu_model``, ``validation``): published tables and FLOP models in,
#   DataFrames out. It opens no store and plans no sweep.
# - report: the model (every table, computed once from the store through analysis), the
#   sections that lay it out, figures, HTML. Its model reads the store and re-plans stored
#   specs (for incomplete runs), both below it.
# - bench: pytest-benchmark files, gate, history (stored through the store).
# - cli: the command line, over everything.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("hyperf", "hyperf.errors", "hyperf.files", "hyperf.format", "hyperf.device",
              "hyperf.envinfo", "hyperf.data", "hyperf.params", "hyperf.stats")),
    ("operators", ("hyperf.registry", "hyperf.ops", "hyperf.workload")),
    ("measure", ("hyperf.measure", "hyperf.profile", "hyperf.results")),
    ("store", ("hyperf.store",)),
    ("sweep", ("hyperf.sweep",)),
    ("analysis", ("hyperf.analysis",)),
    ("search", ("hyperf.search",)),
    ("report", ("hyperf.report",)),
    ("bench", ("hyperf.bench",)),
    ("cli", ("hyperf.cli",)),
]  # fmt: skip

# Known violations, in files other refactor helpers own (issue 22); each goes when they merge.
# (importer, imported) → what removes it.
KNOWN_IMPORTS: dict[tuple[str, str], str] = {
    ("hyperf.analysis.predict", "hyperf.analysis.crossover"): "a lazy import in "
    "predicted_crossover: move it to the top",
}
KNOWN_PRIVATE: dict[tuple[str, str], str] = {
    ("hyperf.ops.longconv.triton_monarch", "hyperf.ops.longconv.blocked._dft"): "ops/ is the "
    "ops helper's: make it public in blocked.py",
    ("hyperf.ops.longconv.triton_monarch", "hyperf.ops.longconv.blocked._twiddle"): "as _dft",
}

# Where a hyperf import may sit inside a function, and why.
LAZY_ANYWHERE = {  # importers: command modules import what a command runs when it runs
    "hyperf.cli": "lazy command loading: `hyperf --help` imports no torch",
    "hyperf.bench.cli": "the bench command group's lazy command loading",
}
LAZY_EXTRAS = {  # imported modules that need an optional extra (triton)
    "hyperf.ops.longconv.triton_monarch": "needs the triton extra",
    "hyperf.ops.longconv.triton_aot": "needs the triton extra",
}
# The registry imports the operators' files on its first lookup and they register
# themselves (the plugin mechanism): that import is how the registry is filled, not a
# dependency of the registry on them, so it closes no cycle.
REGISTRATION = {("hyperf.registry", "hyperf.ops")}
LAZY_ALLOWED: dict[tuple[str, str], str] = {
    ("hyperf.registry", "hyperf.ops"): "the operators' files, found and imported on the "
    "first lookup (they register themselves)",
    ("hyperf.report.style", "hyperf.registry"): "an operator's fixed colour; the registry "
    "imports torch, which drawing a report needs only when it looks one up",
    ("hyperf.sweep.worker", "hyperf.registry"): "the worker arms its parent-death signal and "
    "claims stdout before the imports that take seconds and may print",
    ("hyperf.sweep.worker", "hyperf.sweep.plan"): "as above",
    ("hyperf.sweep.worker", "hyperf.sweep.runner"): "as above",
    ("hyperf.sweep.runner", "hyperf.profile"): "profile pulls in pandas (~0.6 s): a worker "
    "imports it only for a profiled point",
}

SQL_CALLS = {"execute", "executemany", "executescript", "read_sql", "read_sql_query"}
SQL_TEXT = re.compile(r"\b(SELECT|INSERT|CREATE TABLE|UPDATE \w+ SET|DELETE FROM)\b")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    target: str  # the hyperf module imported
    names: tuple[str, ...]  # the names taken from it (``from target import names``)
    lazy: bool  # inside a function
    line: int


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _under_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports(module: str) -> list[Import]:
    """Every hyperf import of ``module``: at module level or inside functions (not under
    ``if TYPE_CHECKING``)."""
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _under_type_checking(child):
                continue
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(
                    Import(a.name, (), lazy, child.lineno) for a in child.names if a.name in MODULES
                )
            elif isinstance(child, ast.ImportFrom):
                source = _resolve(module, child)
                if source not in MODULES:
                    continue
                for alias in child.names:
                    sub = f"{source}.{alias.name}"
                    if sub in MODULES:
                        found.append(Import(sub, (), lazy, child.lineno))
                    else:
                        found.append(Import(source, (alias.name,), lazy, child.lineno))
            visit(child, inner)

    visit(ast.parse(MODULES[module].read_text()), False)
    return found


IMPORTS = {name: imports(name) for name in MODULES}


def layer(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        # "hyperf" (the package's own __init__) names itself only, not every module below it
        if any(module == p or (p != "hyperf" and module.startswith(p + ".")) for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def edges() -> dict[str, set[str]]:
    """Module → the modules it imports, anywhere in it, known violations left out."""
    return {
        name: {
            i.target
            for i in found
            if (name, i.target) not in KNOWN_IMPORTS and (name, i.target) not in REGISTRATION
        }
        - {name}
        for name, found in IMPORTS.items()
    }


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)


def test_no_import_cycles():
    """A cycle through any import, lazy ones included: a lazy import that closes a cycle
    hides the cycle, it does not remove it."""
    graph = edges()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, cycles


def test_imports_point_down_the_layers():
    upward = [
        f"{src} ({LAYERS[layer(src)][0]}) imports {dst} ({LAYERS[layer(dst)][0]})"
        for src, targets in edges().items()
        for dst in sorted(targets)
        if layer(dst) > layer(src)
    ]
    assert not upward, upward


def _lazy_allowed(importer: str, target: str) -> bool:
    return (
        any(importer == p or importer.startswith(p + ".") for p in LAZY_ANYWHERE)
        or target in LAZY_EXTRAS
        or (importer, target) in LAZY_ALLOWED
        or (importer, target) in KNOWN_IMPORTS
    )


def test_hyperf_imports_inside_functions_only_where_allowed():
    """An import inside a function hides a dependency (and often a cycle): only the CLI's
    lazy command loading, optional extras and the listed start-up costs may do it."""
    lazy = [
        f"{name}:{i.line} imports {i.target} inside a function"
        for name, found in IMPORTS.items()
        for i in found
        if i.lazy and not _lazy_allowed(name, i.target)
    ]
    assert not lazy, lazy


def test_no_module_imports_another_modules_private_names():
    private = {
        (name, f"{i.target}.{n}")
        for name, found in IMPORTS.items()
        for i in found
        for n in i.names
        if n.startswith("_") and not n.startswith("__")
    }
    assert private == set(KNOWN_PRIVATE), sorted(private ^ set(KNOWN_PRIVATE))


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes: prose may name SQL, code may not."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def sql_in(path: Path) -> list[str]:
    """Calls that run SQL and string literals that hold it, with their lines."""
    tree = ast.parse(path.read_text())
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        call = node.func if isinstance(node, ast.Call) else None
        if isinstance(call, ast.Attribute) and call.attr in SQL_CALLS:
            found.append(f"{node.lineno}: .{call.attr}(")
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and id(node) not in prose and SQL_TEXT.search(text):
            found.append(f"{node.lineno}: {text.strip()[:40]!r}")
    return found


def test_sql_only_in_the_store():
    outside = {
        name: sql_in(path)
        for name, path in MODULES.items()
        if not (name == "hyperf.store" or name.startswith("hyperf.store."))
    }
    assert not {name: found for name, found in outside.items() if found}


def test_known_exceptions_still_exist():
    """An exception whose import is gone is removed from its list: the lists only shrink."""
    gone = [
        pair
        for pair in (*KNOWN_IMPORTS, *LAZY_ALLOWED)
        if not any(i.target == pair[1] for i in IMPORTS[pair[0]])
    ]
    assert not gone, gone


def test_the_checks_see_what_they_check():
    """The checks find real imports and SQL (not an empty walk that passes everything)."""
    assert sql_in(MODULES["hyperf.store.readers"])
    targets = {i.target for i in IMPORTS["hyperf.report.model"]}
    assert {"hyperf.store", "hyperf.analysis.crossover"} <= targets
    assert any(i.lazy for i in IMPORTS["hyperf.sweep.worker"])
    assert layer("hyperf.store.readers") < layer("hyperf.sweep.driver")


OPERATOR_NAME = re.compile(
    r"""["'](hyena|attention|longconv):[a-z_0-9-]+["']|endswith\(["']:[a-z]"""
)


def test_no_operator_names_outside_ops():
    """No module outside ``hyperf/ops`` (and the registry) names an operator in its code."""
    naming = {
        name
        for name, path in MODULES.items()
        if not name.startswith(("hyperf.ops", "hyperf.registry"))
        and OPERATOR_NAME.search(_code(path))
    }
    assert naming == NAMES_OPERATORS, sorted(naming)


def _code(path: Path) -> str:
    """The source without docstrings and comments (names in prose are fine)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
            body[0] = ast.Pass()
    return ast.unparse(tree)


# Known: facts still kept outside their operator's file — the predictor's per-operator terms
# and the published tables' mapping to operators (analysis.predict, analysis.validation,
# report.predicted), the dry run's rough rates (sweep.estimate) and the default ops of
# `hyperf predict` (cli.predict). Moving each into its operator's file empties this set.
NAMES_OPERATORS = {
    "hyperf.analysis.predict",
    "hyperf.analysis.validation",
    "hyperf.cli.predict",
    "hyperf.report.predicted",
    "hyperf.sweep.estimate",
}
