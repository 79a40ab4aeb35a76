"""The `pta` command line (placeholder: grows with the data and model layers)."""
from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pta", description="Purify-then-Align: data, training, evaluation")
    parser.parse_args(argv)
    return 0
