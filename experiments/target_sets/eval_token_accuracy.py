"""Teacher-forced next-token accuracy and cross-entropy of a captioning checkpoint over the whole
vocabulary, on every reference caption of the validation images.

Training with sampled or cached candidates changes which vocabulary entries the loss sees; this
scores every next token of the references against all entries (the exact likelihood, Eq. 1), so
runs trained with different candidate settings are compared on one measure.  Beam-search metrics
(BLEU, CIDEr) come from the training run's own validation.

Usage::

    python experiments/target_sets/eval_token_accuracy.py CONFIG CHECKPOINT [--task synthetic_cap]
"""
import argparse
import json

import torch
import torch.nn.functional as F
from mmengine.runner import Runner, load_checkpoint

from uniperceiver_v2.testing import load_config
from uniperceiver_v2.utils.compat import checkpoint_safe_globals


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--task', default='synthetic_cap')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from mmdet.registry import MODELS
    cfg = load_config(args.config)
    model = MODELS.build(cfg.model)
    with checkpoint_safe_globals():
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
    model.eval()
    task = model.tasks[args.task]
    loader_cfg = cfg.val_dataloader.copy()
    loader_cfg.dataset = cfg.val_dataloader.dataset.copy()
    loader_cfg.dataset.pipeline = cfg.train_dataloader.dataset.pipeline  # + gt_caption
    loader = Runner.build_dataloader(loader_cfg)
    nll, correct, count = 0.0, 0, 0
    with torch.no_grad():
        vocab_ids, lut = task.vocabulary(model)
        emb = task.vocabulary_embeddings(model, vocab_ids)
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            image_tokens, _ = task.encode_image(model, data['inputs'], data['data_samples'])
            captions, index = [], []
            for i, ds in enumerate(data['data_samples']):
                caps = ds.gt_caption if isinstance(ds.gt_caption, list) else [ds.gt_caption]
                captions += caps
                index += [i] * len(caps)
            tokens = image_tokens.index_select(torch.tensor(index))
            ids, att = model.text_encoder.tokenize(captions)
            targets = lut[ids[:, 1:]].masked_fill(att[:, 1:] == 0, -100)
            feats = model.text_encoder(ids[:, :-1], att[:, :-1], causal=True)
            seq, pad, segments, cs = task.caption_sequence(model, tokens, feats,
                                                           att[:, :-1] == 0)
            out = model.decoder(seq, segments, pad, causal_start=cs)[:, cs:]
            logits = model.likelihood_head(out, emb, task.family)
            valid = targets != -100
            nll += float(F.cross_entropy(logits[valid], targets[valid], reduction='sum'))
            correct += int((logits.argmax(-1) == targets)[valid].sum())
            count += int(valid.sum())
    result = dict(config=args.config, checkpoint=args.checkpoint, vocabulary=int(vocab_ids.numel()),
                  tokens=count, token_accuracy=correct / count, token_ce=nll / count)
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
