"""Inference throughput and training iteration time of every task of a Uni-Perceiver v2 config.

    python tools/analysis/benchmark.py configs/upv2_tiny_synthetic.py --device cpu

The implementation is :mod:`uniperceiver_v2.analysis.benchmark`; ``--help`` lists the options.
"""
from uniperceiver_v2.analysis.benchmark import main

if __name__ == '__main__':
    main()
