"""DDP for multi-task training: the batch's task reaches the optimizer, CPU and GPU alike."""
from typing import Dict, List, Optional

from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS
from torch import Tensor, nn

from ..engine.train_step import MultiTaskTrainStep


@MODEL_WRAPPERS.register_module()
class MultiTaskDistributedDataParallel(MultiTaskTrainStep, MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose ``train_step`` hands ``batch['task']`` to the optimizer.

    The update is :class:`~uniperceiver_v2.engine.MultiTaskTrainStep`'s (the model's own
    ``train_step``), with the loss forward through DDP.

    Each task reaches only part of the model (another task's temperature, the detection logit
    bias, the denoising queries outside detection ...), so multi-task configs build it with
    ``find_unused_parameters=True``: after every backward DDP marks the parameters this
    iteration did not reach as ready (one extra traversal of the autograd graph; measured cost in
    experiments/component_benchmarks/README.md, "Several processes").  ``device_ids`` is dropped
    for CPU modules (gloo), because MMEngine passes ``[LOCAL_RANK]`` and DDP refuses device ids
    for CPU modules; so the same config trains on GPUs (nccl) and CPU-only machines (gloo).

    Config (set in the UniPerceiverV2 model bases)::

        model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel',
                                 find_unused_parameters=True)

    Args:
        module (nn.Module): the model (``UniPerceiverV2``).
        detect_anomalous_params (bool): as in ``MMDistributedDataParallel``.
        device_ids (list[int], optional): ignored for CPU modules.
        **kwargs: ``torch.nn.parallel.DistributedDataParallel`` arguments.
    """

    def __init__(self, module: nn.Module, detect_anomalous_params: bool = False,
                 device_ids: Optional[List[int]] = None, **kwargs) -> None:
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, detect_anomalous_params=detect_anomalous_params,
                         device_ids=device_ids, **kwargs)

    def task_names(self) -> Optional[List[str]]:
        """The wrapped model's tasks (see :meth:`MultiTaskTrainStep.task_names`)."""
        module = self.module
        return module.task_names() if isinstance(module, MultiTaskTrainStep) else None

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """The shared multi-task update, then DDP's anomalous-parameter check when asked for.

        Args:
            data (dict): the collated batch with ``'task'``.
            optim_wrapper (OptimWrapper): the optimizer wrapper.

        Returns:
            dict[str, Tensor]: the log variables.
        """
        parsed_loss, log_vars = self.multi_task_update(data, optim_wrapper)
        if self.detect_anomalous_params:
            self._detect_anomalous_params(parsed_loss, model=self)
        return log_vars

