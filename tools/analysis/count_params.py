"""Parameters of a Uni-Perceiver v2 config per component, as trained and as deployed.

    python tools/analysis/count_params.py configs/upv2_base.py --offline-text-stub

The implementation is :mod:`uniperceiver_v2.analysis.count_params`; ``--help`` lists the options.
"""
from uniperceiver_v2.analysis.count_params import main

if __name__ == '__main__':
    main()
