import countnets as cn


def test_engine_runs_under_strict_config():
    r = cn.histogram_mc(cn.Gaussian(1, 1), cn.MLP(3, (4,)), n_samples=5000, seed=0)
    assert sum(r.histogram.values()) == 5000
    r = cn.estimate_mc(cn.Uniform(1), cn.ResMLP(2, 3, 2, 3), ["and", "0x0"], n_samples=5000, seed=1, encoding="pm1")
    assert r.samples == 5000
    r = cn.enumerate_exact(cn.Lattice((-1.0, 1.0)), cn.MLP(2, ()), top=None)
    assert sum(r.histogram.values()) == 8
