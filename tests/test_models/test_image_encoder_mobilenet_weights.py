"""The embedded default backbone: torchvision -> mmdet MobileNetV2 key remap and weight loading."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torchvision

import uniperceiver_v2  # noqa: F401
from uniperceiver_v2.models.backbones.torchvision_mobilenet_v2 import (
    WEIGHTS_PACKAGE, TorchvisionMobileNetV2, convert_torchvision_mobilenet_v2,
    find_packaged_weights)

ROOT = osp.join(osp.dirname(__file__), '..', '..')


def _has_package() -> bool:
    try:
        find_packaged_weights()
        return True
    except FileNotFoundError:
        return False


def _torchvision_features(model, x):
    outs = []
    for i, layer in enumerate(model.features):
        x = layer(x)
        if i in (3, 6, 13, 18):       # ends of mmdet layers 2, 3, 5 and conv2
            outs.append(x)
    return outs


def test_converted_random_torchvision_weights_give_identical_features():
    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2().eval()
    for m in tv.modules():   # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    mm = TorchvisionMobileNetV2(weights_package=None, out_indices=(1, 2, 4, 7))
    mm.eval()   # mmdet's MobileNetV2.train() returns None, so no chaining
    mm.load_state_dict(convert_torchvision_mobilenet_v2(tv.state_dict()), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(mm(x), _torchvision_features(tv, x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_unexpected_key_is_reported():
    with pytest.raises(KeyError, match='unexpected key'):
        convert_torchvision_mobilenet_v2({'backbone.weight': torch.zeros(1)})


def test_missing_package_error_is_clear():
    with pytest.raises(FileNotFoundError, match='not installed'):
        find_packaged_weights('no-such-weights-package-xyz')


@pytest.mark.skipif(not _has_package(),
                    reason=f'pip package {WEIGHTS_PACKAGE} (real ImageNet weights) not installed')
@pytest.mark.integration
def test_real_imagenet_weights_load_and_match_torchvision(tmp_path):
    path = find_packaged_weights()
    tv = torchvision.models.mobilenet_v2()
    tv.load_state_dict(torch.load(path, map_location='cpu', weights_only=True))
    tv.eval()
    mm = TorchvisionMobileNetV2(out_indices=(1, 2, 4, 7))
    mm.init_weights()
    mm.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(mm(x), _torchvision_features(tv, x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the converter script writes a checkpoint that mmdet's own MobileNetV2 loads strictly
    dst = tmp_path / 'mbv2_mmdet.pth'
    subprocess.run([sys.executable, osp.join(ROOT, 'tools/model_converters/'
                                             'mobilenet_v2_torchvision2mmdet.py'),
                    '--from-package', str(dst)], check=True, capture_output=True)
    from mmdet.models.backbones import MobileNetV2
    plain = MobileNetV2(out_indices=(1, 2, 4, 7))
    plain.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
