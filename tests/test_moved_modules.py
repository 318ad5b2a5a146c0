"""Every module that moved into a subpackage (issue 27) still imports under its old name, with a warning.

``countnets.splitting`` is now ``countnets.rare.splitting``, ``countnets.training_plots`` is
``countnets.train.plots``, and so on (``countnets._MOVED``). A user's script that imports an
old name gets the same module object and one DeprecationWarning naming the new place.
"""

import importlib
import subprocess
import sys

import pytest

import countnets


@pytest.mark.parametrize("old", sorted(countnets._MOVED))
def test_an_old_module_name_imports_the_moved_module_with_a_warning(old):
    new = f"countnets.{countnets._MOVED[old]}"
    sys.modules.pop(f"countnets.{old}", None)  # a previous test may have imported the alias
    with pytest.warns(DeprecationWarning, match=f"countnets.{old} moved to {new}"):
        module = importlib.import_module(f"countnets.{old}")
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new  # the alias does not rename the module


def test_old_import_forms_in_a_fresh_process():
    code = ("import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            "import countnets as cn\n"
            "assert cn.estimate_rare.__module__ == 'countnets.rare.splitting'  # public names need no old path\n"
            "warnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as seen:\n"
            "    from countnets import splitting\n"
            "    from countnets.statistics import wilson\n"
            "    import countnets.training_plots as plots\n"
            "assert splitting.estimate_rare is cn.estimate_rare and wilson is cn.wilson\n"
            "assert plots.__name__ == 'countnets.train.plots'\n"
            "print(sorted({str(w.message).split()[0] for w in seen}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "['countnets.splitting', 'countnets.statistics', 'countnets.training_plots']\n"


def test_no_module_of_the_package_uses_an_old_name():
    from pathlib import Path

    root = Path(countnets.__file__).parent
    old = [f"countnets.{name}" for name in countnets._MOVED]
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "__init__.py" or p.parent != root
                 for text in [p.read_text()] if any(f"{o} " in text or f"{o}." in text or f'"{o}"' in text
                                                     for o in old)]  # fmt: skip
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["level_kernel", "sweep_kernel", "move_kernel", "resample", "LevelState"])
def test_kernel_names_that_left_moves_still_resolve_there_with_a_warning(name):
    from countnets.rare import kernels, moves

    with pytest.warns(DeprecationWarning, match=f"countnets.rare.moves.{name} moved to countnets.rare.kernels"):
        assert getattr(moves, name) is getattr(kernels, name)
    with pytest.raises(AttributeError):
        moves.no_such_name  # noqa: B018
