"""Write a tiny mock of the real datasets' layouts (COCO 2017/2014 + Karpathy/BLIP captions,
RefCOCO/+/g, ImageNet, Flickr30k, ADE20K, a text corpus) under one ``data`` folder.

    python tools/data/generate_real_layouts.py --out-dir data_mock

The implementation is :mod:`uniperceiver_v2.testing.real_layouts`; ``docs/real_datasets.md``
shows how to run the real configs on it.
"""
import sys

from uniperceiver_v2.testing.real_layouts import main

if __name__ == '__main__':
    sys.exit(main())
