"""The figure of docs/architecture.md: countnets' folders as layers, drawn from the import graph.

Run from the repository root::

    python scripts/architecture_figure.py        # writes docs/architecture.png

The import graph and the layers are those tests/test_layers.py checks (the script loads
it; pytest must be installed, as ``pip install -e '.[test]'`` does): every ``import`` of
a countnets module counts, inside functions too. Each folder is a box on the row of its
layer (lowest at the bottom), labelled with its modules; an arrow from folder A to folder
B means some module in A imports one in B, labelled with how many module-to-module
imports there are (imports of the base modules at the top of the package, which every
folder uses, are left out). Nothing is drawn by hand: a new module or import changes the
figure when the script is rerun.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "architecture.png"


def _layer_rules():
    """tests/test_layers.py, whose import graph (``GRAPH``) and ``LAYERS`` the figure draws: the rules it checks."""
    spec = importlib.util.spec_from_file_location("test_layers", ROOT / "tests" / "test_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def folder_graph(rules) -> tuple[dict[str, list[str]], Counter]:
    """Modules per folder, and module-to-module import counts between different folders (not into base)."""
    modules: dict[str, list[str]] = {}
    edges: Counter = Counter()
    for name, path in sorted(rules.MODULES.items()):
        if name in rules.ENTRY_POINTS:
            continue
        here = rules.folder(name)
        short = name.rsplit(".", 1)[-1]
        if path.name == "__init__.py" and here != "base":
            short = f"{short} (package)"  # the subpackage's own __init__
        modules.setdefault(here, []).append(short)
        for dep in rules.GRAPH[name]:
            if dep not in rules.ENTRY_POINTS and rules.folder(dep) not in (here, "base"):  # everything uses base
                edges[(here, rules.folder(dep))] += 1
    return modules, edges


def draw(out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = _layer_rules()
    modules, edges = folder_graph(rules)
    where = {}
    for row, layer in enumerate(rules.LAYERS):
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
    ax.set_ylim(-0.6, len(rules.LAYERS) - 0.4)
    ax.axis("off")
    ax.set_title("countnets: folders as layers, lowest at the bottom. Arrows: module imports between folders, with\n"
                 "their counts (imports of the base modules, which every folder uses, are left out)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(f"wrote {draw()}")
