# Flickr30k image-text retrieval, Karpathy split (data/flickr30k: flickr30k-images/,
# annotations/dataset_flickr30k.json; docs/dataset_preparation.md), evaluated zero-shot [paper]: no train
# loader, the COCO-trained retrieval weights are used as they are.  mmpretrain Flickr30kRetrieval,
# the plugin's BidirectionalRetrievalRecall.  Names prefixed `flickr_ret_`.
flickr_ret_data_root = 'data/flickr30k'
flickr_ret_test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='mmpretrain.CleanCaption', keys='text'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'],
         meta_keys=['image_id', 'img_shape']),
]
# val and test differ only in the split
flickr_ret_eval_loader = dict(batch_size=64, num_workers=2, persistent_workers=False,
                              sampler=dict(type='DefaultSampler', shuffle=False))
flickr_ret_eval_dataset = dict(type='mmpretrain.Flickr30kRetrieval', data_root=flickr_ret_data_root,
                               data_prefix='flickr30k-images',
                               ann_file='annotations/dataset_flickr30k.json',
                               pipeline=flickr_ret_test_pipeline, test_mode=True)
flickr_ret_val_dataloader = dict(**flickr_ret_eval_loader,
                                 dataset=dict(**flickr_ret_eval_dataset, split='val'))
flickr_ret_test_dataloader = dict(**flickr_ret_eval_loader,
                                  dataset=dict(**flickr_ret_eval_dataset, split='test'))
flickr_ret_val_evaluator = dict(type='BidirectionalRetrievalRecall', topk=(1, 5, 10))
flickr_ret_test_evaluator = flickr_ret_val_evaluator
