"""Generate the embedded synthetic multi-task dataset (default: ``data/synthetic``).

    python tools/data/generate_synthetic.py --out-dir data/synthetic --seed 0

The implementation is :mod:`uniperceiver_v2.datasets.synthetic_scenes.cli`; ``--help`` lists the
options and ``docs/dataset_preparation.md`` describes the layout.
"""
import sys

from uniperceiver_v2.datasets.synthetic_scenes.cli import main

if __name__ == '__main__':
    sys.exit(main())
