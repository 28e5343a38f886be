"""Multi-task testing: every task's test loader with its own evaluator, metrics keyed by task."""
from mmengine.registry import LOOPS

from .multi_task_val_loop import _MultiTaskEvalLoop


@LOOPS.register_module()
class MultiTaskTestLoop(_MultiTaskEvalLoop):
    """Test over several tasks: as :class:`MultiTaskValLoop`, with ``model.test_step``,
    ``test_dataloader``/``test_evaluator`` (keyed by task) and the ``*_test_*`` hooks.

    Config::

        test_dataloader = dict(cls=dict(<dataloader cfg>), caption=dict(...))
        test_evaluator = dict(cls=dict(type='mmpretrain.Accuracy'),
                              caption=dict(type='CaptionMetric'))
        test_cfg = dict(type='MultiTaskTestLoop')
    """
    stage = 'test'
