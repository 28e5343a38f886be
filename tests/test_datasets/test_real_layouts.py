"""The mock of the real layouts (uniperceiver_v2.testing.real_layouts) is read by every dataset and
evaluator of the shipped real configs, quirks included (real COCO category ids, a crowd RLE, an
image without annotations, grayscale JPEGs, Python-2 refer pickles, Karpathy / BLIP files)."""
import json
import os
import pickle

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from uniperceiver_v2.testing.entry_points import REPO_ROOT
from uniperceiver_v2.testing.real_layouts import COCO_CATEGORIES, generate_real_layouts

REAL_CONFIGS = ('upv2_r50_8xgpu-150k_coco-in1k.py',
                'upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py', 'upv2_base.py')


@pytest.fixture(scope='module')
def mock_cwd(tmp_path_factory):
    """A working directory whose ``data/`` is the mock (the configs' relative paths)."""
    d = tmp_path_factory.mktemp('real_mock')
    generate_real_layouts(str(d / 'data'))
    cwd = os.getcwd()
    os.chdir(d)
    yield d
    os.chdir(cwd)


def test_same_seed_same_files(tmp_path):
    a = generate_real_layouts(str(tmp_path / 'a'), seed=3)
    b = generate_real_layouts(str(tmp_path / 'b'), seed=3)
    for rel in ('annotations/instances_train2017.json', 'annotations/coco_karpathy_train.json',
                'refcoco/refs(unc).p', 'val2014/COCO_val2014_000000000042.jpg'):
        with open(os.path.join(a['coco'], rel), 'rb') as fa, \
                open(os.path.join(b['coco'], rel), 'rb') as fb:
            assert fa.read() == fb.read(), rel


def test_real_quirks_are_present(mock_cwd):
    coco = json.load(open('data/coco/annotations/instances_train2017.json'))
    ids = [c['id'] for c in coco['categories']]
    assert len(ids) == 80 and ids == sorted(ids) and ids[-1] == 90 and 12 not in ids
    assert [c['name'] for c in coco['categories']] == [c[1] for c in COCO_CATEGORIES]
    crowd = [a for a in coco['annotations'] if a['iscrowd']]
    assert crowd and isinstance(crowd[0]['segmentation']['counts'], list)
    annotated = {a['image_id'] for a in coco['annotations']}
    assert any(i['id'] not in annotated for i in coco['images'])
    from PIL import Image
    modes = {Image.open(f'data/coco/train2017/{i["file_name"]}').mode for i in coco['images']}
    assert modes == {'RGB', 'L'}
    refs = pickle.load(open('data/coco/refcoco/refs(unc).p', 'rb'))
    assert {r['split'] for r in refs} == {'train', 'val', 'testA', 'testB'}
    umd = pickle.load(open('data/coco/refcocog/refs(umd).p', 'rb'))
    assert {r['split'] for r in umd} == {'train', 'val', 'test'}
    train = json.load(open('data/coco/annotations/coco_karpathy_train.json'))
    assert train[0]['image_id'].startswith('coco_') and isinstance(train[0]['caption'], str)
    assert any(t['image'].startswith('val2014/') for t in train)  # Karpathy "restval"
    val = json.load(open('data/coco/annotations/coco_karpathy_val.json'))
    assert isinstance(val[0]['caption'], list)


def _datasets():
    """(config, split, task, dataset cfg) of every loader of the real configs, once each."""
    seen, out = set(), []
    for name in REAL_CONFIGS:
        cfg = Config.fromfile(str(REPO_ROOT / 'configs' / name))
        for split in ('train', 'val', 'test'):
            for task, loader in (cfg.get(f'{split}_dataloader') or {}).items():
                key = repr(loader.dataset.to_dict())
                if key not in seen:
                    seen.add(key)
                    out.append(pytest.param(loader.dataset.to_dict(), id=f'{task}-{split}'))
    return out


@pytest.mark.parametrize('dataset', _datasets())
def test_every_real_dataset_reads_the_mock(mock_cwd, dataset):
    """Built with the config's own arguments and pipeline; the first sample goes through it."""
    import uniperceiver_v2  # noqa: F401  (registers the plugin's datasets)
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    ds = DATASETS.build(dataset)
    assert len(ds) > 0
    sample = ds[0]
    if dataset['type'] != 'TextCorpusDataset':  # text-only language modelling
        assert sample['inputs'].shape[0] == 3  # grayscale files come out with 3 channels too
    if dataset['type'] == 'CocoDataset' and not dataset.get('test_mode'):
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        assert any(not info['instances'] for info in infos)  # the image without annotations
        flags = [inst['ignore_flag'] for info in infos for inst in info['instances']]
        assert 1 in flags  # the crowd region is ignored, not a box to learn


def test_every_real_evaluator_reads_the_mock(mock_cwd):
    import uniperceiver_v2  # noqa: F401
    from mmengine.registry import EVALUATOR
    init_default_scope('mmdet')
    for name in REAL_CONFIGS:
        cfg = Config.fromfile(str(REPO_ROOT / 'configs' / name))
        for split in ('val', 'test'):
            for task, evaluator in (cfg.get(f'{split}_evaluator') or {}).items():
                built = EVALUATOR.build(dict(type='Evaluator', metrics=evaluator))
                assert built.metrics, (name, split, task)
    # COCO ids are real ids: mmdet maps them to the 80 contiguous labels
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(data_root='data/coco/', ann_file='annotations/instances_val2017.json',
                     data_prefix=dict(img='val2017/'), test_mode=True, pipeline=[])
    assert ds.cat_ids == [c[0] for c in COCO_CATEGORIES]
    labels = [i['bbox_label'] for k in range(len(ds)) for i in ds.get_data_info(k)['instances']]
    assert labels and max(labels) < 80 and np.all(np.asarray(labels) >= 0)
