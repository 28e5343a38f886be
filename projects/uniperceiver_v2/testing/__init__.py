"""Helpers for tests, benchmarks and the analysis tools (as ``mmdet.testing``).

- :mod:`.offline_build`: load a config and build its model without network access (hub text
  encoders become same-architecture stand-ins, ``Pretrained`` init is dropped);
- :mod:`.synthetic_inputs`: a synthetic batch of any task's kind;
- :mod:`.train_record_hook`: ``TrainRecordHook`` (registered on import of this module), which
  records every training iteration of a real run, and small run configs that use it;
- :mod:`.fixtures`: pytest fixtures with a tiny generated synthetic dataset;
- :mod:`.detection`: tiny detection batches and the tiny proposal-network config;
- :mod:`.entry_points`: running ``tools/train.py`` / ``tools/dist_train.sh`` from tests;
- :mod:`.real_layouts`, :mod:`.real_configs`: a mock of the real datasets' file layouts and run
  configs of the shipped real configs on it;
- :mod:`.step_memory_hook`: seconds and peak host memory of every step.
"""
from .offline_build import build_model, load_config, make_text_stub, stub_text_encoders
from .synthetic_inputs import resolve_device, synthetic_batch, task_kind
from .train_record_hook import TrainRecordHook, write_small_run_config

__all__ = ['build_model', 'load_config', 'make_text_stub', 'stub_text_encoders', 'resolve_device',
           'synthetic_batch', 'task_kind', 'TrainRecordHook', 'write_small_run_config']
