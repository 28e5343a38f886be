# Open vocabulary, stage 1: the class-agnostic proposal network trained on the 15 seen categories
# only (python experiments/open_vocabulary/open_vocabulary_split.py -> data/synthetic/open_vocab/): objects of the
# 5 held-out categories are unlabelled background here, as they are in stage 2
# (upv2_tiny_ov15_synthetic.py), so nothing in training tells the model they are objects.
_base_ = ['../../../configs/proposal_network/maskdino-proposal_mobilenetv2_1xcpu-800it_synthetic.py']
train_dataloader = dict(dataset=dict(ann_file='open_vocab/instances_train_seen.json'))
