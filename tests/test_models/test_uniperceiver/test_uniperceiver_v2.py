"""UniPerceiverV2 model: routing by the batch's 'task' key through train_step / val_step, the data
preprocessor (mmdet and mmpretrain samples, text-only batches), language modelling, text corpus."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

CLASSES = ['red circle', 'blue square', 'green triangle']


def two_task_model(build_model):
    return build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES),
                            mlm=dict(type='LanguageModelingTask', vocabulary=list(range(999, 1200)))))


def image_batch(task):
    imgs = [torch.randint(0, 255, (3, 64, 60), dtype=torch.uint8),
            torch.randint(0, 255, (3, 60, 64), dtype=torch.uint8)]
    samples = [DataSample(metainfo=dict(img_shape=(64, 60))).set_gt_label(1),
               DataSample(metainfo=dict(img_shape=(60, 64))).set_gt_label(2)]
    return dict(inputs=imgs, data_samples=samples, task=task)


def test_train_step_routes_by_task_key(build_model):
    model = two_task_model(build_model)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    log = model.train_step(image_batch('cls'), optim)
    assert 'loss_cls' in log and 'loss_mlm' not in log
    text = pseudo_collate([dict(data_samples=DataSample(text='a red circle on the left')),
                           dict(data_samples=DataSample(text='two blue squares'))])
    text['task'] = 'mlm'
    log = model.train_step(text, optim)
    assert 'loss_mlm' in log and torch.isfinite(log['loss'])
    # without the task key and with two tasks configured: a clear error
    with pytest.raises(ValueError, match='"task" key'):
        model.train_step(image_batch(None), optim)


def test_val_step_and_preprocessor_keep_task(build_model):
    model = two_task_model(build_model)
    data = model.data_preprocessor(image_batch('cls'), False)
    assert data['task'] == 'cls' and data['inputs'].shape == (2, 3, 64, 64)
    assert data['data_samples'][0].batch_input_shape == (64, 64)
    out = model.val_step(image_batch('cls'))
    assert out[0].pred_score.shape == (3,)
    # mmdet samples with masks are padded like DetDataPreprocessor does
    from mmdet.structures.mask import BitmapMasks
    det = DetDataSample(metainfo=dict(img_shape=(60, 64)))
    det.gt_instances = __import__('mmengine').structures.InstanceData(
        masks=BitmapMasks(torch.ones(1, 60, 64).numpy(), 60, 64), bboxes=torch.zeros(1, 4))
    batch = dict(inputs=[torch.zeros(3, 60, 64, dtype=torch.uint8)], data_samples=[det],
                 task=['cls'])
    pre = model.data_preprocessor.__class__(pad_size_divisor=32, pad_mask=True)
    out = pre(batch, True)
    assert out['data_samples'][0].gt_instances.masks.masks.shape[-2:] == (64, 64)
    assert out['task'] == 'cls'


def test_language_modeling_loss_matches_formula(build_model):
    model = two_task_model(build_model).eval()
    task = model.tasks['mlm']
    ids, att = model.text_encoder.tokenize(['a red circle and a blue square'])
    g = torch.Generator().manual_seed(0)
    masked, chosen = task.mask_tokens(model, ids, att, generator=g)
    assert chosen.any() and not chosen[0, 0]  # never the begin token
    vocab_ids, lut = task.vocabulary(model)
    feats = model.text_encoder(masked, att)
    out = model.decoder(feats, [('text_input', feats.shape[1])], att == 0)[:, 1:]
    vemb = model.decoder(model.text_encoder.embed_vocabulary(vocab_ids)[:, None],
                         [('vocabulary_target', 1)])[:, 0]
    logits = F.normalize(out, dim=-1) @ F.normalize(vemb, dim=-1).t() / 0.07
    tgt = lut[ids][chosen]
    expected = F.cross_entropy(logits[chosen][tgt >= 0], tgt[tgt >= 0])
    got = F.cross_entropy(task.logits(model, masked, att).flatten(0, 1),
                          lut[ids].masked_fill(~chosen, -100).flatten(), ignore_index=-100)
    assert torch.allclose(got, expected, atol=1e-4)
    filled = model(None, [DataSample(text='a [MASK] circle')], mode='predict', task='mlm')
    assert isinstance(filled[0].pred_text, str)


def test_text_corpus_dataset(tmp_path):
    f = tmp_path / 'corpus.txt'
    f.write_text('a red circle\n\n  two blue squares  \n', encoding='utf-8')
    ds = DATASETS.build(dict(type='TextCorpusDataset', ann_file=str(f),
                             pipeline=[dict(type='mmpretrain.PackInputs', algorithm_keys=['text'])]))
    assert len(ds) == 2 and ds[1]['data_samples'].text == 'two blue squares'
    assert 'inputs' not in ds[0]
    with pytest.raises(FileNotFoundError, match='ann_file'):
        DATASETS.build(dict(type='TextCorpusDataset', ann_file=str(tmp_path / 'none.txt')))


def test_config_errors(build_model):
    with pytest.raises(ValueError, match='model.tasks'):
        build_model({})
    with pytest.raises(ValueError, match='empty'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=[])))
    with pytest.raises(ValueError, match='families'):
        build_model(dict(cls=dict(type='ClassificationTask', class_names=CLASSES,
                                  family='unknown_family')))
