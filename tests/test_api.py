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


# ----------------------------------------------------------------------------- argument types (issue 12, item 12)


import pytest  # noqa: E402
from plain_session import run_cases  # noqa: E402

# Under pytest the runtime type checker stops a wrong type before countnets' own checks run, so
# what a user sees is checked in a plain Python process.
USER_SESSION = r"""
import json
import countnets as cn

prior, arch = cn.Gaussian(), cn.MLP(3, (4,))
cases = {
    "Gaussian(sigma_w='1')": lambda: cn.Gaussian(sigma_w="1"),
    "Gaussian(sigma_b=b'1')": lambda: cn.Gaussian(sigma_b=b"1"),
    "Gaussian(sigma_w=None)": lambda: cn.Gaussian(sigma_w=None),
    "Uniform(bound='2')": lambda: cn.Uniform(bound="2"),
    "Lattice(values='101')": lambda: cn.Lattice(values="101"),
    "MLP(n='3')": lambda: cn.MLP(n="3"),
    "MLP(hidden=('8',))": lambda: cn.MLP(3, hidden=("8",)),
    "ResMLP(branch_scale='invsqrt')": lambda: cn.ResMLP(3, 4, 2, 4, branch_scale="invsqrt"),
    "GoalNet(w=2.0)": lambda: cn.GoalNet(3, w=2.0),
    "result.estimate(1.0)": lambda: cn.estimate_mc(prior, arch, "and", n_samples=8, chunk_size=8).estimate(1.0),
}
for name in ("estimate_mc", "histogram_mc", "enumerate_exact"):
    front = getattr(cn, name)
    call = (lambda f: lambda p, a: f(p, a, "and", n_samples=8)) if name == "estimate_mc" else (lambda f: f)
    call = call(front)
    cases[f"{name}(arch, prior)"] = lambda call=call: call(arch, prior)
    cases[f"{name}(dict, arch)"] = lambda call=call: call({"prior": "gaussian"}, arch)
    cases[f"{name}(prior, 'mlp')"] = lambda call=call: call(prior, "mlp")
"""


@pytest.fixture(scope="module")
def user_session():
    return run_cases(USER_SESSION)


@pytest.mark.parametrize(
    "case, message",
    [
        ("Gaussian(sigma_w='1')", "sigma_w must be a number, got '1' (str)"),  # was accepted
        ("Gaussian(sigma_b=b'1')", "sigma_b must be a number, got b'1' (bytes)"),
        ("Gaussian(sigma_w=None)", "sigma_w must be a number, got None (NoneType)"),
        ("Uniform(bound='2')", "bound must be a number, got '2' (str)"),
        ("Lattice(values='101')", "lattice value must be a number, got '1' (str)"),
        ("MLP(n='3')", "n (number of inputs) must be an int, got '3' (str)"),
        ("MLP(hidden=('8',))", "hidden width must be an int, got '8' (str)"),
        ("ResMLP(branch_scale='invsqrt')", "branch_scale must be a number, got 'invsqrt' (str)"),
        ("GoalNet(w=2.0)", "w (hidden width) must be an int, got 2.0 (float)"),
        ("result.estimate(1.0)", "function must be a str (hex or name) or an int truth table, got float"),
    ],
)
def test_priors_architectures_and_results_refuse_arguments_of_the_wrong_type(user_session, case, message):
    name, is_type_error, is_countnets_error, text = user_session[case]
    assert is_type_error and is_countnets_error and text == message, user_session[case]


@pytest.mark.parametrize("front", ["estimate_mc", "histogram_mc", "enumerate_exact"])
def test_front_ends_refuse_swapped_or_mistyped_prior_and_arch_with_a_type_error(user_session, front):
    # Before: AttributeError from deep inside.
    a_prior = "a countnets prior (Gaussian, Uniform, Lattice or a countnets.Prior)"
    an_arch = "a countnets architecture (MLP, ResMLP, GoalNet or a countnets.Architecture)"
    expected = {
        f"{front}(arch, prior)": f"{front}: prior must be {a_prior}, got MLP "
        "MLP(n=3, hidden=(4,), activation='relu'); prior and arch look swapped: the order is (prior, arch, ...)",
        f"{front}(dict, arch)": f"{front}: prior must be {a_prior}, got dict "
        "{'prior': 'gaussian'}; to rebuild one from a result's config use countnets.network.priors.prior_from_config",
        f"{front}(prior, 'mlp')": f"{front}: arch must be {an_arch}, got str "
        "'mlp'; build one, e.g. countnets.MLP(n=3, hidden=(8,)) for 'mlp'",
    }
    for case, message in expected.items():
        name, is_type_error, is_countnets_error, text = user_session[case]
        assert (name, is_type_error, is_countnets_error, text) == ("CountnetsTypeError", True, True, message)


def test_result_estimate_accepts_the_spellings_estimate_mc_accepts():
    prior, arch = countnets.Gaussian(), countnets.MLP(3, (4,))
    result = countnets.estimate_mc(prior, arch, ["and", 0x0], n_samples=512, chunk_size=256)
    est = result.estimate("0x80")
    for spelling in ("and", 128, "0x080", " 0x80 ", "AND"):  # 'and' and 128 failed before
        assert result.estimate(spelling) == est, spelling
    assert result.estimate(0) == result.estimate("0x0")
    with pytest.raises(countnets.CountnetsError, match=r"no estimate for 'or'; have \['0x80', '0x0'\]"):
        result.estimate("or")
    with pytest.raises(countnets.CountnetsError, match="no estimate for 999"):
        result.estimate(999)
