"""The grounding / semantic-segmentation datasets of the configs, built on the tiny synthetic
scenes: the embedded ones as shipped, the real RefCOCO / RefCOCO+ / RefCOCOg and ADE20K ones
pointed at the synthetic files (same dataset classes and pipelines)."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from uniperceiver_v2.datasets.synthetic_scenes import REFS_FILE, generate_grounding_and_semseg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def data_root(synthetic_data, tmp_path_factory) -> str:
    """The run's tiny scenes plus their referring expressions and label maps."""
    root = tmp_path_factory.mktemp('synthetic_gs_cfg')
    for name in os.listdir(synthetic_data['data_root']):
        os.symlink(osp.join(synthetic_data['data_root'], name), root / name)
    with open(osp.join(root, 'meta', 'generation.json')) as f:
        args = json.load(f)  # the shared copy's sizes
    generate_grounding_and_semseg(str(root), **{k: args[k] for k in (
        'num_train', 'num_val', 'num_test', 'image_size', 'seed')})
    return str(root)


def build(dataset: dict):
    init_default_scope('mmdet')
    return DATASETS.build(dataset)


def test_embedded_grounding_and_semseg_datasets(data_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-1900it_synthetic-7task.py'))
    ground = build(dict(cfg.val_dataloader.syn_ground.dataset.to_dict(), data_root=data_root))
    sample = ground[0]
    assert isinstance(sample['data_samples'].text, str)
    assert sample['data_samples'].gt_bboxes.shape == (1, 4)
    assert sample['data_samples'].metainfo['scale_factor'] == (2.0, 2.0)  # 64 px -> 128 px
    seg = build(dict(cfg.train_dataloader.syn_seg.dataset.to_dict(), data_root=data_root))
    assert len(seg) == len(os.listdir(osp.join(data_root, 'train')))
    assert seg[0]['data_samples'].gt_sem_seg.data.shape == (1, 64, 64)


@pytest.mark.parametrize('task', ['refcoco_ground', 'refcocop_ground', 'refcocog_ground'])
def test_real_refcoco_configs_read_the_refcoco_layout(data_root, task):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py'))
    dataset = cfg.val_dataloader[task].dataset.to_dict()
    assert dataset['data_prefix'] == 'train2014' and dataset['data_root'] == 'data/coco'
    assert dataset['split_file'].endswith(('refs(unc).p', 'refs(umd).p'))
    dataset.update(data_root=data_root, data_prefix='', ann_file='refcoco/instances.json',
                   split_file=f'refcoco/{REFS_FILE}')
    sample = build(dataset)[0]['data_samples']
    assert sample.metainfo['img_shape'][0] == 800 or sample.metainfo['img_shape'][1] == 1333
    assert sample.gt_bboxes.shape == (1, 4) and sample.text


def test_real_ade20k_config_reads_the_mmseg_layout(data_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py'))
    assert len(cfg.model.tasks.ade_seg.class_names) == 150
    for split, loader in (('train', cfg.train_dataloader.ade_seg),
                          ('val', cfg.val_dataloader.ade_seg)):
        dataset = loader.dataset.to_dict()
        assert dataset['type'] == 'mmseg.ADE20KDataset'
        assert dataset['data_root'] == 'data/ade/ADEChallengeData2016'
        dataset.update(data_root=data_root, img_suffix='.png',
                       data_prefix=dict(img_path=split, seg_map_path=f'semseg/{split}'))
        sample = build(dataset)[0]['data_samples']
        assert sample.gt_sem_seg.data.shape[-2:] == tuple(sample.metainfo['img_shape'][:2]) \
            or split == 'val'
