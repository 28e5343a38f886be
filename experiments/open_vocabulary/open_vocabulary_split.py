"""Split the synthetic scenes into seen / held-out categories for open-vocabulary training and
testing (detection, classification, grounding), as filtered copies of the stock files.

Example::

    python experiments/open_vocabulary/open_vocabulary_split.py --data-root data/synthetic

writes ``<data-root>/open_vocab/``:

* ``classes_seen.txt`` (15 names), ``classes_unseen.txt`` (5 names);
* ``instances_train_seen.json``: the training images with only the seen categories' instances
  (a held-out object becomes unlabelled background, as in OV-COCO); ``categories`` = the seen
  ones, so mmdet ``CocoDataset(metainfo=dict(classes=seen))`` labels them 0..14;
* ``instances_val_unseen.json``: the validation images with only held-out instances and
  categories (box AP on the 5 held-out names alone);
* ``train_seen.txt``: classification list of the training images whose label is seen, labels
  re-indexed into ``classes_seen.txt``; ``val_seen.txt`` / ``val_unseen.txt``: the validation
  images of seen / held-out labels, labels indexing all 20 names; ``val_unseen_only.txt``: the
  held-out images, labels indexing ``classes_unseen.txt``;
* ``refs(synthetic_ov).p``: RefCOCO refs; split ``train`` = training refs of seen objects whose
  expressions name no held-out category (other expressions dropped), ``val_seen`` / ``val_unseen``
  = validation refs of seen objects (expressions without held-out names) / of held-out objects.

The held-out names are compositions of words the seen names use (every shape and every colour
stays seen), so what is tested is whether the text side carries "blue" + "square" to a new pair.
"""
import argparse
import json
import os
import os.path as osp
import pickle
import sys
from typing import List, Optional, Sequence

#: held out: one of each shape, every colour among the seen names too
UNSEEN = ('green circle', 'blue square', 'yellow triangle', 'red star', 'green hexagon')


def _read_list(path: str) -> List[tuple]:
    with open(path, encoding='utf-8') as f:
        return [tuple(line.split()) for line in f if line.strip()]


def _write_list(path: str, rows: Sequence[tuple]) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{name} {label}\n' for name, label in rows))


def _filter_instances(coco: dict, keep_names: Sequence[str]) -> dict:
    keep = {c['id'] for c in coco['categories'] if c['name'] in keep_names}
    return dict(coco, annotations=[a for a in coco['annotations'] if a['category_id'] in keep],
                categories=[c for c in coco['categories'] if c['id'] in keep])


def _names_unseen(text: str, unseen: Sequence[str]) -> bool:
    return any(name in text for name in unseen)


def split_open_vocabulary(data_root: str, unseen: Sequence[str] = UNSEEN) -> dict:
    """Write the files listed in the module docstring; returns their paths and counts.

    Args:
        data_root (str): The synthetic data root (``generate_synthetic.py`` output).
        unseen (Sequence[str]): Held-out category names.
    """
    def load(rel: str):
        path = osp.join(data_root, rel)
        if not osp.isfile(path):
            raise FileNotFoundError(f'open_vocabulary_split: {path} not found (run '
                                    'tools/data/generate_synthetic.py first)')
        if rel.endswith('.p'):
            with open(path, 'rb') as f:
                return pickle.load(f)
        with open(path, encoding='utf-8') as f:
            return json.load(f) if rel.endswith('.json') else f.read().splitlines()

    classes = [c for c in load('meta/classes.txt') if c]
    missing = [u for u in unseen if u not in classes]
    if missing:
        raise ValueError(f'open_vocabulary_split: --unseen names {missing} are not classes of '
                         f'{data_root}/meta/classes.txt')
    seen = [c for c in classes if c not in unseen]
    unseen = [c for c in classes if c in unseen]  # class-file order
    out_dir = osp.join(data_root, 'open_vocab')
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: osp.join(out_dir, name) for name in (
        'classes_seen.txt', 'classes_unseen.txt', 'instances_train_seen.json',
        'instances_val_unseen.json', 'train_seen.txt', 'val_seen.txt', 'val_unseen.txt',
        'val_unseen_only.txt', 'refs(synthetic_ov).p')}
    for key, names in (('classes_seen.txt', seen), ('classes_unseen.txt', unseen)):
        with open(paths[key], 'w', encoding='utf-8') as f:
            f.write(''.join(n + '\n' for n in names))

    for src, dst, names in (('annotations/instances_train.json', 'instances_train_seen.json',
                             seen),
                            ('annotations/instances_val.json', 'instances_val_unseen.json',
                             unseen)):
        with open(paths[dst], 'w', encoding='utf-8') as f:
            json.dump(_filter_instances(load(src), names), f, sort_keys=True,
                      separators=(',', ':'))

    train = [(n, classes[int(lab)]) for n, lab in _read_list(osp.join(data_root,
                                                                       'meta/train.txt'))]
    val = [(n, classes[int(lab)]) for n, lab in _read_list(osp.join(data_root, 'meta/val.txt'))]
    _write_list(paths['train_seen.txt'], [(n, seen.index(c)) for n, c in train if c in seen])
    _write_list(paths['val_seen.txt'], [(n, classes.index(c)) for n, c in val if c in seen])
    _write_list(paths['val_unseen.txt'], [(n, classes.index(c)) for n, c in val if c in unseen])
    _write_list(paths['val_unseen_only.txt'],
                [(n, unseen.index(c)) for n, c in val if c in unseen])

    refs_out = []
    for ref in load('refcoco/refs(synthetic).p'):
        name = classes[ref['category_id'] - 1]
        if ref['split'] == 'train' and name in seen:
            split = 'train'
        elif ref['split'] == 'val':
            split = 'val_seen' if name in seen else 'val_unseen'
        else:
            continue
        sentences = ref['sentences']
        if split != 'val_unseen':  # seen objects: no expression may name a held-out category
            sentences = [s for s in sentences if not _names_unseen(s['raw'], unseen)]
        if sentences:
            refs_out.append(dict(ref, split=split, sentences=sentences,
                                 sent_ids=[s['sent_id'] for s in sentences]))
    with open(paths['refs(synthetic_ov).p'], 'wb') as f:
        pickle.dump(refs_out, f, protocol=4)
    counts = {split: sum(len(r['sentences']) for r in refs_out if r['split'] == split)
              for split in ('train', 'val_seen', 'val_unseen')}
    return dict(paths=paths, seen=seen, unseen=unseen, expressions=counts)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--unseen', nargs='+', default=list(UNSEEN),
                        help='held-out category names')
    args = parser.parse_args(argv)
    try:
        result = split_open_vocabulary(args.data_root, args.unseen)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'seen {len(result["seen"])}: {", ".join(result["seen"])}')
    print(f'unseen {len(result["unseen"])}: {", ".join(result["unseen"])}')
    print(f'grounding expressions: {result["expressions"]}')
    for path in result['paths'].values():
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
