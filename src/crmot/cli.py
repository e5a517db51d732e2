"""The ``crmot`` command: every stage and the tools around them.

``crmot tracklets|associate|train|infer <subcommand>`` is that stage's Lightning CLI over the packaged
config (``crmot/conf/<stage>.yaml``; ``--config`` names another); ``data``, ``evaluate``, ``zeroshot``,
``pretrain``, ``report`` and ``demo`` are plain commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from crmot.constants import DEMO_SEED, PROTOCOLS
from crmot.io import atomic_write_json
from crmot.stages.launch import INPUT_ERRORS, configure_logging

console = Console()


#: Stage commands -> (module whose ``main`` is the stage's Lightning CLI, one-line help).
STAGES = {
    "tracklets": ("crmot.stages.tracklets", "stage 1, per-view tracklets: crmot tracklets predict [--data.root ROOT] ..."),
    "associate": ("crmot.stages.associate", "stage 2, cross-view pseudo labels: crmot associate predict ..."),
    "train": ("crmot.stages.train", "stage 3, ViewSAM: crmot train fit [--trainer.devices 8] [--model.lr 1e-4] ..."),
    "infer": ("crmot.stages.evaluate", "stage 4, ViewSAM answers a split's expressions, scored: crmot infer predict ..."),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in STAGES:  # the stage's own Lightning CLI parses the rest
        import importlib

        importlib.import_module(STAGES[argv[0]][0]).main(argv[1:])
        return 0
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(RichHandler(console=console, show_path=False))
    try:
        return args.func(args) or 0
    except INPUT_ERRORS as err:
        if args.traceback:
            raise
        print(f"error: {err}", file=sys.stderr)  # plain and unwrapped: paths stay copyable
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmot", description=__doc__.splitlines()[0])
    help_traceback = "show the traceback of crmot's own errors too (any other error always shows one)"
    parser.add_argument("--traceback", action="store_true", help=help_traceback)
    common = argparse.ArgumentParser(add_help=False)  # the same flag after any command
    common.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=help_traceback)
    sub = parser.add_subparsers(required=True, metavar="command")
    for name, (_, text) in STAGES.items():  # listed here; run by main before this parser (see STAGES)
        sub.add_parser(name, help=text, add_help=False)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(required=True, metavar="action")
    gen = data.add_parser("generate", parents=[common], help="write the synthetic multi-view world as a CRTrack root")
    gen.add_argument("root", type=Path)
    gen.add_argument("--preset", default="demo", help="tiny | demo | bench, or a YAML path")
    gen.add_argument("--seed", type=int, default=DEMO_SEED)
    gen.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    gen.set_defaults(func=_generate)
    check = data.add_parser("check", parents=[common], help="validate a CRTrack root and print its summary")
    check.add_argument("root", type=Path)
    check.set_defaults(func=_check)
    imp = data.add_parser("import", parents=[common], help="synchronized videos or frame folders -> a CRTrack root")
    imp.add_argument("root", type=Path, help="CRTrack root to write (or add a scene to)")
    imp.add_argument("sources", type=Path, nargs="+", help="one video or folder of frames per view, in view order")
    imp.add_argument("--scene", required=True, help="scene name (no '_')")
    imp.add_argument("--split", default="test")
    imp.add_argument("--frame-rate", type=float, default=None, help="override (folders of frames default to 10)")
    imp.add_argument("--max-frames", type=int, default=None, help="import only the first N frames of each view")
    imp.add_argument("--expression", action="append", default=[], help="a sentence for stage 4 to answer (repeatable)")
    imp.set_defaults(func=_import)

    ev = sub.add_parser("evaluate", parents=[common], help="CVRIDF1 / CVRMA of predictions against ground truth")
    ev.add_argument("--gt", type=Path, required=True, help="dataset root, or per-expression GT folder")
    ev.add_argument("--pred", type=Path, required=True, help="folder of <Scene>_<Sentence>/View<K>.txt")
    ev.add_argument("--split", default="test")
    ev.add_argument("--protocol", choices=PROTOCOLS, default="crtrack")
    ev.add_argument("--json", type=Path, default=None, help="write the full report here")
    ev.add_argument("--strict", action="store_true",
                    help="stray files, empty or missing expression folders and views without GT are errors")
    ev.add_argument("--hota", action="store_true", help="per-view HOTA / DetA / AssA (needs TrackEval: crmot[hota])")
    ev.set_defaults(func=_evaluate)

    zs = sub.add_parser("zeroshot", parents=[common],
                        help="training-free CRMOT: answer a split's expressions with stage-2 identities")
    zs.add_argument("--data", type=Path, required=True, help="dataset root holding the expressions")
    zs.add_argument("--pseudo", type=Path, required=True, help="stage-2 label root (runs/<run>/pseudo)")
    zs.add_argument("--out", type=Path, required=True, help="prediction folder to write")
    zs.add_argument("--split", default="test")
    zs.add_argument("--threshold", type=float, default=0.5, help="matcher score an identity needs")
    zs.add_argument("--no-text", action="store_true", help="attributes only, no MiniLM sentence similarity")
    zs.set_defaults(func=_zeroshot)

    pre = sub.add_parser("pretrain", parents=[common],
                         help="pretrain SAM2 nano on class-agnostic masks of a separate synthetic world")
    pre.add_argument("--out", type=Path, default=None, help="checkpoint to write (default: the weights crmot ships)")
    pre.add_argument("--world", type=Path, default=Path("data/pretrain"), help="pretraining world (written if absent)")
    pre.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    pre.add_argument("--seed", type=int, default=None, help="world and training seed (default: the recipe's)")
    pre.add_argument("--accelerator", default="auto")
    pre.set_defaults(func=_pretrain)

    report = sub.add_parser("report", parents=[common], help="a run's figures and mosaic videos as one static HTML folder")
    report.add_argument("run", type=Path, help="run folder (runs/<RUN>: tracklets/, pseudo/, eval/, zeroshot/)")
    report.add_argument("--data", type=Path, required=True, help="the dataset root the run read")
    report.add_argument("--split", default="test")
    report.add_argument("--out", type=Path, default=None, help="report folder (default: RUN/report)")
    report.add_argument("--max-expressions", type=int, default=None, help="videos for the first N expressions per scene")
    report.set_defaults(func=_report)

    demo = sub.add_parser("demo", parents=[common], help="run the pipeline end to end on the synthetic demo world")
    demo.add_argument("--data", type=Path, default=Path("data/synth"))
    demo.add_argument("--run", type=Path, default=Path("runs/demo"))
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.add_argument("--train-steps", type=int, default=None,
                      help="ViewSAM nano training steps (default: conf/train_synthetic.yaml's)")
    demo.set_defaults(func=_demo)
    return parser


def _generate(args) -> None:
    from crmot.data.synthetic import generate, load_preset
    from crmot.progress import frame_progress

    with frame_progress(console, "writing views") as advance:
        summary = generate(args.root, load_preset(args.preset), seed=args.seed, workers=args.workers,
                           progress=lambda done, total: advance(str(args.root), done, total))
    console.print(f"wrote {len(summary['scenes'])} scenes, {summary['gt_boxes']} GT boxes to {args.root} "
                  f"in {summary['seconds']:.1f} s (preset {args.preset}, seed {args.seed})")
    _check(argparse.Namespace(root=args.root))


def _import(args) -> None:
    from crmot.data.importer import import_views
    from crmot.progress import frame_progress

    with frame_progress(console, f"importing {args.scene}") as advance:
        summary = import_views(args.root, args.scene, args.sources, args.split, args.frame_rate, args.max_frames,
                               args.expression, progress=advance)
    console.print(f"{summary['views']} views of {summary['frames']} frames written to {args.root} "
                  f"({args.split}/{args.scene}); next: crmot tracklets predict --data.root {args.root}")


def _check(args) -> None:
    from crmot.data.check import check_root, print_summary

    print_summary(check_root(args.root), console, title=f"CRTrack root {args.root}: valid")


def _evaluate(args) -> None:
    from crmot.metrics.evaluate import evaluate, print_report

    report = evaluate(args.gt, args.pred, split=args.split, protocol=args.protocol, strict=args.strict, hota=args.hota)
    print_report(report, console)
    if args.json:
        atomic_write_json(args.json, report)
        console.print(f"report written to {args.json}")


def _zeroshot(args) -> None:
    from crmot.association.matcher import ExpressionMatcher
    from crmot.association.zeroshot import answer_split

    encoder = None
    if not args.no_text:
        from crmot.models.text import SentenceEncoder

        encoder = SentenceEncoder()
    chosen = answer_split(args.data, args.pseudo, args.split, ExpressionMatcher(encoder, threshold=args.threshold), args.out)
    console.print(f"answered {len(chosen)} expressions of {args.split}: predictions in {args.out}")


def _pretrain(args) -> None:
    from dataclasses import replace

    from crmot.models.sam2 import SYNTHETIC_CHECKPOINT
    from crmot.pretraining.train import Recipe, pretrain

    changes = {k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None}
    out = args.out or SYNTHETIC_CHECKPOINT
    facts = pretrain(out, args.world, replace(Recipe(), **changes), accelerator=args.accelerator)
    last = facts["history"][-1] if facts["history"] else {}
    console.print(f"{facts['backbone']} written to {out} in {facts['seconds']:.0f} s "
                  f"(last 100 steps: loss {last.get('loss')}, mask IoU {last.get('mask_iou')})")


def _report(args) -> None:
    from crmot.progress import frame_progress
    from crmot.report import build_report

    with frame_progress(console, "report videos") as advance:
        index = build_report(args.run, args.data, args.split, args.out, max_expressions=args.max_expressions,
                             progress=advance)
    console.print(f"report written to {index}")


def _demo(args) -> None:
    from crmot.demo import run_demo

    run_demo(args.data, args.run, seed=args.seed, console=console, train_steps=args.train_steps)


if __name__ == "__main__":
    sys.exit(main())
