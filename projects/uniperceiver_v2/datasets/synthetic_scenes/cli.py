"""Generate the embedded synthetic multi-task dataset (COCO instances, captions, ImageNet lists,
RefCOCO referring expressions, mmseg semantic label maps).

Example::

    python tools/data/generate_synthetic.py --out-dir data/synthetic --num-train 2000 \
        --num-val 200 --num-test 200 --image-size 128 --seed 0

The same arguments always produce byte-identical files; ``--grounding-semseg-only`` adds the
referring expressions and label maps to a folder generated earlier without rewriting it. See
``docs/dataset_preparation.md`` for the layout.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar

from . import (CLASSES, MAX_SPLIT_SIZE, MIN_IMAGE_SIZE, GroundingSemsegWriter,
                              generate_grounding_and_semseg, generate_synthetic_scenes)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Generate the deterministic synthetic scenes dataset of Uni-Perceiver v2.')
    parser.add_argument('--out-dir', default='data/synthetic', help='output folder')
    parser.add_argument('--num-train', type=int, default=2000, help='number of training images')
    parser.add_argument('--num-val', type=int, default=200, help='number of validation images')
    parser.add_argument('--num-test', type=int, default=200, help='number of test images')
    parser.add_argument('--image-size', type=int, default=128,
                        help=f'image side length in pixels (>= {MIN_IMAGE_SIZE})')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument('--no-progress', action='store_true', help='do not show a progress bar')
    parser.add_argument('--grounding-semseg-only', action='store_true',
                        help='only add refcoco/ and semseg/ (same arguments as the earlier run)')
    args = parser.parse_args(argv)
    for flag in ('num_train', 'num_val', 'num_test'):
        value = getattr(args, flag)
        if not 1 <= value <= MAX_SPLIT_SIZE:
            option = '--' + flag.replace('_', '-')
            parser.error(f'{option} must be in [1, {MAX_SPLIT_SIZE}], got {value}')
    if args.image_size < MIN_IMAGE_SIZE:
        parser.error(f'--image-size must be >= {MIN_IMAGE_SIZE}, got {args.image_size}')
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run the generator; returns the process exit status.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.

    Returns:
        int: 0 on success, 1 when the output folder cannot be written.
    """
    args = parse_args(argv)
    logger = MMLogger.get_instance('generate_synthetic', log_level='INFO')
    total = args.num_train + args.num_val + args.num_test
    bar = None if args.no_progress else ProgressBar(total)
    step = max(1, total // 100)  # redraw the bar about 100 times, not once per image
    pending = [0]

    def progress(split: str, done: int, split_total: int) -> None:
        pending[0] += 1
        if bar is not None and (pending[0] == step or done == split_total):
            bar.update(pending[0])
            pending[0] = 0

    start = time.perf_counter()
    sizes = dict(num_train=args.num_train, num_val=args.num_val, num_test=args.num_test,
                 image_size=args.image_size, seed=args.seed, progress=progress)
    try:
        if args.grounding_semseg_only:  # render again: the images exist
            paths, extra = {}, generate_grounding_and_semseg(args.out_dir, **sizes)
        else:  # one render per image for all the files
            writer = GroundingSemsegWriter(args.out_dir, args.image_size, args.seed)
            paths = generate_synthetic_scenes(args.out_dir, **sizes, on_scene=writer.add)
            extra = writer.write()
    except OSError as err:
        print(f'\nerror: --out-dir {args.out_dir!r}: {err}', file=sys.stderr)
        return 1
    if bar is not None:
        sys.stdout.write('\n')
    logger.info(f'wrote {total} images ({len(CLASSES)} categories) to {args.out_dir} '
                f'in {time.perf_counter() - start:.1f} s')
    for split in ('train', 'val', 'test'):
        for key in ('instances', 'karpathy', 'captions', 'imagenet_ann'):
            if paths:
                logger.info(f'{split:5s} {key:12s} {paths[split][key]}')
        logger.info(f'{split:5s} semseg       {extra[split]["semseg_dir"]}')
    if paths:
        logger.info(f'classes file {paths["classes_file"]}')
    ref = extra['refcoco']
    logger.info(f'refcoco {ref["num_refs"]} refs, {ref["num_sentences"]} expressions: '
                f'{ref["instances"]}, {ref["refs"]}')
    return 0

