# Short name of Uni-Perceiver v2 Base: configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py.
_base_ = ['./upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py']
