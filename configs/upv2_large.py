# Short name of Uni-Perceiver v2 Large: configs/upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py.
_base_ = ['./upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py']
