"""The README's Python snippet runs as written, its commands are well formed, and every number the
README and docs/ quote from results/ is checked against the file it comes from."""

import json
import math
import re
from pathlib import Path

import pytest

from countnets.stats.tolerance import renderings

README = Path(__file__).resolve().parents[1] / "README.md"
ROOT = README.parent
RESULTS = ROOT / "results"
DOCS = ROOT / "docs"


def _block_after(marker: str, lang: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {marker} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert match, f"README has no {lang} block after <!-- {marker} -->"
    return match.group(1)


def test_python_snippet_runs(capsys):
    code = _block_after("python-snippet", "python")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "P(AND) =" in out and "bits" in out and "0x80" in out


def test_quick_start_has_two_single_line_commands():
    for marker in ("main-command", "test-command"):
        lines = [ln for ln in _block_after(marker, "bash").splitlines() if ln.strip()]
        assert len(lines) == 1, lines
        assert lines[0].startswith("python3 -m venv .venv && .venv/bin/pip install")


def test_quoted_results_match_committed_json():
    # The README's summary of the committed results must say what the JSON files say.
    import json

    root = README.parent / "results"
    text = " ".join(README.read_text().split())  # line wrapping does not matter

    def fmt(x):
        return f"{x:.3g}"

    sp = json.loads((root / "serial_parallel.json").read_text())
    entry = next(r for r in sp["results"] if r["blocks"] == 4 and r["branch_scale"] == 1.0)
    ratio = entry["ratio"]
    assert ratio["estimate"] < 1
    assert f"({fmt(ratio['estimate'])}, 95% CI [{fmt(ratio['ci'][0])}, {fmt(ratio['ci'][1])}])" in text
    for name in ("detour_write_erase", "detour_goal"):
        r = json.loads((root / f"{name}.json").read_text())["ratio"]
        assert f"{fmt(r['estimate'])} [{fmt(r['ci'][0])}, {fmt(r['ci'][1])}]" in text, name
    tv = json.loads((root / "train_vs_prior.json").read_text())["summary"]
    assert f"{fmt(tv['tv'])} [{fmt(tv['tv_ci'][0])}, {fmt(tv['tv_ci'][1])}]" in text


# ----------------------------------------------------------------------------- every quoted number

# A number token: not glued to a word or another number ("pm1", "0x80", "x0" are not numbers).
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w])")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _g3(x) -> str:
    return f"{float(x):.3g}"


def _ci3(ci) -> str:
    return f"[{_g3(ci[0])}, {_g3(ci[1])}]"


def _entry(sp: dict, blocks: int, spec: str) -> dict:
    return next(e for e in sp["results"] if e["blocks"] == blocks and e["branch_scale_spec"] == spec)


def _multiplicity(sp: dict) -> dict:
    from countnets.results.report import multiplicity

    cfg = sp["config"]
    return multiplicity(sp["results"], n=cfg["arch"]["n"], prior=cfg["prior"], encoding=cfg["encoding"],
                        confidence=cfg["confidence"], all_functions=True)  # fmt: skip


def _serial_one_bit_range(sp: dict) -> tuple[str, str]:
    shares = [e["serial_one_bit"] / e["serial"]["hits"] for e in sp["results"] if e["blocks"] >= 2]
    return f"{100 * min(shares):.0f}", f"{100 * max(shares):.0f}"


def _flip_runs() -> list[dict]:
    return [_load(name) for name in ("flip_pairs_spread", "flip_pairs", "flip_pairs_hinge")]


def _section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i : text.index(end, i)]


def _unchecked_numbers(section: str, allowed: set[str]) -> list[str]:
    return [t for t in NUMBER.findall(section) if t not in allowed]


def test_readme_summary_quotes_only_numbers_the_json_files_give():
    text = README.read_text()
    section = _flat(_section(text, "<!-- quoted-results -->", "<!-- /quoted-results -->"))
    sp, quick = _load("serial_parallel"), _load("serial_parallel_quick")
    cfg = sp["config"]
    allowed = {"1", "95", "10", "6"}  # "below 1", "k* - 1", 95% intervals, "10^6" and 1/1001's numerator
    # Serial vs parallel: the configuration, the trend, the L = 4 cell and the diagnostics.
    arch = cfg["arch"]
    allowed |= {str(arch["n"]), str(arch["d"]), str(arch["w"]), _g3(cfg["prior"]["sigma_w"])[0]}
    assert arch["d"] == arch["w"] and cfg["prior"]["sigma_w"] == cfg["prior"]["sigma_b"] == 1.0
    assert cfg["samples_per_configuration"] == 10**6 and "10^6 networks per L" in section
    assert len(cfg["arch"]["branch_scales"]) == 3 and "each of the three branch scales" in section
    from countnets.experiments.serial_parallel import _trend

    for spec in cfg["arch"]["branch_scales"]:
        points = [
            (e["blocks"], e["ratio"]) for e in sp["results"] if e["branch_scale_spec"] == spec and e["blocks"] >= 2
        ]
        assert _trend(points) == "falls with L", spec
    first, last = _entry(sp, 2, "1"), _entry(sp, 6, "1")
    quote = f"{_g3(first['ratio']['estimate'])} at L = 2 to {_g3(last['ratio']['estimate'])} at L = 6"
    assert quote in section
    below = [e["blocks"] for e in sp["results"] if e["branch_scale_spec"] == "1" and ratio_hi(e) < 1]
    above = [e["blocks"] for e in sp["results"] if e["branch_scale_spec"] == "1" and e["blocks"] >= 2
             and float(e["ratio"]["ci"][0]) > 1]  # fmt: skip
    assert min(below) == 4 and max(above) < 4 and "below 1 from L = 4" in section
    cell = _entry(sp, 4, "1")["ratio"]
    assert f"({_g3(cell['estimate'])}, 95% CI {_ci3(cell['ci'])})" in section
    lo, hi = _serial_one_bit_range(sp)
    assert f"{lo}-{hi}% of the networks counted as serial" in section
    m = _multiplicity(sp)
    c2 = next(c for c in m["cells"] if c["blocks"] == 2 and c["branch_scale_spec"] == "1")["class_counts"]
    seen = m["classes"] - c2["no_hits"]
    assert f"{c2['above_1']} of {seen} classes seen have a ratio above 1 at L = 2" in section
    for c in m["cells"]:
        if c["branch_scale_spec"] == "1" and c["blocks"] >= 3:
            ups = [rep for rep, v in c["class_verdicts"].items() if v["verdict"] == "above_1"]
            assert ups == ["0x0"], (c["blocks"], ups)  # "only the constants from L = 3 on"
    q = _entry(quick, 4, "1")["ratio"]
    assert quick["config"]["samples_per_configuration"] == 1_500_000 and "1.5 x 10^6-sample run" in section
    assert f"prints {_g3(q['estimate'])} {_ci3(q['ci'])} for the same cell" in section
    allowed |= {"2", "0.633", "4", "3", "13", "1.5", lo, hi, _g3(first["ratio"]["estimate"]),
                _g3(cell["estimate"]), _g3(cell["ci"][0]), _g3(cell["ci"][1]), _g3(q["ci"][0]), _g3(q["ci"][1]),
                str(c2["above_1"])}  # fmt: skip
    # Detours.
    for name in ("detour_write_erase", "detour_goal"):
        r = _load(name)["ratio"]
        assert f"{_g3(r['estimate'])} {_ci3(r['ci'])}" in section, name
        allowed |= {_g3(r["estimate"]), _g3(r["ci"][0]), _g3(r["ci"][1])}
    # Detours as n grows (issue 15): goal at width 16 rises but stays below 1; write-erase at alpha = 1 falls.
    sweep = json.loads((RESULTS / "detour_vs_n" / "detour_vs_n.json").read_text())
    goal = {r["n"]: r for r in sweep["goal"]["sweep"]["rows"] if r["width"] == 16}
    assert all(r["ratio_ci"][1] < 1 for r in sweep["goal"]["sweep"]["rows"])
    for width in sweep["goal"]["sweep"]["config"]["widths"]:
        ratios = [r["ratio"] for r in sweep["goal"]["sweep"]["rows"] if r["width"] == width]
        assert ratios == sorted(ratios), width  # gains at every width tried
    assert f"0.035 at n = 3, {_g3(goal[6]['ratio'])} {_ci3(goal[6]['ratio_ci'])} at n = 6" in section
    assert f"{goal[3]['ratio']:.2g}" == "0.035"
    we = [r for r in sweep["write-erase"]["sweep"]["rows"] if r["alpha"] == "1"]
    assert [r["n"] for r in we] == [3, 4, 5, 6] and [r["ratio"] for r in we] == sorted([r["ratio"] for r in we])[::-1]
    assert f"falls ({we[0]['ratio']:.2g} to {_g3(we[-1]['ratio'])})" in section
    assert sweep["goal"]["sweep"]["config"]["samples"] == 200_000 and "2 x 10^5" in section
    allowed |= {"0.035", _g3(goal[6]["ratio"]), *(_g3(v) for v in goal[6]["ratio_ci"]), f"{we[0]['ratio']:.2g}",
                _g3(we[-1]["ratio"]), "16", "5"}  # fmt: skip
    # Composition by splitting (issue 15): not determined under the reliability rule (issue 25). The committed runs
    # stored no replica weights, so no interval of theirs may be quoted; the section says so and quotes none.
    groups = _composition_groups()
    assert all("replica_estimates" not in g.get("splitting", {}) for g in groups)
    main = [g for g in groups if g["n"] == 4 and g["target"] == "xor-and-xor" and g["branch_scale_spec"] == "1"]
    cell = next(g for g in main if (g["blocks"], g["w"]) == (3, 2))["ratio"]
    start = section.index("Serial vs parallel on gate-built targets")
    composition = section[start : section.index("Training vs the prior", start)]
    assert "not determined" in composition and "2.1 and 2.4 effective replicas of 32" in composition
    for value in (cell["estimate"], *cell["ci"]):
        assert _g3(value) not in composition
    parity = [g for g in groups if g["target"] == "parity4"]
    assert parity and all(g["p"]["p"] == 0 and g["splitting"]["pilot_status"] != "reached" for g in parity)
    assert "no pilot reached it" in composition
    suite = {r["name"]: r for r in _load("benchmark-suite")["rows"]}["exp-composition"]
    assert _g3(suite["estimate"]) not in composition
    assert all(g["one_hidden_layer"] for g in groups)
    allowed |= {"2.1", "2.4", "32", "30", "8", "2", "3", "4", "1"}
    # Training against the prior.
    tv_or, tv_x0 = (_load(n) for n in ("train_vs_prior", "train_vs_prior_x0_sgd"))
    assert tv_or["config"]["arch"]["n"] == tv_x0["config"]["arch"]["n"] == 5
    assert len(tv_or["train_points"]) == len(tv_x0["train_points"]) == 16
    allowed |= {"5", "16", "1001"}
    for d, label in ((tv_or, "for OR with Adam"), (tv_x0, "for x0 with SGD")):
        t = d["summary"]
        quote = f"{t['tv']:.3f} [{t['tv_ci'][0]:.3f}, {t['tv_ci'][1]:.3f}] {label}"
        assert quote in section, quote
        assert t["tv_permutation_p"] == 1 / 1001
        allowed |= {f"{t['tv']:.3f}", f"{t['tv_ci'][0]:.3f}", f"{t['tv_ci'][1]:.3f}", f"{t['tv_null_mean']:.3f}"}
    assert f"against {tv_or['summary']['tv_null_mean']:.3f} and {tv_x0['summary']['tv_null_mean']:.3f}" in section
    s = tv_or["summary"]
    assert s["largest_excess"]["function"] == s["prior_top"] == "0xfffffffe"  # OR on 5 inputs
    quote = (f"{s['largest_excess']['value']:.4f} of it is OR itself, found by {100 * s['trained_top_p']:.1f}% "
             f"of runs against {100 * s['prior_top_p']:.1f}%")  # fmt: skip
    assert quote in section, quote
    allowed |= {
        f"{s['largest_excess']['value']:.4f}",
        f"{100 * s['trained_top_p']:.1f}",
        f"{100 * s['prior_top_p']:.1f}",
    }
    # Flip: all three runs, with p-values; every interval spans 0; nothing evaluable for the tilted prior.
    runs = _flip_runs()
    quotes = []
    for d in runs:
        t = d["summary"]["train"]
        assert len(d["pairs"]) == 10 and t["pairs_used"] == 10
        assert t["spearman_ci"][0] < 0 < t["spearman_ci"][1]
        assert d["summary"]["tilt"]["pairs_evaluable"] == 0 and d["summary"]["min_ess"] < 1.5
        quotes.append(f"{t['spearman']:.2f} (p = {t['spearman_p']:.2g})")
        allowed |= {f"{t['spearman']:.2f}", f"{t['spearman_p']:.2g}"}
    assert f"Spearman {quotes[0]}, {quotes[1]} and {quotes[2]}" in section
    ci = runs[0]["summary"]["train"]["spearman_ci"]
    assert f"(e.g. [{ci[0]:.2f}, {ci[1]:.2f}])" in section
    allowed |= {f"{ci[0]:.2f}", f"{ci[1]:.2f}", "0"}
    # The pre-registered flip test (issue 16).
    fd, plan = _load("flip_decisive"), _load("flip_decisive_plan")
    ln_o = sorted(p["log_odds"] for p in fd["pairs"])
    rare = sum(p["log_odds_estimator"] != "mc-conditional" for p in plan["pairs"])
    cfg = fd["config"]
    assert len(fd["pairs"]) == 30 and cfg["arch"]["hidden"] == [8] and cfg["optimizers"] == ["sgd"]
    quote = (f"30 independent pairs with ln O from {_g3(ln_o[0])} to {_g3(ln_o[-1])} nats, {rare} of them"
             f" with a B so rare")  # fmt: skip
    assert quote in section
    steps = cfg["training"]["max_steps"]
    assert f"n = {cfg['arch']['n']}, MLP 4-8-1, {cfg['runs']} plain-SGD runs of {steps}" in section
    sets = fd["summary"]["sets"]
    reg, tau, tilt = sets["sgd"]["regression"], sets["sgd"]["kendall"], sets["tilt"]
    assert f"slope {_g3(reg['slope'])} per nat {_ci3(reg['slope_ci'])}, Kendall tau {tau['tau']:.2f}" in section
    assert f"[{tau['ci'][0]:.2f}, {tau['ci'][1]:.2f}]" in section
    tt = tilt["kendall"]
    right = tilt["regression"]["right"]
    assert f"(tau {tt['tau']:.2f} [{tt['ci'][0]:.2g}, {tt['ci'][1]:.2f}], {right} of 30" in section
    holm_p = fd["summary"]["holm"]
    assert f"Holm p {holm_p['sgd']:.2g} and {holm_p['tilt']:.2g}" in section
    # The rare-B ln O came from splitting runs of 16 replicas: not determined under the reliability rule.
    assert plan["rare"]["replicas"] == 16 < 30 and "those 13 ln O values are not determined" in section
    allowed |= {"16", "13"}
    allowed |= {_g3(ln_o[0]), _g3(ln_o[-1]), str(rare), "30", "8", str(cfg["runs"]), str(cfg["training"]["max_steps"]),
                _g3(reg["slope"]), _g3(reg["slope_ci"][0]), _g3(reg["slope_ci"][1]), f"{tau['tau']:.2f}",
                f"{tau['ci'][0]:.2f}", f"{tau['ci'][1]:.2f}", f"{tt['tau']:.2f}", f"{tt['ci'][0]:.2g}",
                f"{tt['ci'][1]:.2f}", str(tilt["regression"]["right"]), f"{holm_p['sgd']:.2g}",
                f"{holm_p['tilt']:.2g}"}  # fmt: skip
    check = _load("flip_decisive_adam_check")
    assert check["config"]["check_steps"] == 225 and check["config"]["training"]["max_steps"] == steps
    kept = ("estimate", "censored", "bound", "interval", "a", "b", "other", "not_fit", "lambda0")
    same = all({k: p["lambda_star"]["sgd"][k] for k in kept} == {k: q["lambda_star"]["sgd"][k] for k in kept}
               for p, q in zip(check["pairs"], fd["pairs"], strict=True))  # fmt: skip
    assert same and "repeats every SGD lambda* exactly" in section
    adam = check["summary"]["sets"]["adam"]["regression"]
    assert f"Adam (slope {_g3(adam['slope'])} per nat {_ci3(adam['slope_ci'])})" in section
    allowed |= {"225", _g3(adam["slope"]), _g3(adam["slope_ci"][0]), _g3(adam["slope_ci"][1])}
    longer = _load("flip_decisive_steps1000")
    assert longer["config"]["training"]["max_steps"] == 1000 and "At 1000 steps" in section
    reg1000 = longer["summary"]["sets"]["sgd"]["regression"]
    assert f"SGD slope is {_g3(reg1000['slope'])} per nat {_ci3(reg1000['slope_ci'])}" in section
    ratios = [p["lambda_star"]["sgd"]["estimate"] / q["lambda_star"]["sgd"]["estimate"]
              for p, q in zip(longer["pairs"], fd["pairs"], strict=True)
              if p["lambda_star"]["sgd"]["censored"] is None and q["lambda_star"]["sgd"]["censored"] is None]
    assert 0.15 < sorted(ratios)[len(ratios) // 2] < 0.45  # "about 300/1000 of its 300-step value"
    allowed |= {"1000", "300", _g3(reg1000["slope"]), _g3(reg1000["slope_ci"][0]), _g3(reg1000["slope_ci"][1])}
    assert not _unchecked_numbers(section, allowed), _unchecked_numbers(section, allowed)


def _composition_groups() -> list[dict]:
    """One row per (target, n, L, w, alpha) of the committed composition splitting runs."""
    from countnets.experiments.composition import group_rows

    paths = sorted(RESULTS.glob("composition_splitting*.json"))
    return group_rows([row for path in paths for row in json.loads(path.read_text())["rows"]])


def ratio_hi(entry: dict) -> float:
    return float(entry["ratio"]["ci"][1])


def test_circuits_page_quotes_the_committed_results():
    text = _flat((DOCS / "circuits.md").read_text())
    sp = _load("serial_parallel")
    # The widest pooled interval at L >= 2, relative to its estimate, and the one-sided L = 1 intervals.
    cells = [e for e in sp["results"] if e["blocks"] >= 2]
    widest = max(
        cells, key=lambda e: (float(e["ratio"]["ci"][1]) - float(e["ratio"]["ci"][0])) / e["ratio"]["estimate"]
    )
    lo, hi = (float(v) for v in widest["ratio"]["ci"])
    assert (hi - lo) / widest["ratio"]["estimate"] <= 0.02
    assert (
        f"(the widest, `R` at L = {widest['blocks']}, alpha = {widest['branch_scale_spec']}, is [{lo:.2f}, {hi:.2f}])"
        in text
    )
    for e in sp["results"]:
        if e["blocks"] == 1:
            assert e["ratio"]["ci"][1] == "inf" and f"{float(e['ratio']['ci'][0]):.2g}" == "2.7e+05"
    assert "[2.7e5, inf]" in text
    # What this shows: the trend, the non-constant ratios, the corrected verdicts, the perturbed share.
    shows = _section(text, "**What this shows**, for these networks only", "**Detours**")
    trend = {spec: [e for e in sp["results"] if e["branch_scale_spec"] == spec and e["blocks"] >= 2]
             for spec in ("1", "invsqrt", "0.25")}  # fmt: skip
    a1 = ", ".join(_g3(e["ratio"]["estimate"]) for e in trend["1"])
    assert f"(alpha = 1: {a1} for L = 2, 3, 4, 6;" in shows
    for spec in ("invsqrt", "0.25"):
        assert (
            f"{spec}: {_g3(trend[spec][0]['ratio']['estimate'])} to {_g3(trend[spec][-1]['ratio']['estimate'])}"
            in shows
        )
    nc = [e["ratio_nonconstant"] for e in trend["1"]]
    assert all(float(r["ci"][1]) < 1 for r in nc)
    assert f"({_g3(nc[0]['estimate'])} down to {_g3(nc[-1]['estimate'])})" in shows
    inv = [e["ratio_nonconstant"] for e in trend["invsqrt"]]
    assert f"gives {_g3(inv[0]['estimate'])} down to {_g3(inv[-1]['estimate'])}" in shows
    consts = [sum(t["hits"] for t in e["per_target"] if t["function"] in ("0x0", "0xff")) / e["samples"]
              for e in sp["results"]]  # fmt: skip
    assert f"({100 * min(consts):.0f}-{100 * max(consts):.0f}% of networks)" in shows
    m = _multiplicity(sp)
    c2 = next(c for c in m["cells"] if c["blocks"] == 2 and c["branch_scale_spec"] == "1")
    raw = _entry(sp, 2, "1")["target_verdicts"]
    assert (f"over all {m['function_tests']} function tests, at L = 2 and alpha = 1 there are "
            f"{c2['functions']['above_1']} functions with `R_f` above 1 and {c2['functions']['below_1']} below "
            f"(uncorrected: {raw['above_1']} and {raw['below_1']})") in shows  # fmt: skip
    seen = m["classes"] - c2["class_counts"]["no_hits"]
    assert (
        f"(Holm over {m['class_tests']} class tests), at alpha = 1, {c2['class_counts']['above_1']} of the {seen}"
        in shows
    )
    ups = sorted(rep for rep, v in c2["class_verdicts"].items() if v["verdict"] == "above_1")
    assert ups == ["0x0", "0x3", "0xf"]  # constants, AND of two literals, literals
    lo_s, hi_s = _serial_one_bit_range(sp)
    assert f"{lo_s}-{hi_s}% of them are one bit from f" in shows
    # Detours.
    for name in ("detour_write_erase", "detour_goal"):
        d = _load(name)
        v = d["target_verdicts"]
        assert v["above_1"] == 0
        assert f"{v['below_1']} below" in text and f"{v['contains_1']} containing 1" in text
    we, goal = _load("detour_write_erase")["ratio"], _load("detour_goal")["ratio"]
    assert (
        f"about {round(1 / we['estimate'])} times less for write-erase and {round(1 / goal['estimate'])} times" in text
    )
    assert f"up to {max(t['distinct_goals'] for t in _load('detour_goal')['per_target'])} distinct goals" in text
    # The worked example is the README command's own committed run, printed as results/serial_parallel_quick.txt.
    quick_txt = (RESULTS / "serial_parallel_quick.txt").read_text()
    page = (DOCS / "circuits.md").read_text()
    assert "```\n" + quick_txt + "```" in page
    command = _block_after("main-command", "bash")
    assert "--samples 1500000" in command and "--samples 1500000" in page
    quick = _load("serial_parallel_quick")
    for L, spec in ((2, "1"), (4, "1"), (4, "invsqrt")):
        r = _entry(quick, L, spec)["ratio"]
        assert f"{_g3(r['estimate'])} {_ci3(r['ci'])}" in text, (L, spec)


def test_training_page_quotes_the_committed_results():
    text = _flat((DOCS / "training.md").read_text())
    tv_or, tv_x0 = (_load(n)["summary"] for n in ("train_vs_prior", "train_vs_prior_x0_sgd"))
    from countnets.stats.statistics import fisher_z_interval

    for t, n_label in ((tv_x0, "the 49 functions"), (tv_or, "only 6 functions")):
        lo, hi = fisher_z_interval(t["spearman"], t["functions_compared"])  # recomputed: within tolerance
        assert n_label.endswith(f"{t['functions_compared']} functions") and n_label in text
        assert f"Spearman {t['spearman']:.2f}, " in text
        assert any(f"[{a}, {b}]" in text for a in renderings(lo, ".2f") for b in renderings(hi, ".2f"))
    assert fisher_z_interval(tv_or["spearman"], tv_or["functions_compared"])[0] < 0  # "too few to fix even the sign"
    assert f"noise mean, {tv_or['tv_null_mean']:.3f} and {tv_x0['tv_null_mean']:.3f}" in text
    assert f"less it, {tv_or['tv_excess']:.3f} and {tv_x0['tv_excess']:.3f} remain" in text
    assert tv_or["tv_permutation_p"] == tv_x0["tv_permutation_p"] == 1 / 1001 and "p = 1/1001 in both runs" in text
    assert (f"{tv_or['largest_excess']['value']:.4f} of the {tv_or['tv']:.3f} is one function: OR itself, "
            f"which Adam finds in {100 * tv_or['trained_top_p']:.1f}% of runs against "
            f"{100 * tv_or['prior_top_p']:.1f}%") in text  # fmt: skip
    assert (f"finds `x0` less often ({100 * tv_x0['trained_top_p']:.1f}% of runs against "
            f"{100 * tv_x0['prior_top_p']:.1f}%)") in text  # fmt: skip
    assert f"largest single excess is {tv_x0['largest_excess']['value']:.3f}" in text
    q = tv_x0["equal_size"]
    x0 = _load("train_vs_prior_x0_sgd")
    assert q["size"] == x0["prior_fit"] == sum(x0["prior"].values())
    assert (f"(the {x0['runs']:,} runs subsampled to the prior's {q['size']:,} hits, {q['draws']} times)") in text
    assert q["p_distinct"] < q["q_distinct"]
    assert f"({q['p_distinct']:.1f} on average against {q['q_distinct']:.0f})" in text
    assert f"({q['p_entropy']:.2f} against {q['q_entropy']:.2f} nats)" in text
    assert (
        f"The raw counts, {len(x0['trained'])} functions among {x0['runs']:,} runs against {len(x0['prior'])}" in text
    )
    assert "281 seen against 223" not in text and "spreads over more functions" not in text
    # Flip: all three runs with p-values and intervals; what dropping the censored pairs did.
    runs = _flip_runs()
    quotes = [f"{d['summary']['train']['spearman']:.2f} (p = {d['summary']['train']['spearman_p']:.2g})" for d in runs]
    assert f"Spearman {quotes[0]}, {quotes[1]} and {quotes[2]}" in text
    widths = [d["summary"]["train"]["spearman_ci"][1] - d["summary"]["train"]["spearman_ci"][0] for d in runs]
    assert f"{min(widths):.1f} to {max(widths):.1f} wide" in text
    hinge = runs[2]
    pts = [(p["log_odds"], p["lambda_star_train"]["estimate"]) for p in hinge["pairs"]
           if not p["lambda_star_train"]["censored"]]  # fmt: skip
    from scipy import stats

    dropped = stats.spearmanr([a for a, _ in pts], [b for _, b in pts])  # recomputed: within tolerance
    assert any(f"gave {r} (p = {q}) over {len(pts)} pairs" in text
               for r in renderings(dropped.statistic, ".2f") for q in renderings(dropped.pvalue, ".2g"))  # fmt: skip
    assert hinge["summary"]["train"]["pairs_censored"] == 10 - len(pts) == 2
    stars = [
        p["lambda_star_train"]["estimate"] for d in runs for p in d["pairs"] if not p["lambda_star_train"]["censored"]
    ]
    assert f"lambda\\* between {min(stars):g} and {max(stars):g} for every uncensored pair" in text
    assert len(runs[0]["lambdas"]) == 9 and "9-value grid" in text
    odds = max(p["prior_odds"] for p in runs[0]["pairs"])
    assert 950 < odds < 1050 and "prior odds near 1000:1" in text
    assert all(d["summary"]["tilt"]["pairs_evaluable"] == 0 for d in runs)
    assert all(d["summary"]["min_ess"] < 1.5 for d in runs) and "fallen to about 1 out of thousands" in text
    # The runs share their randomness, as the page says.
    assert len({(d["seed"], d["chunk_size"], d["config"]["train_chunk_size"], d["runs"]) for d in runs}) == 1
    bs = [{p["b"] for p in d["pairs"]} for d in runs]
    assert len(bs[0] & bs[1]) == 4 and bs[1] == bs[2] and "shares four of its B" in text


def test_training_page_quotes_the_diverse_run():
    text = _flat((DOCS / "training.md").read_text())
    d = _load("diverse")
    restart, reward = d["settings"]
    assert restart["reward"] == 0 and reward["reward"] == 1 and d["runs"] == 20
    at_end = (reward["distinct_mean"][-1], restart["distinct_mean"][-1])
    means = f"{at_end[0]:.1f} on average in {d['runs']} runs, against {at_end[1]:.1f}"
    assert f"({means}" in text
    assert f"{reward['found_b']} of {d['chains']} chains found it against {restart['found_b']} of {d['chains']}" in text
    # "too small to tell a difference": the exact conditional test of equal rates sees nothing.
    from countnets.results.report import ratio_p_value

    assert ratio_p_value(reward["found_b"], restart["found_b"]) > 0.5


@pytest.mark.parametrize("page", ["README.md", "docs/circuits.md", "docs/training.md"])
def test_no_dangling_design_references(page):
    # DESIGN.md is not part of the repository; pages point to docs/ instead.
    assert "DESIGN" not in (ROOT / page).read_text()


def test_intervals_quoted_as_spanning_zero_do():
    for d in _flip_runs():
        lo, hi = d["summary"]["train"]["spearman_ci"]
        assert lo < 0 < hi and not math.isnan(lo)
