"""Power of the flip-decisive design (docs/training.md): writes results/design/flip_decisive_power.json.

The planned design: 30 pairs with ln O evenly spread over 0..10 nats (the plan's aims).
For each censoring scenario (fraction left censored, fraction right censored), the power
of the primary likelihood-ratio slope test at alpha 0.05 is simulated at several latent
correlations (400 replicates each, fixed seeds), and the least correlation with 80% power
is interpolated (countnets.experiments.flip_decisive.censored.minimum_detectable_rho).

Not a CountResult, so it lives under results/design/.
Run: python scripts/flip_decisive_power.py  (about 10 minutes on one CPU core)
"""

import json
from pathlib import Path

from countnets.experiments.flip_decisive import censored

X = [10 * (i + 0.5) / 30 for i in range(30)]
RHOS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
SCENARIOS = ((0.0, 0.0), (0.1, 0.2), (0.1, 0.4))


def main() -> None:
    out = {"design": {"n": len(X), "log_odds": X, "alpha": 0.05, "reps": 400, "power": 0.8}, "scenarios": []}
    for lo, hi in SCENARIOS:
        r = censored.minimum_detectable_rho(X, censor_low=lo, censor_high=hi, rhos=RHOS, reps=400, seed=0)
        out["scenarios"].append(r)
        print(lo, hi, r["rho"], flush=True)
    path = Path(__file__).resolve().parents[1] / "results" / "design" / "flip_decisive_power.json"
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
