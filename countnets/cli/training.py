"""``countnets experiment train-vs-prior``, ``flip`` and ``diverse``: their options and runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from countnets._errors import CountnetsError, check_positive_int
from countnets.cli import options
from countnets.cli.options import (
    add_network_options,
    add_run_options,
    finite_float,
    float_list,
    int_list,
    nonneg_float,
    nonneg_float_list,
    nonneg_int,
    positive_float,
    positive_int,
    prior_from_args,
)
from countnets.defaults import (
    DEFAULT_EXPERIMENT_CHUNK,
    DEFAULT_MAX_EXACT,
    FLIP_LAMBDAS,
    LOSSES,
    OPTIMIZERS,
    RARE_B_FLIPS,
    RARE_B_PARTICLES,
    RARE_B_REPLICAS,
)

if TYPE_CHECKING:
    from countnets.experiments import flip_decisive as decisive
    from countnets.results import CountResult
    from countnets.train.training import TrainConfig, TrainingSet

__all__ = [
    "point_list",
    "hex_list",
    "add_training_options",
    "check_run_options",
    "arch_from_args",
    "training_set_from_args",
    "train_config_from_args",
    "inputs_from_args",
    "run_kwargs",
    "add_flip_arguments",
    "run_flip",
    "add_diverse_arguments",
    "run_diverse",
    "add_train_vs_prior_arguments",
    "run_train_vs_prior",
    "add_flip_decisive_arguments",
    "run_flip_decisive",
]


def point_list(text: str) -> tuple[int, ...]:
    """Comma-separated cube point indices."""
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated cube point indices, got {text!r}") from None


def add_training_options(
    parser: argparse.ArgumentParser, *, default_samples: int, default_runs: int, runs_help: str, samples_help: str
) -> None:
    """Network, prior, run, training-set and optimiser options."""
    add_network_options(parser, arch_choices=("mlp", "resmlp", "goalnet"))
    # GoalNet's hidden width is --width, as in ``detour --kind goal``; --goal-width is its old name.
    parser.add_argument("--goal-width", dest="width", type=positive_int, help=argparse.SUPPRESS)
    add_run_options(parser, default_samples=default_samples, samples_help=samples_help)
    parser.set_defaults(chunk_size=DEFAULT_EXPERIMENT_CHUNK)
    t = parser.add_argument_group("training")
    t.add_argument(
        "--target", required=True,
        help="target f*: hex truth table (0x...) or a name (and, or, majority, x0, ...) (required)",
    )  # fmt: skip
    s = t.add_mutually_exclusive_group(required=True)
    s.add_argument("--train-points", type=point_list, default=None,
                   help="training points S, e.g. 0,1,5,9 (this or --train-size is required)")  # fmt: skip
    s.add_argument("--train-size", type=positive_int, default=None,
                   help="a seeded random subset of m points, seed --seed "
                   "(this or --train-points is required)")  # fmt: skip
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optax optimiser")
    t.add_argument(
        "--lr", type=positive_float, default=None, help="learning rate (default: sgd 0.5, momentum 0.1, adam 0.02)"
    )
    t.add_argument("--momentum", type=finite_float, default=0.9, help="momentum coefficient of --optimizer momentum")
    t.add_argument("--loss", choices=LOSSES, default="logistic", help="loss on the output pre-activation")
    t.add_argument("--margin", type=nonneg_float, default=1.0, help="margin of --loss hinge")
    t.add_argument("--max-steps", type=nonneg_int, default=2000, help="step budget per network")
    t.add_argument("--runs", type=positive_int, default=default_runs, help=runs_help)
    t.add_argument("--exact", action="store_true", help="exact conditional prior by lattice enumeration")
    t.add_argument("--max-exact", type=positive_int, default=DEFAULT_MAX_EXACT,
                   help="limit on enumerated configurations")  # fmt: skip
    t.add_argument("--plot", default=None, metavar="PATH",
                   help="write a figure to this path, format from its suffix (default: no figure)")  # fmt: skip


def check_run_options(args: argparse.Namespace, *, runs_name: str) -> None:
    """Reject bad ``--b-rank``, ``--runs``, ``--chains`` and ``--confidence`` before any computation.

    The experiment functions check these values too, but only after the conditional prior
    has been computed; each command calls this first, so bad input exits at once, with the
    same message (``runs_name`` is the name the training function gives ``--runs``). Only
    the number of functions fitting S is missing from a ``--b-rank`` below 1; a rank above
    that number is known only from the prior and is still reported there.
    """
    from countnets.stats import statistics

    b_rank = getattr(args, "b_rank", None)
    for k in (b_rank,) if isinstance(b_rank, int) else (b_rank or ()):
        if k < 1:
            raise CountnetsError(f"--b-rank {k} is out of range: ranks start at 1")
    check_positive_int(runs_name, args.runs)
    if getattr(args, "chains", None) is not None:
        check_positive_int("chains", args.chains)
    statistics._check(0, 1, args.confidence)  # the confidence check of every interval, alone


def arch_from_args(args: argparse.Namespace) -> Any:
    """MLP, ResMLP or GoalNet from the network options."""
    from countnets.network.architectures import GoalNet

    if args.arch == "goalnet":
        return GoalNet(args.n, args.width)
    return options.arch_from_args(args)


def training_set_from_args(args: argparse.Namespace) -> TrainingSet:
    """The training set of ``--target`` with ``--train-points`` or ``--train-size`` (seed ``--seed``)."""
    from countnets.train.training import training_set

    if args.max_seconds is not None:
        raise CountnetsError("--max-seconds is not supported by the training experiments; set --samples and --runs")
    if args.train_points is not None:
        return training_set(args.n, args.target, points=args.train_points)
    return training_set(args.n, args.target, size=args.train_size, seed=args.seed)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of the optimiser options."""
    from countnets.train.training import TrainConfig

    return TrainConfig(
        optimizer=args.optimizer,
        learning_rate=args.lr,
        loss=args.loss,
        margin=args.margin,
        max_steps=args.max_steps,
        momentum=args.momentum,
        precision=args.precision,
    )


def inputs_from_args(args: argparse.Namespace) -> tuple[Any, Any, TrainingSet, TrainConfig]:
    """``(prior, arch, tset, train_config)`` from the parsed options."""
    return prior_from_args(args), arch_from_args(args), training_set_from_args(args), train_config_from_args(args)


def run_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments every training experiment takes, from the run and prior options."""
    return dict(
        n_samples=None if args.exact else args.samples, seed=args.seed, exact=args.exact, encoding=args.encoding,
        chunk_size=args.chunk_size, chunks_per_step=args.chunks_per_step or None, confidence=args.confidence,
        method=args.interval, max_configurations=args.max_exact, precision=args.precision,
        progress=options.progress_from_args(args),
        devices=getattr(args, "devices", None),
    )  # fmt: skip


def hex_list(text: str) -> tuple[str, ...]:
    """Comma-separated functions (hex or names)."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def add_flip_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment flip`` (its record: :mod:`countnets.experiments`)."""
    add_training_options(
        p, default_samples=1_000_000, default_runs=1024, runs_help="trained networks per (pair, lambda)",
        samples_help="prior samples for the conditional prior P_prior(f|S) and the odds",
    )  # fmt: skip
    f = p.add_argument_group("flip")
    f.add_argument(
        "--a", default=None, help="policy A, hex or name (default: the most probable function under P_prior(.|S))"
    )
    f.add_argument("--b", type=hex_list, default=(),
                   help="policy B (hex or names), comma-separated for several pairs "
                   "(default: see --b-rank)")  # fmt: skip
    f.add_argument("--b-rank", type=int_list, default=(),
                   help="B = the k-th most probable function(s) fitting S, e.g. 2,5 (default: 2 when no --b, "
                   "--b-rank or --pairs is given)")  # fmt: skip
    f.add_argument("--pairs", type=positive_int, default=None,
                   help="K pairs: B = the 2nd .. (K+1)-th most probable (default: none)")  # fmt: skip
    f.add_argument("--lambdas", type=nonneg_float_list, default=FLIP_LAMBDAS,
                   help="training pressure sweep, comma-separated")  # fmt: skip
    f.add_argument("--tilt-lambdas", type=nonneg_float_list, default=None,
                   help="tilted-prior sweep (default: --lambdas)")  # fmt: skip


def run_flip(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment flip`` from parsed arguments."""
    from countnets.experiments.flip import flip
    from countnets.network import boolean

    check_run_options(args, runs_name="runs (trained networks)")
    prior, arch, tset, cfg = inputs_from_args(args)
    ranks = list(args.b_rank)
    if args.pairs is not None:
        ranks += list(range(2, 2 + check_positive_int("--pairs", args.pairs)))
    if not args.b and not ranks:
        ranks = [2]
    result = flip(
        prior, arch, tset, cfg,
        a=None if args.a is None else boolean.parse_function(args.a, args.n),
        bs=[boolean.parse_function(b, args.n) for b in args.b], b_ranks=ranks, lambdas=args.lambdas,
        tilt_lambdas=args.tilt_lambdas, n_runs=args.runs, **run_kwargs(args),
    )  # fmt: skip
    return result


def add_diverse_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment diverse`` (its record: :mod:`countnets.experiments`)."""
    add_training_options(
        p, default_samples=200_000, default_runs=20, runs_help="sequential runs per chain",
        samples_help="prior samples for P_prior(.|S), used only to rank functions for --b-rank, "
        "hence a lower default than flip's 1000000",
    )  # fmt: skip
    d = p.add_argument_group("diverse")
    d.add_argument("--chains", type=positive_int, default=64, help="independent chains run side by side")
    d.add_argument(
        "--reward", type=positive_float, default=1.0, help="reward strength mu for disagreeing with found functions"
    )
    d.add_argument("--b", default=None, help="function B to look for, hex or name (default: see --b-rank)")
    d.add_argument("--b-rank", type=positive_int, default=None,
                   help="B = the k-th most probable function under P_prior(.|S) (default: 5 when no --b)")  # fmt: skip


def run_diverse(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment diverse`` from parsed arguments."""
    from countnets.experiments.diverse import diverse
    from countnets.network import boolean

    if args.b is not None and args.b_rank is not None:
        raise CountnetsError("give at most one of --b and --b-rank")
    check_run_options(args, runs_name="runs (sequential runs per chain)")
    prior, arch, tset, cfg = inputs_from_args(args)
    b_rank = args.b_rank if args.b is None else None
    if args.b is None and b_rank is None:
        b_rank = 5
    result = diverse(
        prior, arch, tset, cfg, reward=args.reward, n_runs=args.runs, chains=args.chains,
        b=None if args.b is None else boolean.parse_function(args.b, args.n), b_rank=b_rank, **run_kwargs(args),
    )  # fmt: skip
    return result


def add_train_vs_prior_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment train-vs-prior`` (its record: :mod:`countnets.experiments`)."""
    add_training_options(
        p, default_samples=1_000_000, default_runs=4096, runs_help="networks to train",
        samples_help="prior samples for the conditional prior P_prior(f|S)",
    )  # fmt: skip
    p.add_argument("--min-count", type=nonneg_int, default=5, help="counts needed in both to enter the correlation")
    p.add_argument("--bootstrap", type=nonneg_int, default=1000, help="bootstrap resamples for the TV interval")


def run_train_vs_prior(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment train-vs-prior`` from parsed arguments."""
    from countnets.experiments.train_vs_prior import train_vs_prior

    check_run_options(args, runs_name="runs (trained networks)")
    prior, arch, tset, cfg = inputs_from_args(args)
    result = train_vs_prior(
        prior, arch, tset, cfg, n_runs=args.runs, min_count=args.min_count, bootstrap=args.bootstrap,
        **run_kwargs(args),
    )  # fmt: skip
    return result


def add_flip_decisive_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment flip-decisive`` (its record: :mod:`countnets.experiments`)."""
    add_network_options(p, arch_choices=("mlp", "resmlp"))
    add_run_options(p, default_samples=1_000_000)
    p.set_defaults(chunk_size=DEFAULT_EXPERIMENT_CHUNK)
    s = p.add_argument_group("plan (step 1)")
    mode = s.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--plan-out",
        default=None,
        metavar="PATH",
        help="choose the pairs and write the plan JSON (step 1; one of --plan-out and --plan is required)",
    )
    mode.add_argument(
        "--plan",
        default=None,
        metavar="PATH",
        help="run a plan written by --plan-out (step 2; one of --plan-out and --plan is required)",
    )
    s.add_argument("--integrated", action="store_true",
                   help="with --plan-out: write the integrated-pressure plan (version 2, issue 29): groups (S, A), "
                   "single-flip B, Lambda* = lambda* x T over budgets, MALA and SMC tilt; --train-size defaults "
                   "to 8 and --seed names the groups")  # fmt: skip
    s.add_argument("--pairs", type=nonneg_int, default=30, help="pairs to choose (default: %(default)s)")
    s.add_argument(
        "--train-size", type=nonneg_int, default=None, help="points per training set S (step 1; required there)"
    )
    s.add_argument("--log-odds-range", type=float_list, default=(0.0, 10.0), help="ln O range lo,hi (nats)")
    s.add_argument("--min-count", type=nonneg_int, default=3, help="least prior count of B among samples fitting S")
    s.add_argument("--slot-tolerance", type=finite_float, default=None, help="nats from a slot's aim (default: width)")
    s.add_argument("--rare-b", action="store_true",
                   help="fill slots Monte Carlo cannot reach with a rare B (A with k off-S bits flipped), "
                   "ln O = ln P(A) - ln P(B) with P(B) by splitting (default: off)")  # fmt: skip
    s.add_argument("--rare-flips", type=float_list, default=RARE_B_FLIPS,
                   help="off-S bits of A flipped per rare-B proposal, tried in order (default: 1,...,6)")  # fmt: skip
    s.add_argument("--rare-replicas", type=nonneg_int, default=RARE_B_REPLICAS,
                   help="splitting replicas per rare B (default: %(default)s)")  # fmt: skip
    s.add_argument("--rare-particles", type=nonneg_int, default=RARE_B_PARTICLES,
                   help="splitting particles per replica (default: %(default)s)")  # fmt: skip
    r = p.add_argument_group("run (step 2)")
    r.add_argument("--optimizers", default="sgd", help="comma-separated; sgd (primary) and optionally adam")
    r.add_argument("--lr", type=finite_float, default=None, help="SGD learning rate (default: 0.5)")
    r.add_argument("--loss", choices=LOSSES, default="logistic", help="training loss and tilt l_B")
    r.add_argument("--max-steps", type=nonneg_int, default=2000, help="updates per run (all of them, under pressure)")
    r.add_argument("--runs", type=nonneg_int, default=256, help="initialisations per pair (same at every lambda)")
    r.add_argument("--lambdas", type=float_list, default=None,
                   help="positive pressure grid (default: the 27 values 10^(-4 + k/6), k = 0..26)")  # fmt: skip
    r.add_argument("--tilt-lambdas", type=float_list, default=None, help="SMC grid (default: --lambdas)")
    r.add_argument("--tilt-loss", choices=("logistic", "hinge", "zero-one", "hamming"), default=None,
                   help="the tilt's l_B (default: --loss; zero-one gives lambda* = ln O)")  # fmt: skip
    r.add_argument("--bootstrap", type=nonneg_int, default=1000, help="bootstrap resamples of initialisations")
    r.add_argument("--replicas", type=nonneg_int, default=8, help="independent SMC replicas")
    r.add_argument("--particles", type=nonneg_int, default=1000, help="SMC particles per replica")
    r.add_argument("--moves", type=nonneg_int, default=10, help="pCN moves per SMC step")
    r.add_argument(
        "--pair-limit",
        type=nonneg_int,
        default=None,
        help="run only the first K pairs, a smoke test (default: every pair)",
    )
    r.add_argument("--stages", default=None, metavar="LIST",
                   help="version-2 plans: the stages to run, comma-separated, of groups, sgd, langevin, adam, tilt, "
                   "diversity (default: all); 'none' analyses what --checkpoint holds")  # fmt: skip
    r.add_argument("--check-steps", type=nonneg_int, default=None,
                   help="also train to this many steps and report runs whose function still changed after "
                   "(default: off)")  # fmt: skip


def _rare_options(args: argparse.Namespace) -> decisive.RareOptions | None:
    """``--rare-*`` as :class:`~countnets.experiments.flip_decisive.RareOptions`, or None without ``--rare-b``."""
    from countnets.experiments import flip_decisive as decisive

    if not args.rare_b:
        return None
    flips = []
    for k in args.rare_flips:
        if k != int(k):
            raise CountnetsError(f"--rare-flips must be whole numbers of bits, got {k}")
        flips.append(int(k))
    return decisive.RareOptions(flips=tuple(flips), replicas=args.rare_replicas, particles=args.rare_particles)


# Options of a version-1 plan or of writing one, which a version-2 plan fixes in its file: given with one, an error.
_FIXED_BY_V2_PLAN = ("optimizers", "lr", "loss", "max_steps", "runs", "lambdas", "tilt_lambdas", "tilt_loss",
                     "bootstrap", "replicas", "particles", "moves", "pair_limit", "check_steps", "pairs", "train_size",
                     "log_odds_range", "min_count", "slot_tolerance", "rare_b", "rare_flips", "rare_replicas",
                     "rare_particles", "samples", "integrated", "seed", "confidence", "chunk_size",
                     "devices")  # fmt: skip


def run_flip_decisive(args: argparse.Namespace) -> CountResult | int:
    """Run ``countnets experiment flip-decisive`` from parsed arguments."""
    from countnets.experiments import flip_decisive as decisive
    from countnets.experiments.flip_decisive import integrated_plan as integrated
    from countnets.stats import statistics
    from countnets.train.training import TrainConfig

    statistics._check(0, 1, args.confidence)
    prior, arch = prior_from_args(args), options.arch_from_args(args)
    plan = None if args.plan is None else decisive.read_plan_file(args.plan)  # read once; its version picks the run
    if plan is not None and plan.get("plan_version") == integrated.PLAN_VERSION:
        given = getattr(args, "_given", {})
        fixed = [given[d] for d in _FIXED_BY_V2_PLAN if d in given]
        if fixed:
            raise CountnetsError(f"{fixed[0]} does not apply to {args.plan}: a version-2 plan fixes it (see the file)")
        return run_integrated(args, integrated.check_integrated_plan(plan, args.plan), prior, arch)
    if args.stages is not None:
        raise CountnetsError("--stages applies to an integrated-pressure (version 2) plan")
    if args.max_seconds is not None:
        raise CountnetsError("--max-seconds applies to an integrated-pressure (version 2) plan; set --samples and "
                             "--runs")  # fmt: skip
    if args.checkpoint is not None:
        raise CountnetsError("--checkpoint applies to running an integrated-pressure (version 2) plan")
    if args.plan_out is not None and args.integrated:
        plan = integrated.integrated_plan(prior, arch, seed=args.seed, train_size=args.train_size or 8,
                                          encoding=args.encoding, precision=args.precision)  # fmt: skip
        decisive.write_plan(plan, args.plan_out)
        if not args.quiet:
            print(f"wrote {args.plan_out}: the integrated-pressure plan (version {integrated.PLAN_VERSION}), seed "
                  f"{args.seed}")  # fmt: skip
        return 0
    if args.integrated:
        raise CountnetsError("--integrated applies to --plan-out (a version-2 plan file says its own design)")
    if args.plan_out is not None:
        if args.train_size is None:
            raise CountnetsError("--plan-out needs --train-size (points per training set)")
        rng = tuple(args.log_odds_range)
        if len(rng) != 2:
            raise CountnetsError(f"--log-odds-range must be lo,hi, got {list(rng)}")
        plan = decisive.plan_pairs(
            prior, arch, n_pairs=check_positive_int("--pairs", args.pairs), train_size=args.train_size,
            n_samples=args.samples, seed=args.seed, log_odds_range=rng, min_count=args.min_count,
            tolerance=args.slot_tolerance, rare=_rare_options(args),
            encoding=args.encoding, chunk_size=args.chunk_size, precision=args.precision, confidence=args.confidence,
            devices=args.devices,
        )  # fmt: skip
        decisive.write_plan(plan, args.plan_out)
        if not args.quiet:
            print(f"wrote {args.plan_out}: {len(plan['pairs'])} pairs, {len(plan['skipped'])} candidates skipped")
        return 0
    cfg = TrainConfig(optimizer="sgd", learning_rate=args.lr, loss=args.loss, max_steps=args.max_steps,
                      precision=args.precision)  # fmt: skip
    result = decisive.flip_decisive(
        decisive.check_plan(plan, args.plan), prior, arch, cfg, optimizers=hex_list(args.optimizers),
        lambdas=decisive.DEFAULT_LAMBDAS if args.lambdas is None else args.lambdas,
        tilt_lambdas=args.tilt_lambdas, tilt_loss=args.tilt_loss, n_runs=check_positive_int("--runs", args.runs),
        n_boot=args.bootstrap, replicas=args.replicas, n_particles=args.particles, n_moves=args.moves,
        confidence=args.confidence, encoding=args.encoding, chunk_size=args.chunk_size, devices=args.devices,
        pair_limit=args.pair_limit, check_steps=args.check_steps,
    )  # fmt: skip
    return result


def run_integrated(args: argparse.Namespace, plan: dict, prior: Any, arch: Any) -> CountResult | int:
    """Run a version-2 (integrated-pressure) plan's ``--stages`` (default: all), resumable with ``--checkpoint``."""
    from countnets.experiments.flip_decisive import integrated as run

    if args.stages is None:
        stages = run.STAGES
    elif args.stages.strip() == "none":  # analyse what the checkpoint holds, run nothing
        stages = ()
    else:
        stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
        if not stages:
            raise CountnetsError("--stages needs at least one stage, or 'none' to analyse what the checkpoint holds")
    return run.run_integrated(plan, prior, arch, stages=stages, checkpoint=args.checkpoint,
                              max_seconds=args.max_seconds, progress=not args.quiet)  # fmt: skip
