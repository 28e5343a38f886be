"""FLOPs per task of a Uni-Perceiver v2 config (``--params`` adds the parameter table).

    python tools/analysis/get_flops.py configs/upv2_r50_8xgpu-150k_coco-in1k.py --offline-text-stub

The implementation is :mod:`uniperceiver_v2.analysis.get_flops`; ``--help`` lists the options.
"""
from uniperceiver_v2.analysis.get_flops import main

if __name__ == '__main__':
    main()
