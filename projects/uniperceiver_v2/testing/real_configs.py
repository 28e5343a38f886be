"""Run configs that take a shipped real-data config as it is, overriding only what a machine
without the model hub forces (the text model, ``Pretrained`` URLs) and size (iterations, batch,
image scales, optionally the backbone), for the integration tests on the mock of the real layouts
(:mod:`.real_layouts`).
"""
import copy
from pathlib import Path
from typing import Dict, Optional, Union

from mmengine.config import Config

from .offline_build import drop_pretrained_init

#: The caption file whose words are the captioning / language-modelling vocabulary of the runs
#: (the full tokenizer vocabulary as target set does not fit a CPU run).
CAPTIONS = 'data/coco/annotations/coco_karpathy_train.json'
#: Depth overrides of the CI runs: one decoder layer, a shallower proposal transformer.
SMALL_DEPTH = {'model.decoder.num_layers': 1,
               'model.image_encoder.proposal_network.encoder.num_layers': 1,
               'model.image_encoder.proposal_network.decoder.num_layers': 2}
#: A small Swin in place of Large's Swin-L (197M parameters do not fit a CI machine with the rest
#: of the model and AdamW's state), with Swin-L's pretrained URL kept (resume must not fetch it).
SMALL_SWIN = dict(backbone=dict(type='SwinTransformer', pretrain_img_size=384, embed_dims=48,
                                depths=[1, 1, 1, 1], num_heads=[3, 6, 12, 24], window_size=12,
                                out_indices=(0, 1, 2, 3), with_cp=True, convert_weights=True,
                                init_cfg=dict(type='Pretrained', checkpoint=(
                                    'https://github.com/SwinTransformer/storage/releases/'
                                    'download/v1.0.0/swin_large_patch4_window12_384_22k.pth'))),
                  in_channels=[48, 96, 192, 384])
#: The shipped real configs run on the mock: name -> config (under ``configs/``), the
#: vocabulary overrides of its text-target tasks, a backbone replacement (or None), and whether
#: the CI run validates and tests it (Large shares Base's tasks and data: trained and resumed).
REAL_RUNS: Dict[str, tuple] = {
    'r50_4task': ('upv2_r50_8xgpu-150k_coco-in1k.py',
                  {'model.tasks.coco_cap.vocabulary': CAPTIONS}, None, True),
    'r50_grounding_semseg': ('upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py',
                             {'model.tasks.coco_cap.vocabulary': CAPTIONS}, None, True),
    'base': ('upv2_base.py', {'model.tasks.coco_cap.vocabulary': CAPTIONS,
                              'model.tasks.lm.vocabulary': CAPTIONS}, None, True),
    'large': ('upv2_large.py', {'model.tasks.coco_cap.vocabulary': CAPTIONS,
                                'model.tasks.lm.vocabulary': CAPTIONS}, SMALL_SWIN, False),
}


def offline_env(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A subprocess environment in which every download fails at once: hub offline, HTTP(S)
    through a closed local port, an empty torch hub cache.

    Args:
        base (dict, optional): the environment to start from (default ``os.environ``).
    """
    import os
    env = dict(os.environ if base is None else base)
    closed = 'http://127.0.0.1:9'
    env.update(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', TOKENIZERS_PARALLELISM='false',
               HTTP_PROXY=closed, HTTPS_PROXY=closed, http_proxy=closed, https_proxy=closed,
               TORCH_HOME='/nonexistent-torch-home')
    return env


#: Pipeline keys that hold an image size (int or (w, h) / list of them) in mmdet, mmpretrain and
#: mmseg transforms.
SCALE_KEYS = ('scale', 'scales', 'crop_size')
#: Smallest size a shrunk scale takes: the proposal network needs at least num_queries=300
#: encoder tokens (113 px).
MIN_SIZE = 128


def _scaled(value, factor: float):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(MIN_SIZE, int(round(value * factor)))
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, factor) for v in value)
    return value


def shrink_scales(node, factor: float) -> None:
    """Multiply every image size of every pipeline transform under ``node`` by ``factor``
    (in place; at least :data:`MIN_SIZE` px): ``scale``, ``scales`` and ``crop_size`` of any transform.

    Args:
        node (dict | list): a config node (e.g. ``cfg.train_dataloader``).
        factor (float): the factor (e.g. 0.25: 1333x800 -> 333x200).
    """
    if isinstance(node, dict):
        if 'type' in node:
            for key in SCALE_KEYS:
                if key in node:
                    node[key] = _scaled(node[key], factor)
        for value in node.values():
            shrink_scales(value, factor)
    elif isinstance(node, (list, tuple)):
        for value in node:
            shrink_scales(value, factor)


def _loaders(cfg: Config, split: str) -> dict:
    """The task -> loader dict of ``<split>_dataloader`` (empty when there is none)."""
    return cfg.get(f'{split}_dataloader') or {}


def write_real_run_config(config: Union[str, Path], out_path: Union[str, Path],
                          text_model: Optional[str], max_iters: int, batch_size: int = 1,
                          scale_factor: float = 1.0, drop_pretrained: bool = True,
                          proposal_checkpoint: Optional[str] = None,
                          backbone: Optional[dict] = None, num_workers: Optional[int] = None,
                          eval_batch_size: Optional[int] = None,
                          extra: Optional[dict] = None) -> Path:
    """Write a runnable copy of the shipped ``config`` (every ``_base_`` resolved) with only the
    overrides a run on the mock of the real layouts needs.

    Args:
        config (str | Path): the shipped config.
        out_path (str | Path): where the run config is written (``Config.dump``).
        text_model (str, optional): a local text-model directory that replaces the hub name of
            every ``TextEncoder`` (its weights are not loaded when the directory holds none, see
            :func:`~uniperceiver_v2.testing.offline_build.make_text_stub`); None keeps the hub
            name (a hub cache is needed then).
        max_iters (int): training iterations; validation and a checkpoint at the last one.
        batch_size (int): every training data loader's batch size.
        scale_factor (float): factor on every pipeline image size (:func:`shrink_scales`).
        drop_pretrained (bool): drop every ``Pretrained`` ``init_cfg`` (no download).
        proposal_checkpoint (str, optional): ``model.image_encoder.proposal_checkpoint`` (None:
            start without stage 1).
        backbone (dict, optional): replaces the proposal network's backbone (``_delete_``-style
            full replacement) together with ``neck.in_channels`` and
            ``global_tokens.in_channels``: keys ``backbone``, ``in_channels``.
        num_workers (int, optional): every loader's workers (None: as the config says).
        eval_batch_size (int, optional): every val / test loader's batch size (None: as the
            config says).
        extra (dict, optional): further ``merge_from_dict`` overrides.

    Returns:
        Path: ``out_path``.
    """
    cfg = Config.fromfile(str(config))
    model = cfg.model.to_dict()
    encoder = model['image_encoder']
    encoder['proposal_checkpoint'] = proposal_checkpoint
    if backbone is not None:
        encoder['proposal_network']['backbone'] = copy.deepcopy(backbone['backbone'])
        encoder['proposal_network']['neck']['in_channels'] = list(backbone['in_channels'])
        encoder['global_tokens']['in_channels'] = backbone['in_channels'][-1]
    if drop_pretrained:  # after the backbone swap: its Pretrained URL goes too
        drop_pretrained_init(model)
    if text_model is not None:
        model['text_encoder']['pretrained'] = text_model
        if not any(Path(text_model, f).exists() for f in ('model.safetensors',
                                                           'pytorch_model.bin')):
            model['text_encoder']['load_weights'] = False
    cfg.model = model
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.checkpoint.pop('save_best', None)
    for split in ('train', 'val', 'test'):
        for loader in _loaders(cfg, split).values():
            if split == 'train':
                loader.batch_size = batch_size
            elif eval_batch_size is not None:
                loader.batch_size = eval_batch_size
            if num_workers is not None:
                loader.num_workers = num_workers
                loader.persistent_workers = num_workers > 0 and loader.get(
                    'persistent_workers', False)
            if scale_factor != 1.0:
                # val and test loaders may share one dataset dict: shrink each once
                loader.dataset = copy.deepcopy(loader.dataset)
                shrink_scales(loader.dataset, scale_factor)
    if extra:
        cfg.merge_from_dict(extra)
    cfg.dump(str(out_path))
    return Path(out_path)
