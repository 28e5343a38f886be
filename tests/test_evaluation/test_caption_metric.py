"""CaptionMetric against hand-computed BLEU / CIDEr-D values (offline: PTB tokenizer via Java)."""
import json
import shutil

import pytest

from uniperceiver_v2.evaluation import CaptionMetric

pytestmark = pytest.mark.skipif(shutil.which('java') is None, reason='PTB tokenizer needs Java')


def run(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_bleu_matches_hand_computation():
    # pred 7 tokens, ref 6 (BP = 1). Clipped n-gram precisions: 6/7, 4/6, 3/5, 2/4.
    sample = dict(image_id=1, pred_caption='The cat sat on the red mat.',
                  gt_caption=['the cat sat on the mat'])
    out = run(CaptionMetric(use_meteor=False, prefix='cap'), [sample])
    p = [6 / 7, 4 / 6, 3 / 5, 2 / 4]
    for n in range(1, 5):
        prod = 1.0
        for x in p[:n]:
            prod *= x
        assert out[f'cap/Bleu_{n}'] == pytest.approx(prod**(1 / n), abs=1e-6)
    assert out['cap/Bleu_1'] == pytest.approx(0.857142857, abs=1e-6)
    assert out['cap/Bleu_4'] == pytest.approx(0.643459, abs=1e-5)  # (6/35) ** (1/4)
    # single image: CIDEr-D's idf is log(1) = 0 for every n-gram
    assert out['cap/CIDEr'] == 0.0


def test_perfect_captions_cider_is_ten_and_ann_file_input(tmp_path):
    # CIDEr-D: every n-gram has df = 1 of |I| = 2 images -> identical tf-idf vectors of hypothesis
    # and reference, cosine 1 for n = 1..4, no length penalty: mean over n (1) * 10 = 10.
    samples = [dict(image_id=1, pred_caption='a red bus drives down the road'),
               dict(image_id=2, pred_caption='two dogs play with one ball')]
    ann = dict(images=[dict(id=1), dict(id=2)],
               annotations=[dict(id=1, image_id=1, caption='a red bus drives down the road'),
                            dict(id=2, image_id=2, caption='two dogs play with one ball')])
    ann_file = tmp_path / 'captions.json'
    ann_file.write_text(json.dumps(ann))
    out = run(CaptionMetric(ann_file=str(ann_file)), samples + samples[:1])  # + a padded duplicate
    assert out['caption/CIDEr'] == pytest.approx(10.0, abs=1e-6)
    assert out['caption/Bleu_4'] == pytest.approx(1.0, abs=1e-6)
    assert out['caption/ROUGE_L'] == pytest.approx(1.0, abs=1e-6)
    assert out['caption/METEOR'] == pytest.approx(1.0, abs=1e-2)
    assert 'caption/SPICE' not in out


def test_missing_references_raise():
    with pytest.raises(KeyError, match='gt_caption'):
        CaptionMetric().process({}, [dict(image_id=3, pred_caption='a cat')])


def test_zero_padded_image_ids_match_the_annotation_file(tmp_path):
    """mmpretrain's COCOCaption gives '000010000001'; the COCO file stores 10000001."""
    import json

    from uniperceiver_v2.evaluation.caption_metric import image_key
    assert image_key('000010000001') == image_key(10000001) == '10000001'
    ann = tmp_path / 'gt.json'
    ann.write_text(json.dumps({'annotations': [{'image_id': 10000001, 'caption': 'a red circle'}],
                               'images': [{'id': 10000001}]}))
    from uniperceiver_v2.evaluation import CaptionMetric
    metric = CaptionMetric(ann_file=str(ann), use_meteor=False)
    metric.process(None, [dict(image_id='000010000001', pred_caption='a red circle')])
    assert metric._gts[image_key(metric.results[0]['image_id'])] == ['a red circle']
