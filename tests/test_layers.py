"""The import rules of DESIGN section 8, read from the source files' syntax trees.

Every ``import`` counts, including those inside functions (they make cycles too):

* the folders are the layers (issue 27): each subpackage imports only from its own layer and those
  below it, in the order of :data:`LAYERS` (the base modules at the top of the package, then
  ``stats`` and ``network``, ``measures``, ``results``, ``engine``, ``rare``, ``train``,
  ``experiments``, ``bench``, ``cli``), and there are at least five subpackages;
* nothing imports the command line (``countnets.cli``);
* nothing in ``stats/`` imports JAX, nor does anything it imports;
* the package root and the console script's entry point import nothing heavy (they are lazy);
* ``defaults`` imports no other module but ``_errors``, and the command line's modules import nothing heavy at
  their top level (their runs import the library inside functions), so every ``--help`` is fast;
* each experiment is one package under ``experiments/``, and none imports another;
* measures import no engine (no sources, steps, accumulators, driver or front-ends): the layers say so;
* the package-level import graph has no cycles;
* no module is over 600 lines, and no function has over 80 lines besides its docstring unless
  :data:`LONG_FUNCTIONS` states why;
* a run's `CountResult` is built by `countnets.results.count_result` only.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "countnets"
# The layers, lowest first; a module may import from its own layer and any layer below. "base" is the
# modules at the top of the package (errors, I/O, signals, defaults, records, the experiments' registry).
LAYERS = (("base",), ("stats", "network"), ("measures",), ("results",), ("engine",), ("rare",), ("train",),
          ("experiments",), ("bench",), ("cli",))  # fmt: skip
ENTRY_POINTS = {"countnets", "countnets.__main__", "countnets._entry"}  # lazy re-exports and the console script
MAX_LINES = 600
MAX_FUNCTION_LINES = 80  # a function's lines, its docstring not counted (a front end's contract may be long)
# Functions allowed past MAX_FUNCTION_LINES, each with the reason it reads best as one piece.
LONG_FUNCTIONS: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every countnets module named by an import anywhere in the file (absolute names)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("countnets"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("countnets"):
                continue
            for alias in node.names:
                # `from countnets import estimators` imports that module; `from countnets import
                # __version__` depends on the package's __init__ (which imports everything).
                candidate = f"{module}.{alias.name}"
                out.add(candidate if _exists(candidate) else module)
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (PACKAGE.parent / rel / "__init__.py").exists()


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {m for m in _imports(path) if m != name} for name, path in MODULES.items()}


def _short(name: str) -> str:
    return name.removeprefix("countnets.")


def test_nothing_imports_the_cli():
    # ``python -m countnets`` (``__main__``) and the console script (``_entry``) are the command line's entry points.
    entry_points = ("countnets.cli", "countnets.__main__", "countnets._entry")
    offenders = {m: sorted(i) for m, i in GRAPH.items() if not m.startswith(entry_points)
                 and any(x == "countnets.cli" or x.startswith("countnets.cli.") for x in i)}  # fmt: skip
    assert not offenders, offenders


def _jax_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) if not n.level}
    return {n for n in names if n == "jax" or n.startswith(("jax.", "jaxtyping"))}


def _reachable(module: str) -> set[str]:
    seen, stack = set(), [module]
    while stack:
        for dep in GRAPH[stack.pop()]:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("countnets.stats.")))
def test_statistics_imports_no_jax(module):
    # Neither the module nor anything it reaches, counting imports inside functions.
    offenders = {m: sorted(_jax_imports(MODULES[m])) for m in {module} | _reachable(module) if _jax_imports(MODULES[m])}
    assert not offenders, offenders


def _experiment(module: str) -> str | None:
    """The experiment package a module belongs to (``countnets.experiments.<name>...``), or None."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "experiments" else None


def test_each_experiment_is_one_package_and_none_imports_another():
    folder = PACKAGE / "experiments"
    assert not [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]  # no loose modules
    offenders = {m: sorted(d for d in GRAPH[m] if _experiment(d) not in (None, _experiment(m)))
                 for m in MODULES if _experiment(m)}  # fmt: skip
    assert not {m: d for m, d in offenders.items() if d}, offenders


def folder(module: str) -> str:
    """A module's folder under the package ("base" for a module at the top of the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else "base"


def _layer(module: str) -> int:
    """The index in :data:`LAYERS` of a module's folder."""
    return next(i for i, layer in enumerate(LAYERS) if folder(module) in layer)


def test_the_folders_are_the_layers():
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert len(subpackages) >= 5, subpackages
    assert {name for layer in LAYERS for name in layer} - {"base"} == set(subpackages)
    offenders = {m: sorted(_short(d) for d in deps if _layer(d) > _layer(m))
                 for m, deps in GRAPH.items() if m not in ENTRY_POINTS}  # fmt: skip
    assert not {m: d for m, d in offenders.items() if d}, {m: d for m, d in offenders.items() if d}


def test_measures_import_no_engine():
    seen = {"countnets.measures"} | _reachable("countnets.measures")  # the package and what it reaches
    assert not {m for m in seen if _layer(m) >= _layer("countnets.engine")}, sorted(seen)


def test_import_graph_has_no_cycles():
    # An edge into a package is an edge into its __init__, which imports (re-exports) the
    # package's modules: a module that imports a name from the package root closes a cycle.
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for dep in sorted(GRAPH.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep) :] + [dep] if dep in path else path + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, [" -> ".join(_short(m) for m in c) for c in cycles]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def _function_lengths(path: Path) -> dict[str, int]:
    """``{qualified name: lines without the docstring}`` for every function in a module."""
    out = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lines = child.end_lineno - child.lineno + 1
                    first = child.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                        first.value.value, str
                    ):
                        lines -= first.end_lineno - first.lineno + 1
                    out[name] = lines
                visit(child, name + ".")

    visit(ast.parse(path.read_text()), "")
    return out


@pytest.mark.parametrize("module", sorted(MODULES))
def test_functions_stay_short(module):
    long = {f"{module}.{name}": n for name, n in _function_lengths(MODULES[module]).items()
            if n > MAX_FUNCTION_LINES and f"{module}.{name}" not in LONG_FUNCTIONS}  # fmt: skip
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (docstring not counted) with no stated reason: {long}"


def test_every_stated_long_function_exists_and_is_long():
    lengths = {f"{module}.{name}": n for module, path in MODULES.items()
               for name, n in _function_lengths(path).items()}  # fmt: skip
    stale = {name: lengths.get(name) for name in LONG_FUNCTIONS if lengths.get(name, 0) <= MAX_FUNCTION_LINES}
    assert not stale, f"LONG_FUNCTIONS names functions that are gone or short now: {stale}"


def test_the_package_ships_its_type_annotations():
    # PEP 561: without py.typed a user's type checker ignores countnets' annotations (issue 27).
    import importlib.resources

    assert importlib.resources.files("countnets").joinpath("py.typed").is_file()
    assert 'countnets = ["py.typed"]' in (PACKAGE.parent / "pyproject.toml").read_text()


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at a module's top level (not inside functions or ``if TYPE_CHECKING:``)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_defaults_imports_nothing_heavy():
    allowed = {"__future__.annotations", "math", "collections.abc.Sequence", "types.MappingProxyType",
               "countnets._errors.CountnetsError", "countnets._errors.check_finite_float"}  # fmt: skip
    assert _top_level_imports(MODULES["countnets.defaults"]) <= allowed
    assert GRAPH["countnets.defaults"] == {"countnets._errors"}  # inside functions too


# What the command line's modules may load when the parser is built: the standard library, the command
# line itself, and these (the experiments' registry, not the experiments).
_LIGHT = {"countnets._errors", "countnets._io", "countnets._signals", "countnets._version", "countnets.defaults",
          "countnets.engine", "countnets.engine.checkpoint", "countnets._registry"}  # fmt: skip


def _light(name: str) -> bool:
    """``name`` (a module, or ``module.attribute``) is the command line or one of :data:`_LIGHT`."""
    module = name if _exists(name) else name.rsplit(".", 1)[0]
    return module.startswith("countnets.cli") or module in _LIGHT


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m == "countnets.cli" or m.startswith("countnets.cli.")))
def test_the_command_line_loads_the_library_lazily(module):
    heavy = {name for name in _top_level_imports(MODULES[module])
             if name.split(".")[0] in ("jax", "jaxtyping", "numpy", "scipy", "optax", "pandas", "matplotlib")
             or (name.startswith("countnets") and not _light(name))}  # fmt: skip
    assert not heavy, f"{module} imports {sorted(heavy)} at its top level"


def test_count_result_is_the_only_constructor_of_a_count_result():
    # Every run's result gets its device and versions in one place (countnets.results.count_result);
    # results/__init__.py also rebuilds saved results in from_json.
    def constructs(node: ast.AST) -> bool:
        name = getattr(node, "func", None)
        return isinstance(node, ast.Call) and getattr(name, "id", getattr(name, "attr", None)) == "CountResult"

    calls = {name for name, path in MODULES.items() if name != "countnets.results"
             for node in ast.walk(ast.parse(path.read_text())) if constructs(node)}  # fmt: skip
    assert not calls, sorted(calls)
