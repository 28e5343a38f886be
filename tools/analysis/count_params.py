"""Parameters of a Uni-Perceiver v2 config per component, compared with the paper.

Prints a markdown table: backbone, proposal network, image-token embeddings, text encoder, unified
decoder, likelihood/task heads and the total - once with every MoE expert (what is trained) and once
"as deployed" (each attribute-MoE FFN counted as one expert: the routed experts are merged into one
dense FFN per token kind) - and the paper's count (308M Base, 446M Large) for Swin-B/Swin-L configs.

Usage::

    python tools/analysis/count_params.py configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py --offline-text-stub

Without internet the hub text encoder (``'roberta-base'``) cannot load; ``--offline-text-stub``
builds it with the published architecture and random weights (exact parameter count) and says so.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from offline_build import (add_build_arguments, build_model, load_config,  # noqa: E402
                           tool_parser)
from param_count import component_params, format_param_table, paper_reference  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): arguments (default ``sys.argv[1:]``).
    """
    parser = tool_parser(__doc__, with_tasks=False)
    add_build_arguments(parser)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    return args


def count(config: str, offline_text_stub: bool = False, cfg_options: Optional[dict] = None
          ) -> Tuple[List[Tuple[str, int, int]], str, List[str]]:
    """Build the model of ``config`` and count its parameters.

    Args:
        config (str): config path.
        offline_text_stub (bool): see ``--offline-text-stub``.
        cfg_options (dict, optional): ``--cfg-options``.

    Returns:
        tuple: the rows of :func:`component_params`, the printed table, the stubbed text models.
    """
    cfg = load_config(config, cfg_options)
    with tempfile.TemporaryDirectory() as tmp:
        model, stubbed = build_model(cfg, offline_text_stub, tmp, init_weights=False)
    rows = component_params(model)
    table = format_param_table(rows, paper_reference(cfg))
    return rows, table, stubbed


def main(argv: Optional[List[str]] = None) -> List[Tuple[str, int, int]]:
    """Print the parameter table of a config; returns its rows."""
    args = parse_args(argv)
    rows, table, stubbed = count(args.config, args.offline_text_stub, args.cfg_options)
    print(f'Parameters of {args.config}')
    if stubbed:
        print(f'NOTE: text encoder(s) {stubbed} replaced by offline stand-ins with the same '
              'architecture and random weights (--offline-text-stub); counts are exact.')
    print(table)
    return rows


if __name__ == '__main__':
    main()
