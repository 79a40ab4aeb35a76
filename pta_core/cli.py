"""The ``pta`` command line: thin argparse front ends over library functions.

Each sub-command lives in ``pta_core/commands/<name>.py`` and exposes ``add_arguments(parser)``
and ``run(args) -> int``. Modules load lazily, so ``pta --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("pta_core.commands.generate", "write a synthetic MM-Fi or XRF55 tree in the official layout"),
    "pack": ("pta_core.commands.pack", "pack a dataset split into memory-mapped arrays"),
    "train": ("pta_core.commands.train", "train PTA, a baseline or an ablation"),
    "eval": ("pta_core.commands.eval", "evaluate checkpoints over modality combinations"),
    "stats": ("pta_core.commands.stats", "raw input statistics of a training split (sets the CSI scaling)"),
    "export": ("pta_core.commands.export", "export a model file to ONNX graphs, checked against PyTorch"),
}


def build_parser(with_commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pta", description="Purify-then-Align: data, training, evaluation")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if with_commands is None or name in with_commands:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                if err.name != module_name:
                    raise
                command.set_defaults(unavailable=name)
                continue
            module.add_arguments(command)
            command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = [a for a in argv if a in COMMANDS][:1]
    parser = build_parser(chosen or [])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "unavailable", None):
        parser.error(f"command {args.unavailable!r} is not available in this build")
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
