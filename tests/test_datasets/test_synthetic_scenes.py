"""Tests of the synthetic multi-task scenes, read through the real mmdet / mmpretrain datasets."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs, Resize
from mmdet.evaluation import CocoMetric
from mmpretrain.datasets import COCOCaption, COCORetrieval, CustomDataset, ImageNet
from mmpretrain.datasets.transforms import CleanCaption, PackInputs
from mmpretrain.datasets.transforms import Resize as ClsResize
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from uniperceiver_v2.datasets.synthetic_scenes import (CLASSES, COLOUR_RGB, COLOURS, METAINFO, SceneObject, describe_scene,
                              encode_mask, generate_synthetic_scenes, rasterize_polygon,
                              render_scene)


def _files(root: str) -> dict:
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def test_metadata():
    assert len(CLASSES) >= 16 and len(set(CLASSES)) == len(CLASSES)
    assert CLASSES[0] == 'red circle'
    assert len(METAINFO['palette']) == len(CLASSES)


def test_deterministic_bytes(tmp_path):
    kwargs = dict(num_train=3, num_val=2, num_test=2, image_size=48, seed=7)
    generate_synthetic_scenes(str(tmp_path / 'a'), **kwargs)
    generate_synthetic_scenes(str(tmp_path / 'b'), **kwargs)
    first, second = _files(str(tmp_path / 'a')), _files(str(tmp_path / 'b'))
    assert len(first) == 3 + 2 + 2 + 3 * 3 + 3 + 2
    assert first == second
    generate_synthetic_scenes(str(tmp_path / 'c'), **{**kwargs, 'seed': 8})
    third = _files(str(tmp_path / 'c'))
    assert third['train/synthetic_train_000000000001.png'] != \
        first['train/synthetic_train_000000000001.png']


def test_layout_and_class_files(synthetic_data):
    root = synthetic_data['data_root']
    with open(synthetic_data['classes_file']) as f:
        assert tuple(f.read().splitlines()) == CLASSES
    for split, count in (('train', 12), ('val', 6), ('test', 6)):
        paths = synthetic_data[split]
        assert paths['num_images'] == count
        assert len(os.listdir(paths['img_dir'])) == count
        with open(paths['imagenet_ann']) as f:
            lines = f.read().splitlines()
        assert len(lines) == count
        for line in lines:
            name, label = line.split(' ')
            assert osp.isfile(osp.join(root, split, name)) and 0 <= int(label) < len(CLASSES)


def _coco_dataset(paths: dict, root: str, split: str, pipeline: list,
                  test_mode: bool = False) -> CocoDataset:
    return CocoDataset(
        data_root=root, ann_file=osp.relpath(paths[split]['instances'], root),
        data_prefix=dict(img=f'{split}/'), metainfo=dict(classes=CLASSES), pipeline=pipeline,
        test_mode=test_mode)


def test_coco_dataset_with_pipeline(synthetic_data):
    pipeline = [
        LoadImageFromFile(), LoadAnnotations(with_bbox=True, with_mask=True),
        Resize(scale=(96, 96), keep_ratio=True), PackDetInputs()]
    dataset = _coco_dataset(synthetic_data, synthetic_data['data_root'], 'train', pipeline)
    assert len(dataset) == 12
    assert dataset.metainfo['classes'] == CLASSES
    for index in range(len(dataset)):
        sample = dataset[index]
        assert tuple(sample['inputs'].shape) == (3, 96, 96)
        gt = sample['data_samples'].gt_instances
        assert 1 <= len(gt) <= 6
        assert len(gt.masks) == len(gt.bboxes) == len(gt.labels)
        assert gt.labels.min() >= 0 and gt.labels.max() < len(CLASSES)
        boxes = gt.bboxes.tensor
        assert torch.all(boxes[:, 2] > boxes[:, 0]) and torch.all(boxes[:, 3] > boxes[:, 1])
        assert boxes.min() >= 0 and boxes.max() <= 96
        assert gt.masks.to_ndarray().reshape(len(gt), -1).sum(1).min() > 0


def test_masks_match_drawn_pixels(synthetic_data):
    """Masks decoded from the written annotations equal the pixels each object was painted on,
    and the painted colour there is the category's colour."""
    root = synthetic_data['data_root']
    coco = COCO(synthetic_data['val']['instances'])
    palette = np.array([COLOUR_RGB[c] for c in COLOURS], np.float32)
    for index, image_id in enumerate(sorted(coco.getImgIds())):
        info = coco.loadImgs(image_id)[0]
        image = np.asarray(Image.open(osp.join(root, 'val', info['file_name'])), np.float32)
        scene = render_scene(0, 'val', index, 64)
        anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: a['id'])
        assert len(anns) == len(scene.objects)
        for ann, obj in zip(anns, scene.objects):
            decoded = coco.annToMask(ann).astype(bool)
            assert np.array_equal(decoded, obj.mask), (info['file_name'], ann['id'])
            assert ann['area'] == decoded.sum()
            x, y, w, h = ann['bbox']
            ys, xs = np.nonzero(decoded)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                    ys.max() - ys.min() + 1)
            mean_rgb = image[decoded].mean(0)
            nearest = COLOURS[int(np.argmin(((palette - mean_rgb)**2).sum(1)))]
            assert nearest == CLASSES[ann['category_id'] - 1].split(' ')[0]


def test_encoded_masks_keep_holes():
    mask = np.zeros((20, 20), bool)
    mask[2:18, 2:18] = True
    mask[6:10, 6:10] = False  # a hole
    mask[12:14, 12:14] = False  # another hole
    rle = encode_mask(mask)
    json.dumps(rle)  # JSON-ready
    assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)
    assert not mask_utils.decode(encode_mask(np.zeros((5, 5), bool))).any()


def test_shapes_rasterise_at_pixel_centres():
    """Pixel i spans [i, i + 1]: a square [2, 6] x [3, 8] covers columns 2..5 and rows 3..7."""
    square = np.array([[2., 3.], [6., 3.], [6., 8.], [2., 8.]])
    mask = rasterize_polygon(square, 10)
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (2, 5, 3, 7) and mask.sum() == 20


def test_coco_metric_scores_ground_truth_at_one(synthetic_data):
    root = synthetic_data['data_root']
    dataset = _coco_dataset(synthetic_data, root, 'val',
                            [LoadImageFromFile(), LoadAnnotations(with_bbox=True, with_mask=True)],
                            test_mode=True)
    metric = CocoMetric(ann_file=synthetic_data['val']['instances'], metric=['bbox', 'segm'])
    metric.dataset_meta = dataset.metainfo
    samples = []
    for index in range(len(dataset)):
        info = dataset[index]
        masks = info['gt_masks'].to_ndarray().astype(bool)
        samples.append(dict(
            img_id=info['img_id'], ori_shape=info['ori_shape'],
            pred_instances=dict(
                bboxes=torch.as_tensor(info['gt_bboxes'].tensor),
                labels=torch.as_tensor(info['gt_bboxes_labels']),
                scores=torch.ones(len(masks)), masks=torch.as_tensor(masks))))
    metric.process({}, samples)
    results = metric.evaluate(len(dataset))
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/segm_mAP'] == pytest.approx(1.0)


def test_coco_caption_dataset(synthetic_data):
    root = synthetic_data['data_root']
    pipeline = [
        LoadImageFromFile(), ClsResize(scale=(96, 96), interpolation='bicubic'), CleanCaption(),
        PackInputs(algorithm_keys=['gt_caption'], meta_keys=['image_id'])]
    train = COCOCaption(data_root=root, ann_file=osp.relpath(synthetic_data['train']['karpathy'],
                                                             root), pipeline=pipeline)
    assert len(train) == 12 * 5
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 96, 96)
    caption = sample['data_samples'].gt_caption
    assert isinstance(caption, str) and caption == caption.lower() and '.' not in caption
    assert len(caption.split()) >= 4
    test_ann = osp.relpath(synthetic_data['test']['karpathy'], root)
    test = COCOCaption(data_root=root, ann_file=test_ann, pipeline=pipeline)
    assert len(test) == 6
    test_sample = test[0]['data_samples']
    assert isinstance(test_sample.gt_caption, list) and len(set(test_sample.gt_caption)) >= 3
    # The caption metric's ground truth: image ids parsed from file names exist in the COCO file.
    gt = COCO(synthetic_data['test']['captions'])
    predictions = [dict(image_id=int(test[i]['data_samples'].image_id), caption='a red circle')
                   for i in range(len(test))]
    result = gt.loadRes(predictions)
    assert sorted(result.getImgIds()) == sorted(gt.getImgIds())


def test_coco_retrieval_dataset(synthetic_data):
    root = synthetic_data['data_root']
    ann_file = synthetic_data['val']['captions']
    train_pipeline = [
        LoadImageFromFile(), ClsResize(scale=(64, 64)), CleanCaption(keys='text'),
        PackInputs(algorithm_keys=['text', 'is_matched'], meta_keys=['image_id'])]
    train = COCORetrieval(ann_file=ann_file, data_root=root, pipeline=train_pipeline)
    assert len(train) == 6 * 5
    sample = train[3]
    assert tuple(sample['inputs'].shape) == (3, 64, 64)
    assert isinstance(sample['data_samples'].text, str) and sample['data_samples'].is_matched

    test_pipeline = [
        LoadImageFromFile(), ClsResize(scale=(64, 64)), CleanCaption(keys='text'),
        PackInputs(algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id'])]
    test = COCORetrieval(ann_file=ann_file, data_root=root, pipeline=test_pipeline, test_mode=True)
    assert len(test) == 6 and test.img_size == 6 and test.text_size == 30
    item = test[2]['data_samples']
    assert len(item.text) == 5 and item.gt_text_id == list(range(10, 15))


def test_imagenet_and_custom_dataset(synthetic_data):
    root = synthetic_data['data_root']
    pipeline = [LoadImageFromFile(), ClsResize(scale=32), PackInputs()]
    train = ImageNet(data_root=root, split='train', classes=synthetic_data['classes_file'],
                     pipeline=pipeline)
    assert len(train) == 12 and train.CLASSES == CLASSES
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    coco = COCO(synthetic_data['train']['instances'])
    first_id = sorted(coco.getImgIds())[0]
    areas = {}
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=first_id)):
        areas[ann['area']] = ann['category_id'] - 1
    assert int(sample['data_samples'].gt_label) == areas[max(areas)]

    test = CustomDataset(data_root=root, data_prefix='test', ann_file='meta/test.txt',
                         classes=synthetic_data['classes_file'], pipeline=pipeline)
    assert len(test) == 6 and 0 <= int(test[5]['data_samples'].gt_label) < len(CLASSES)


def test_class_label_is_clearly_dominant(synthetic_data):
    with open(synthetic_data['train']['imagenet_ann']) as f:
        labels = dict(line.split(' ') for line in f.read().splitlines())
    with open(synthetic_data['train']['instances']) as f:
        instances = json.load(f)
    for image in instances['images']:
        anns = sorted((a for a in instances['annotations'] if a['image_id'] == image['id']),
                      key=lambda a: -a['area'])
        assert anns[0]['category_id'] - 1 == int(labels[image['file_name']])
        if len(anns) > 1:
            assert anns[0]['area'] >= 1.5 * anns[1]['area']


def _object(label: int, x0: int, y0: int, dominant: bool) -> SceneObject:
    mask = np.zeros((64, 64), bool)
    mask[y0:y0 + (20 if dominant else 10), x0:x0 + (20 if dominant else 10)] = True
    return SceneObject(label=label, mask=mask, dominant=dominant)


def test_captions_describe_counts_colours_and_positions():
    red_circle, blue_square = CLASSES.index('red circle'), CLASSES.index('blue square')
    objects = [_object(red_circle, 2, 22, True), _object(blue_square, 40, 25, False),
               _object(blue_square, 50, 45, False)]
    captions = describe_scene(objects, 64, np.random.default_rng(0), num_captions=8)
    assert len(set(captions)) == 8
    text = ' '.join(captions)
    assert 'Three shapes:' in text
    assert 'two blue squares' in text.lower() and 'a red circle' in text.lower()
    assert 'a red circle to the left of a blue square' in text.lower() or \
        'a blue square to the right of a red circle' in text.lower()
    assert 'the large red circle is to the left of the small blue square' in text.lower()
    assert 'two blue shapes' in text.lower() and 'on the left side of the image' in text
    with pytest.raises(ValueError, match='num_captions'):
        describe_scene(objects, 64, np.random.default_rng(0), num_captions=9)


def test_dataset_captions_vary(synthetic_data):
    with open(synthetic_data['val']['karpathy']) as f:
        entries = json.load(f)
    all_captions = [c for e in entries for c in e['caption']]
    assert all(len(set(e['caption'])) >= 3 for e in entries)
    assert len(set(all_captions)) == len(all_captions)
    assert any(w in ' '.join(all_captions) for w in ('left of', 'right of', 'above', 'below'))


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_train=-1), 'num_train'),
    (dict(num_val=0), 'num_val'),
    (dict(num_test=1.5), 'num_test'),
    (dict(image_size=16), 'image_size'),
    (dict(seed=-3), 'seed'),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = dict(num_train=1, num_val=1, num_test=1, image_size=32)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        generate_synthetic_scenes(str(tmp_path / 'out'), **args)
    assert not osp.exists(tmp_path / 'out')


def test_bad_output_folder(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    with pytest.raises(NotADirectoryError, match='a_file'):
        generate_synthetic_scenes(str(blocker), num_train=1, num_val=1, num_test=1, image_size=32)
    with pytest.raises(OSError, match='a_file'):
        generate_synthetic_scenes(str(blocker / 'sub'), num_train=1, num_val=1, num_test=1,
                                  image_size=32)
