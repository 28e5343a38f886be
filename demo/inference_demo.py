"""Run a Uni-Perceiver v2 checkpoint on images and write the drawn results.

    python demo/inference_demo.py configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py \
        work_dirs/upv2_mobilenetv2_1xcpu-770it_synthetic/iter_770.pth --out-dir outputs/demo

Without images it uses real photographs that ship with scikit-image (astronaut, cat, coffee,
rocket). For each image it prints the class, the detections and the caption and writes
``<out-dir>/<name>.png`` with boxes, masks, class and caption drawn; with ``--query`` it also ranks the
images for that text, and ranks ``--texts`` for the first image.
"""
import argparse
import os
import os.path as osp

SKIMAGE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket')


def skimage_photos(folder: str) -> list:
    """Save scikit-image's sample photographs as PNG files in ``folder`` and return their paths."""
    import mmcv
    from skimage import data
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name in SKIMAGE_PHOTOS:
        path = osp.join(folder, f'{name}.png')
        mmcv.imwrite(getattr(data, name)()[..., ::-1], path)  # RGB -> BGR for mmcv
        paths.append(path)
    return paths


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='weights (omit to run the untrained model, e.g. as a smoke test)')
    parser.add_argument('--images', nargs='+', help='image files (default: scikit-image photos)')
    parser.add_argument('--out-dir', default='outputs/demo')
    parser.add_argument('--query', default='a red circle', help='text to rank the images with')
    parser.add_argument('--texts', nargs='+',
                        default=['a red circle', 'a blue square', 'a person', 'a cat'],
                        help='texts to rank for the first image')
    parser.add_argument('--class-names', nargs='+', help='replace the class names (open vocabulary)')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from uniperceiver_v2.apis import UniPerceiverV2Inferencer
    images = args.images or skimage_photos(osp.join(args.out_dir, 'inputs'))
    inferencer = UniPerceiverV2Inferencer(args.config, args.checkpoint, device=args.device,
                                          class_names=args.class_names)
    tasks = [k for k in ('classification', 'detection', 'captioning') if k in inferencer.task_names]
    for r in inferencer(images, tasks=tasks, out_dir=args.out_dir, score_thr=args.score_thr):
        print(f"{r['img_path']}:")
        if 'class' in r:
            print(f"  class:   {r['class'][0]} ({r['class'][1]:.2f})")
        if 'detections' in r:
            det = r['detections']
            keep = det.scores >= args.score_thr
            names = [r['det_class_names'][int(label)] for label in det.labels[keep]]
            print(f'  objects: {len(names)} above {args.score_thr}: {names[:8]}')
        if 'caption' in r:
            print(f"  caption: {r['caption']}")
        print(f"  drawn:   {r['drawn']}")
    if 'retrieval' in inferencer.task_names:
        print(f'images ranked for "{args.query}":')
        for path, score in inferencer.rank_images(args.query, images):
            print(f'  {score:7.2f}  {path}')
        print(f'texts ranked for {images[0]}:')
        for text, score in inferencer.rank_texts(images[0], args.texts):
            print(f'  {score:7.2f}  {text}')


if __name__ == '__main__':
    main()
