"""A tiny mock of the real datasets' on-disk layouts, for testing the real configs offline.

Writes, under one ``data`` folder, every file the real configs read (``docs/dataset_preparation.md``)
with the real file names, JSON keys and pickle fields, and the quirks of the real files:

- ``coco/``: COCO 2017 instances (``annotations/instances_{train,val}2017.json``,
  ``train2017/``, ``val2017/``) with the 80 real category ids in 1..90 (gaps included), polygon
  masks, one crowd annotation with an uncompressed RLE mask, one image without annotations and
  one grayscale JPEG; COCO 2014 images (``train2014/COCO_train2014_*.jpg``,
  ``val2014/COCO_val2014_*.jpg``) with the BLIP/LAVIS Karpathy caption files
  (``coco_karpathy_{train,val,test}.json``, ``coco_karpathy_{val,test}_gt.json``: train entries one
  per caption with ``image_id='coco_<id>'``, val/test one per image with a caption list) and
  mmpretrain's COCO-format retrieval files (``caption_karpathy_{train,val,test}2014.json`` with
  ``coco_url``); the Karpathy train split also takes a ``val2014`` image ("restval");
  RefCOCO / RefCOCO+ (``refs(unc).p``, splits train/val/testA/testB) and RefCOCOg
  (``refs(umd).p``, train/val/test) over ``train2014`` images;
- ``imagenet/``: ``train/<wnid>/<wnid>_<n>.JPEG`` folders, ``val/ILSVRC2012_val_<8 digits>.JPEG``
  and ``meta/{train,val}.txt`` (labels in the 1000-class order), one grayscale image;
- ``flickr30k/``: ``flickr30k-images/<id>.jpg`` and Karpathy's ``annotations/dataset_flickr30k.json``;
- ``ade/ADEChallengeData2016/``: ``images/{training,validation}/ADE_*.jpg`` and uint8
  ``annotations/...png`` with 0 = "other" and 1..150 the classes;
- ``text_corpus/train.txt``: one sentence per line.

Images have the sizes of the real photos (640x480 and the like), smooth noise with painted boxes
(the objects of the annotations).  The same
``seed`` always gives the same files.
"""
import argparse
import json
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

#: COCO 2017 categories: (id, name, supercategory) - the real ids, 80 of 1..90.
COCO_CATEGORIES: Tuple[Tuple[int, str, str], ...] = tuple(
    (cid, name, sup) for sup, items in (
        ('person', [(1, 'person')]),
        ('vehicle', [(2, 'bicycle'), (3, 'car'), (4, 'motorcycle'), (5, 'airplane'), (6, 'bus'),
                     (7, 'train'), (8, 'truck'), (9, 'boat')]),
        ('outdoor', [(10, 'traffic light'), (11, 'fire hydrant'), (13, 'stop sign'),
                     (14, 'parking meter'), (15, 'bench')]),
        ('animal', [(16, 'bird'), (17, 'cat'), (18, 'dog'), (19, 'horse'), (20, 'sheep'),
                    (21, 'cow'), (22, 'elephant'), (23, 'bear'), (24, 'zebra'), (25, 'giraffe')]),
        ('accessory', [(27, 'backpack'), (28, 'umbrella'), (31, 'handbag'), (32, 'tie'),
                       (33, 'suitcase')]),
        ('sports', [(34, 'frisbee'), (35, 'skis'), (36, 'snowboard'), (37, 'sports ball'),
                    (38, 'kite'), (39, 'baseball bat'), (40, 'baseball glove'),
                    (41, 'skateboard'), (42, 'surfboard'), (43, 'tennis racket')]),
        ('kitchen', [(44, 'bottle'), (46, 'wine glass'), (47, 'cup'), (48, 'fork'),
                     (49, 'knife'), (50, 'spoon'), (51, 'bowl')]),
        ('food', [(52, 'banana'), (53, 'apple'), (54, 'sandwich'), (55, 'orange'),
                  (56, 'broccoli'), (57, 'carrot'), (58, 'hot dog'), (59, 'pizza'),
                  (60, 'donut'), (61, 'cake')]),
        ('furniture', [(62, 'chair'), (63, 'couch'), (64, 'potted plant'), (65, 'bed'),
                       (67, 'dining table'), (70, 'toilet')]),
        ('electronic', [(72, 'tv'), (73, 'laptop'), (74, 'mouse'), (75, 'remote'),
                        (76, 'keyboard'), (77, 'cell phone')]),
        ('appliance', [(78, 'microwave'), (79, 'oven'), (80, 'toaster'), (81, 'sink'),
                       (82, 'refrigerator')]),
        ('indoor', [(84, 'book'), (85, 'clock'), (86, 'vase'), (87, 'scissors'),
                    (88, 'teddy bear'), (89, 'hair drier'), (90, 'toothbrush')]),
    ) for cid, name in items)

#: The first ImageNet-1k classes: (WordNet id, label index in meta/*.txt).
IMAGENET_WNIDS = (('n01440764', 0), ('n01443537', 1), ('n01484850', 2), ('n01491361', 3),
                  ('n01494475', 4), ('n15075141', 999))

_WORDS = ('a', 'man', 'woman', 'dog', 'cat', 'red', 'blue', 'large', 'small', 'riding', 'on',
          'the', 'next', 'to', 'table', 'street', 'with', 'two', 'people', 'standing', 'near',
          'bus', 'plate', 'of', 'food', 'sitting', 'in', 'front', 'green', 'field')


class _Painter:
    """Deterministic images with painted boxes (the annotated objects)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def sentence(self) -> str:
        words = self.rng.choice(_WORDS, size=int(self.rng.integers(5, 10)))
        text = ' '.join(words)
        return text[0].upper() + text[1:] + '.'

    def size(self) -> Tuple[int, int]:
        """(width, height) of a photo of the real datasets: COCO's 640x480, 480x640, 640x427,
        ImageNet's 500x375, ADE20K's 683x512."""
        return [(640, 480), (480, 640), (640, 427), (500, 375), (683, 512)][
            int(self.rng.integers(0, 5))]

    def boxes(self, width: int, height: int, num: int) -> List[List[float]]:
        out = []
        for _ in range(num):
            w = float(self.rng.integers(width // 5, width // 2))
            h = float(self.rng.integers(height // 5, height // 2))
            x = float(self.rng.integers(0, width - int(w)))
            y = float(self.rng.integers(0, height - int(h)))
            out.append([x, y, w, h])
        return out

    def image(self, path: str, width: int, height: int, boxes: Sequence[Sequence[float]] = (),
              gray: bool = False) -> None:
        # low-frequency noise (a coarse random image scaled up): photo-like, small JPEGs
        coarse = self.rng.integers(0, 256, size=(height // 32 + 1, width // 32 + 1, 3),
                                   dtype=np.uint8)
        img = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
        draw = ImageDraw.Draw(img)
        for x, y, w, h in boxes:
            colour = tuple(int(c) for c in self.rng.integers(0, 256, size=3))
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=colour)
        if gray:
            img = img.convert('L')  # a 1-channel JPEG, as some COCO / ImageNet files are
        os.makedirs(osp.dirname(path), exist_ok=True)
        img.save(path, quality=90)


def _polygon(box: Sequence[float]) -> List[List[float]]:
    x, y, w, h = box
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _uncompressed_rle(box: Sequence[float], width: int, height: int) -> dict:
    """COCO's crowd mask format: column-major run lengths starting with a background run."""
    mask = np.zeros((height, width), dtype=np.uint8)
    x, y, w, h = (int(v) for v in box)
    mask[y:y + h, x:x + w] = 1
    flat = mask.flatten(order='F')
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return dict(counts=[int(c) for c in counts], size=[height, width])


def _dump_json(obj, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)


def _coco_header(images: List[dict], annotations: List[dict]) -> dict:
    return dict(
        info=dict(description='COCO 2017 Dataset (mock)', url='http://cocodataset.org',
                  version='1.0', year=2017, contributor='COCO Consortium',
                  date_created='2017/09/01'),
        licenses=[dict(url='http://creativecommons.org/licenses/by-nc-sa/2.0/', id=1,
                       name='Attribution-NonCommercial-ShareAlike License')],
        images=images, annotations=annotations,
        categories=[dict(supercategory=s, id=i, name=n) for i, n, s in COCO_CATEGORIES])


def _coco_image(image_id: int, file_name: str, folder: str, width: int, height: int) -> dict:
    return dict(license=1, file_name=file_name,
                coco_url=f'http://images.cocodataset.org/{folder}/{file_name}',
                height=height, width=width, date_captured='2013-11-14 11:18:45',
                flickr_url=f'http://farm4.staticflickr.com/mock/{image_id}.jpg', id=image_id)


def _write_coco2017(p: _Painter, root: str, counts: Dict[str, int]) -> None:
    ann_id = 1
    for split, first_id in (('train', 9), ('val', 139)):
        images, annotations = [], []
        for k in range(counts[split]):
            image_id = first_id + 17 * k
            file_name = f'{image_id:012d}.jpg'
            width, height = p.size()
            empty = k == 1  # an image without annotations (filter_empty_gt=False keeps it)
            boxes = [] if empty else p.boxes(width, height, int(p.rng.integers(1, 4)))
            p.image(osp.join(root, f'{split}2017', file_name), width, height, boxes,
                    gray=(k == 2))
            images.append(_coco_image(image_id, file_name, f'{split}2017', width, height))
            for j, box in enumerate(boxes):
                crowd = k == 0 and j == 0  # one crowd region, RLE as in the real files
                cat = COCO_CATEGORIES[int(p.rng.integers(0, len(COCO_CATEGORIES)))][0]
                annotations.append(dict(
                    segmentation=(_uncompressed_rle(box, width, height) if crowd
                                  else _polygon(box)),
                    area=float(box[2] * box[3]), iscrowd=int(crowd), image_id=image_id,
                    bbox=[float(v) for v in box], category_id=cat, id=ann_id))
                ann_id += 1
        _dump_json(_coco_header(images, annotations),
                   osp.join(root, 'annotations', f'instances_{split}2017.json'))


def _write_coco2014_captions(p: _Painter, root: str, counts: Dict[str, int]) -> Dict[str, list]:
    """COCO 2014 images + the Karpathy caption files; returns the train2014 images (for refs)."""
    train_imgs = []
    for k in range(counts['train2014']):
        image_id = 36 + 25 * k
        width, height = p.size()
        name = f'COCO_train2014_{image_id:012d}.jpg'
        boxes = p.boxes(width, height, 3)
        p.image(osp.join(root, 'train2014', name), width, height, boxes, gray=(k == 1))
        train_imgs.append(dict(id=image_id, name=name, width=width, height=height, boxes=boxes))
    val_imgs = []
    for k in range(counts['val2014']):
        image_id = 42 + 31 * k
        width, height = p.size()
        name = f'COCO_val2014_{image_id:012d}.jpg'
        p.image(osp.join(root, 'val2014', name), width, height, p.boxes(width, height, 2))
        val_imgs.append(dict(id=image_id, name=name, width=width, height=height))
    # Karpathy split: train = train2014 + one "restval" val2014 image; val / test from val2014
    half = (len(val_imgs) - 1) // 2
    splits = dict(train=[('train2014', i) for i in train_imgs] + [('val2014', val_imgs[0])],
                  val=[('val2014', i) for i in val_imgs[1:1 + half]],
                  test=[('val2014', i) for i in val_imgs[1 + half:]])
    ann = os.path.join(root, 'annotations')
    cap_id = 1
    for split, items in splits.items():
        blip, gt_images, gt_anns = [], [], []
        for folder, img in items:
            captions = [p.sentence() for _ in range(5)]
            rel = f"{folder}/{img['name']}"
            if split == 'train':
                blip += [dict(caption=c, image=rel, image_id=f"coco_{img['id']}")
                         for c in captions]
            else:
                blip.append(dict(image=rel, caption=captions))
            gt_images.append(dict(_coco_image(img['id'], img['name'], folder, img['width'],
                                              img['height'])))
            for c in captions:
                gt_anns.append(dict(image_id=img['id'], id=cap_id, caption=c))
                cap_id += 1
        _dump_json(blip, osp.join(ann, f'coco_karpathy_{split}.json'))
        if split != 'train':  # LAVIS ground truth: COCO format, images with ids only
            _dump_json(dict(annotations=gt_anns, images=[dict(id=i['id']) for i in gt_images]),
                       osp.join(ann, f'coco_karpathy_{split}_gt.json'))
        _dump_json(dict(info=dict(description='COCO 2014 Karpathy split (mock)'),
                        licenses=[], images=gt_images, annotations=gt_anns, type='captions'),
                   osp.join(ann, f'caption_karpathy_{split}2014.json'))
    return dict(train2014=train_imgs)


def _write_refs(p: _Painter, root: str, train2014: List[dict]) -> None:
    """refcoco / refcoco+ (refs(unc).p) and refcocog (refs(umd).p) over train2014 images."""
    for dataset, split_by, splits in (('refcoco', 'unc', ('train', 'val', 'testA', 'testB')),
                                      ('refcoco+', 'unc', ('train', 'val', 'testA', 'testB')),
                                      ('refcocog', 'umd', ('train', 'val', 'test'))):
        images, annotations, refs = [], [], []
        ann_id, ref_id, sent_id = 1000, 0, 0
        for k, img in enumerate(train2014):
            images.append(_coco_image(img['id'], img['name'], 'train2014', img['width'],
                                      img['height']))
            for box in img['boxes']:
                cat = COCO_CATEGORIES[int(p.rng.integers(0, len(COCO_CATEGORIES)))][0]
                annotations.append(dict(segmentation=_polygon(box), area=float(box[2] * box[3]),
                                        iscrowd=0, image_id=img['id'],
                                        bbox=[float(v) for v in box], category_id=cat,
                                        id=ann_id))
                # every split gets refs: image k goes to split k mod len(splits), and the
                # training split gets every image's first object as well
                split = splits[k % len(splits)] if box is not img['boxes'][0] else 'train'
                sentences = []
                for _ in range(int(p.rng.integers(1, 4))):
                    raw = p.sentence()
                    sentences.append(dict(tokens=raw.lower().rstrip('.').split(), raw=raw,
                                          sent_id=sent_id, sent=raw.lower().rstrip('.')))
                    sent_id += 1
                refs.append(dict(sent_ids=[s['sent_id'] for s in sentences],
                                 file_name=f"{img['name'][:-4]}_{ann_id}.jpg", ann_id=ann_id,
                                 ref_id=ref_id, image_id=img['id'], split=split,
                                 sentences=sentences, category_id=cat))
                ann_id += 1
                ref_id += 1
        _dump_json(_coco_header(images, annotations), osp.join(root, dataset, 'instances.json'))
        with open(osp.join(root, dataset, f'refs({split_by}).p'), 'wb') as f:
            pickle.dump(refs, f, protocol=2)  # the refer toolkit's files are Python 2 pickles


def _write_imagenet(p: _Painter, root: str, counts: Dict[str, int]) -> None:
    lines = []
    for k in range(counts['imagenet_train']):
        wnid, label = IMAGENET_WNIDS[k % len(IMAGENET_WNIDS)]
        rel = f'{wnid}/{wnid}_{10026 + k}.JPEG'
        width, height = p.size()
        p.image(osp.join(root, 'train', rel), width, height, p.boxes(width, height, 1),
                gray=(k == 3))
        lines.append(f'{rel} {label}')
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    lines = []
    for k in range(counts['imagenet_val']):
        rel = f'ILSVRC2012_val_{k + 1:08d}.JPEG'
        width, height = p.size()
        p.image(osp.join(root, 'val', rel), width, height, p.boxes(width, height, 1))
        lines.append(f'{rel} {IMAGENET_WNIDS[k % len(IMAGENET_WNIDS)][1]}')
    with open(osp.join(root, 'meta', 'val.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _write_flickr30k(p: _Painter, root: str, counts: Dict[str, int]) -> None:
    images, sent_id = [], 0
    split_of = ['train'] * counts['flickr_train'] + ['val'] * counts['flickr_val'] + \
        ['test'] * counts['flickr_test']
    for imgid, split in enumerate(split_of):
        filename = f'{1000092795 + 1117 * imgid}.jpg'
        width, height = p.size()
        p.image(osp.join(root, 'flickr30k-images', filename), width, height,
                p.boxes(width, height, 2))
        sentences = []
        for _ in range(5):
            raw = p.sentence()
            sentences.append(dict(tokens=raw.lower().rstrip('.').split(), raw=raw, imgid=imgid,
                                  sentid=sent_id))
            sent_id += 1
        images.append(dict(sentids=[s['sentid'] for s in sentences], imgid=imgid,
                           sentences=sentences, split=split, filename=filename))
    _dump_json(dict(images=images, dataset='flickr30k'),
               osp.join(root, 'annotations', 'dataset_flickr30k.json'))


def _write_ade20k(p: _Painter, root: str, counts: Dict[str, int]) -> None:
    for split, prefix, num in (('training', 'ADE_train', counts['ade_train']),
                               ('validation', 'ADE_val', counts['ade_val'])):
        for k in range(num):
            name = f'{prefix}_{k + 1:08d}'
            width, height = p.size()
            boxes = p.boxes(width, height, 3)
            p.image(osp.join(root, 'images', split, name + '.jpg'), width, height, boxes)
            label = np.zeros((height, width), dtype=np.uint8)  # 0 = "other"
            for x, y, w, h in boxes:
                label[int(y):int(y + h), int(x):int(x + w)] = int(p.rng.integers(1, 151))
            path = osp.join(root, 'annotations', split, name + '.png')
            os.makedirs(osp.dirname(path), exist_ok=True)
            Image.fromarray(label).save(path)


#: Images per part of the mock (tens in all).
DEFAULT_COUNTS = dict(train=6, val=4, train2014=5, val2014=5, imagenet_train=6, imagenet_val=4,
                      flickr_train=2, flickr_val=2, flickr_test=2, ade_train=3, ade_val=2)


def generate_real_layouts(out_dir: str, seed: int = 0,
                          counts: Optional[Dict[str, int]] = None) -> Dict[str, str]:
    """Write the mock of the real datasets under ``out_dir`` (the configs' ``data/``).

    Args:
        out_dir (str): the folder that plays ``data/`` (``coco``, ``imagenet``, ``flickr30k``,
            ``ade``, ``text_corpus`` are written in it).
        seed (int): random seed of the pixels and captions.
        counts (dict, optional): images per part, keys of :data:`DEFAULT_COUNTS` (missing keys
            take the default).  ``train`` / ``val`` need at least 3 images (the crowd, empty and
            grayscale quirks), ``val2014`` at least 3.

    Returns:
        dict: the dataset roots (``coco``, ``imagenet``, ``flickr30k``, ``ade``,
        ``text_corpus``).
    """
    counts = dict(DEFAULT_COUNTS, **(counts or {}))
    unknown = set(counts) - set(DEFAULT_COUNTS)
    if unknown:
        raise KeyError(f'generate_real_layouts: unknown counts {sorted(unknown)}; known: '
                       f'{sorted(DEFAULT_COUNTS)}')
    for key, least in (('train', 3), ('val', 3), ('val2014', 3), ('train2014', 4)):
        if counts[key] < least:
            raise ValueError(f'generate_real_layouts: counts[{key!r}] must be >= {least}')
    p = _Painter(seed)
    roots = dict(coco=osp.join(out_dir, 'coco'), imagenet=osp.join(out_dir, 'imagenet'),
                 flickr30k=osp.join(out_dir, 'flickr30k'),
                 ade=osp.join(out_dir, 'ade', 'ADEChallengeData2016'),
                 text_corpus=osp.join(out_dir, 'text_corpus'))
    _write_coco2017(p, roots['coco'], counts)
    captions = _write_coco2014_captions(p, roots['coco'], counts)
    _write_refs(p, roots['coco'], captions['train2014'])
    _write_imagenet(p, roots['imagenet'], counts)
    _write_flickr30k(p, roots['flickr30k'], counts)
    _write_ade20k(p, roots['ade'], counts)
    os.makedirs(roots['text_corpus'], exist_ok=True)
    with open(osp.join(roots['text_corpus'], 'train.txt'), 'w') as f:
        f.write('\n'.join(p.sentence() for _ in range(64)) + '\n')
    return roots


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line of :func:`generate_real_layouts` (``tools/data/generate_real_layouts.py``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='data_mock',
                        help='folder that plays data/ (default: data_mock)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    roots = generate_real_layouts(args.out_dir, seed=args.seed)
    for name, root in roots.items():
        print(f'{name}: {root}')
    return 0
