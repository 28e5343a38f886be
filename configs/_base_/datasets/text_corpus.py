# Plain-text corpus for masked language modelling (Base/Large only [paper]): TextCorpusDataset, one
# sentence per line.  [ours] data/text_corpus/train.txt (the predecessors used BookCorpus + English
# Wikipedia [v1-code]; any UTF-8 text with one sentence per line works).  Training only: the paper
# reports no language-modelling metric.  Names prefixed `lm_`.
lm_data_root = 'data/text_corpus'
lm_train_dataloader = dict(
    batch_size=64,  # [ours] per GPU
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(type='TextCorpusDataset', data_root=lm_data_root, ann_file='train.txt',
                 pipeline=[dict(type='mmpretrain.PackInputs', algorithm_keys=['text'])]))
