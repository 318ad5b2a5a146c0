"""The figure of docs/architecture.md: countnets' folders as layers, drawn from the import graph.

Run from the repository root::

    python scripts/architecture_figure.py        # writes docs/architecture.png

Every ``import`` of a countnets module in a source file counts (inside functions too), as
in tests/test_layers.py. Each folder is a box on the row of its layer (lowest at the
bottom), labelled with its modules; an arrow from folder A to folder B means some module
in A imports one in B, labelled with how many module-to-module imports there are (imports of
the base modules at the top of the package, which every folder uses, are left out). Nothing
is drawn by hand: a new module or import changes the figure when the script is rerun.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "countnets"
OUT = ROOT / "docs" / "architecture.png"
# The layers, lowest first (as tests/test_layers.py states them).
LAYERS = (("base",), ("stats", "network"), ("measures",), ("results",), ("engine",), ("rare",), ("train",),
          ("experiments",), ("bench",), ("cli",))  # fmt: skip
ENTRY_POINTS = {"countnets", "countnets.__main__", "countnets._entry"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else "base"


def exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """The countnets modules a file imports, anywhere in it."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("countnets"))
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("countnets"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                out.add(candidate if exists(candidate) else node.module)
    return out


def folder_graph() -> tuple[dict[str, list[str]], Counter]:
    """Modules per folder, and module-to-module import counts between different folders."""
    modules: dict[str, list[str]] = {}
    edges: Counter = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name in ENTRY_POINTS:
            continue
        short = name.rsplit(".", 1)[-1]
        if path.name == "__init__.py" and folder(name) != "base":
            short = f"{short} (package)"  # the subpackage's own __init__
        modules.setdefault(folder(name), []).append(short)
        for dep in imports(path):
            if dep not in ENTRY_POINTS and folder(dep) not in (folder(name), "base"):  # everything uses base
                edges[(folder(name), folder(dep))] += 1
    return modules, edges


def draw(out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modules, edges = folder_graph()
    where = {}
    for row, layer in enumerate(LAYERS):
        for col, name in enumerate(layer):
            zigzag = 0.0 if len(layer) > 1 else (-0.12 if row % 2 else 0.12)  # arrows between far layers stay apart
            where[name] = ((col + 0.5) / len(layer) + zigzag, row)
    fig, ax = plt.subplots(figsize=(11, 13))
    for (a, b), count in sorted(edges.items()):
        (xa, ya), (xb, yb) = where[a], where[b]
        ax.annotate("", xy=(xb, yb + 0.28), xytext=(xa, ya - 0.28),
                    arrowprops={"arrowstyle": "->", "color": "0.6", "lw": 0.6 + 0.15 * count,
                                "connectionstyle": "arc3,rad=0.15"})  # fmt: skip
        ax.text((xa + xb) / 2 + 0.01, (ya + yb) / 2, str(count), fontsize=7, color="0.4")
    for name, (x, y) in where.items():
        names = sorted(modules.get(name, []))
        lines = [", ".join(names[i : i + 4]) for i in range(0, len(names), 4)]
        label = f"{name}/" if name != "base" else "countnets/*.py"
        ax.text(x, y, label + "\n" + "\n".join(lines), ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": "#eef3fb", "ec": "#4a6fa5"})  # fmt: skip
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.6, len(LAYERS) - 0.4)
    ax.axis("off")
    ax.set_title("countnets: folders as layers, lowest at the bottom. Arrows: module imports between folders, with\n"
                 "their counts (imports of the base modules, which every folder uses, are left out)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(f"wrote {draw()}")
