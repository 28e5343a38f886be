"""UniPerceiverV2: the shared encoders, decoder and likelihood head, and the tasks (paper Fig. 3).

The model owns what every task shares - ``image_encoder``, ``text_encoder``, ``decoder`` (g) and
``likelihood_head`` - and a ``ModuleDict`` of task formulations keyed by task name.  A batch is routed
to its task by the ``task`` key of the data batch (kept by the data preprocessor); nothing about
"the current task" is stored in the model.
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from torch import Tensor

from ..engine.train_step import MultiTaskTrainStep
from ..utils.task_batch import TASK_KEY


@MODELS.register_module()
class UniPerceiverV2(MultiTaskTrainStep, BaseModel):
    """Generalist model: every task is a likelihood between decoded input and target sequences.

    Its ``train_step`` is :class:`~uniperceiver_v2.engine.MultiTaskTrainStep`'s: TBGN weighs and
    normalises the gradient by the task that produced it (ω_k, s_k), so the task travels with the
    batch from the loader, through ``forward``, into ``optim_wrapper.update_params(loss,
    task=...)`` (``MultiTaskDistributedDataParallel`` shares the same implementation).

    Args:
        text_encoder (dict): config of :class:`TextEncoder`.
        decoder (dict): config of :class:`UnifiedDecoder`.
        tasks (dict[str, dict]): task name -> task config (e.g.
            ``dict(in1k_cls=dict(type='ClassificationTask', class_names=[...]))``).
        image_encoder (dict, optional): config of the image encoder (``forward(inputs,
            data_samples, num_proposals=None) -> ImageTokens`` and ``loss(...) -> (ImageTokens,
            losses)``); None for text-only models.
        likelihood_head (dict): config of :class:`UnifiedLikelihoodHead`.
        data_preprocessor (dict, optional): default ``UniPerceiverV2DataPreprocessor``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, text_encoder: dict, decoder: dict, tasks: Dict[str, dict],
                 image_encoder: Optional[dict] = None,
                 likelihood_head: dict = dict(type='UnifiedLikelihoodHead'),
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='UniPerceiverV2DataPreprocessor')
        if isinstance(data_preprocessor, dict):  # mmdet scope, whatever the default scope is
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not tasks:
            raise ValueError('UniPerceiverV2: config key model.tasks is empty; configure at least '
                             'one task')
        self.image_encoder = MODELS.build(image_encoder) if image_encoder is not None else None
        self.text_encoder = MODELS.build(text_encoder)
        self.decoder = MODELS.build(decoder)
        self.likelihood_head = MODELS.build(likelihood_head)
        if self.text_encoder.out_channels != self.decoder.embed_dims:
            raise ValueError(f'UniPerceiverV2: model.text_encoder.out_channels='
                             f'{self.text_encoder.out_channels} != model.decoder.embed_dims='
                             f'{self.decoder.embed_dims}')
        self.tasks = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in tasks.items()})
        for name, task in self.tasks.items():
            if task.family not in self.likelihood_head.logit_scales:
                raise ValueError(f'UniPerceiverV2: task {name!r} uses temperature family '
                                 f'{task.family!r}, missing from model.likelihood_head.families')

    def target_parameters(self) -> List[Tensor]:
        """Parameters that target embeddings (class names, vocabulary) depend on."""
        return list(self.text_encoder.parameters()) + list(self.decoder.parameters())

    def select_task(self, task: Optional[str] = None) -> nn.Module:
        """The task component for ``task`` (the batch's ``task`` key).

        Without a name, only a single-task model has an answer; unknown names raise.
        """
        if task is None:
            if len(self.tasks) == 1:
                return next(iter(self.tasks.values()))
            raise ValueError(f'UniPerceiverV2: {len(self.tasks)} tasks are configured '
                             f"({list(self.tasks)}); the batch must name one in its '{TASK_KEY}' "
                             "key (train_cfg.type='MultiTaskTrainLoop' and the multi-task val/test "
                             'loops add it)')
        if task not in self.tasks:
            raise KeyError(f'UniPerceiverV2: unknown task {task!r}; configured tasks (model.tasks): '
                           f'{list(self.tasks)}')
        return self.tasks[task]

    def task_names(self) -> List[str]:
        """The configured tasks (``model.tasks``), which ``train_cfg.tasks`` must be among."""
        return list(self.tasks)

    def forward(self, inputs: Union[Tensor, List[Tensor], None] = None,
                data_samples: Optional[list] = None,
                mode: str = 'tensor', task: Optional[str] = None):
        """Route to the task.

        Args:
            inputs (Tensor, optional): ``(B, 3, H, W)`` images (None for text-only tasks).
            data_samples (list, optional): mmdet / mmpretrain data samples.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.
            task (str, optional): task name (the batch's ``task`` key).

        Returns:
            dict of losses, list of data samples, or the task's tensors.
        """
        t = self.select_task(task)
        if mode == 'loss':
            return t.loss(self, inputs, data_samples)
        if mode == 'predict':
            with torch.no_grad():
                return t.predict(self, inputs, data_samples)
        if mode == 'tensor':
            return t.tensor(self, inputs, data_samples)
        raise ValueError(f'UniPerceiverV2: invalid mode {mode!r}; use loss, predict or tensor')

    def predict_all(self, feats: Dict[str, Tensor], data_samples: list,
                    num_images: Optional[int] = None, num_texts: Optional[int] = None,
                    task: Optional[str] = None, **kwargs):
        """Retrieval over features collected by ``mode='tensor'`` (mmpretrain RetrievalValLoop).

        Without ``task`` the only task that has ``predict_all`` is used.
        """
        if task is None:
            candidates = [n for n, t in self.tasks.items() if hasattr(t, 'predict_all')]
            if len(candidates) != 1:
                raise ValueError('UniPerceiverV2.predict_all: pass task=<name>; retrieval tasks: '
                                 f'{candidates}')
            task = candidates[0]
        t = self.select_task(task)
        if not hasattr(t, 'predict_all'):
            raise ValueError(f'UniPerceiverV2.predict_all: task {type(t).__name__} has no '
                             'predict_all (only retrieval tasks do)')
        with torch.no_grad():
            return t.predict_all(self, feats, data_samples, num_images=num_images,
                                 num_texts=num_texts, **kwargs)
