"""Public API hygiene: every exported name is documented."""

import inspect

import countnets


def test_every_public_name_has_a_docstring():
    missing = []
    for name in countnets.__all__:
        obj = getattr(countnets, name)
        if name == "__version__":
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
    assert not missing, missing


def test_public_methods_have_docstrings():
    missing = []
    for cls in (countnets.MLP, countnets.ResMLP, countnets.Gaussian, countnets.Uniform, countnets.Lattice):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                if not inspect.getdoc(member):
                    missing.append(f"{cls.__name__}.{name}")
    assert not missing, missing
