"""The ImageNet-1k candidate set of the classification task: 1,000 distinct names.

Two identical names are one likelihood target for two labels (the second is never predicted);
a name that is a single word which is also another class's name or synonym (mmpretrain's 'crane'
twice, 'maillot' beside 'maillot, tank suit') is nearly so.
"""
import os.path as osp

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def class_names() -> tuple:
    return Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets',
                                    'imagenet1k.py')).in1k_class_names


def test_imagenet_names_are_distinct():
    names = class_names()
    assert len(names) == 1000
    lowered = [n.strip().lower() for n in names]
    duplicates = sorted({n for n in lowered if lowered.count(n) > 1})
    assert not duplicates, duplicates
    assert names[134] == 'crane (bird)' and names[517] == 'crane (machine)'


def test_no_imagenet_name_is_another_class_synonym():
    names = class_names()
    synonyms = {}
    for label, name in enumerate(names):
        for synonym in name.split(', '):
            synonyms.setdefault(synonym.strip().lower(), set()).add(label)
    clashes = {name: sorted(synonyms[name.lower()] - {label})
               for label, name in enumerate(names)
               if synonyms.get(name.lower(), set()) - {label}}
    assert not clashes, clashes


def test_r50_config_uses_the_names():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'upv2_r50_8xgpu-150k_coco-in1k.py'))
    assert tuple(cfg.model.tasks.in1k_cls.class_names) == class_names()
