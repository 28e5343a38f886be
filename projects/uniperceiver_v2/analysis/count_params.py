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

import torch.nn as nn
from mmengine.config import Config

from ..testing.offline_build import add_build_arguments, build_model, load_config, tool_parser

#: Published parameter counts (params needed at deployment), as the paper states them.
PAPER_PARAMS = {'UPv2-Base (Swin-B)': 308e6, 'UPv2-Large (Swin-L)': 446e6}


def numel(params) -> int:
    return int(sum(p.numel() for p in params))


def moe_deployed_saving(module: nn.Module, counted: set) -> int:
    """Parameters saved by counting each attribute-MoE FFN's experts once (E experts -> 1).

    Args:
        module (nn.Module): where to look for :class:`AttributeMoEFFN` layers.
        counted (set): ids of the parameters being counted (layers outside it are skipped).
    """
    from uniperceiver_v2.models.moe import AttributeMoEFFN
    saved = 0
    for m in module.modules():
        if isinstance(m, AttributeMoEFFN) and id(m.w1) in counted:
            per_expert = sum(p[0].numel() for p in (m.w1, m.b1, m.w2, m.b2))
            saved += per_expert * (m.w1.shape[0] - 1)
    return saved


def component_params(model: nn.Module) -> List[Tuple[str, int, int]]:
    """Parameters of each component of a :class:`UniPerceiverV2`.

    Returns:
        list[tuple[str, int, int]]: ``(component, trained params, deployed params)``; deployed =
        every attribute-MoE FFN counted as one expert (the chosen experts are merged into one
        dense FFN per token kind, so a deployed task needs the cost of one), routers kept.  The
        last row is the total.
    """
    rows = []
    enc = getattr(model, 'image_encoder', None)
    seen = set()

    def add(name: str, module: Optional[nn.Module]) -> None:
        if module is None:
            return
        params = [p for p in module.parameters() if id(p) not in seen]
        ids = {id(p) for p in params}
        seen.update(ids)
        total = numel(params)
        rows.append((name, total, total - moe_deployed_saving(module, ids)))

    if enc is not None:
        net = enc.proposal_network
        add('backbone', getattr(net, 'backbone', None))
        add('proposal network (neck, encoder, decoder, heads)', net)
        add('image tokens (global + proposal embeddings)', enc)
    add('text encoder', model.text_encoder)
    add('unified decoder', model.decoder)
    add('likelihood head + task heads', model)  # everything not counted above
    rows.append(('total', sum(r[1] for r in rows), sum(r[2] for r in rows)))
    return rows


def paper_reference(cfg: Config) -> Optional[Tuple[str, float]]:
    """The paper's parameter count for the config's backbone (Swin-B -> Base, Swin-L -> Large)."""
    try:
        bb = cfg.model.image_encoder.proposal_network.backbone
    except AttributeError:
        return None
    if bb.get('type') == 'SwinTransformer':
        dims = bb.get('embed_dims')
        if dims == 128:
            return 'UPv2-Base (Swin-B)', PAPER_PARAMS['UPv2-Base (Swin-B)']
        if dims == 192:
            return 'UPv2-Large (Swin-L)', PAPER_PARAMS['UPv2-Large (Swin-L)']
    return None


def format_param_table(rows: List[Tuple[str, int, int]],
                       reference: Optional[Tuple[str, float]]) -> str:
    """A markdown table of :func:`component_params` rows (millions) and the paper's count."""
    lines = ['| component | params (M, all experts) | params (M, deployed: experts once) |',
             '|---|---:|---:|']
    for name, total, deployed in rows:
        bold = '**' if name == 'total' else ''
        lines.append(f'| {bold}{name}{bold} | {total / 1e6:.1f} | {deployed / 1e6:.1f} |')
    if reference is not None:
        name, n = reference
        ours = rows[-1][2]
        lines.append(f'| paper: {name} | - | {n / 1e6:.0f} (ours / paper = {ours / n:.2f}) |')
    return '\n'.join(lines)


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

