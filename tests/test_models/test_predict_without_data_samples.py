"""``data_samples=None`` with the real image encoder (the embedded default's model, built offline).

Without data samples a batch is taken as unpadded: every image fills the ``(H, W)`` input.  The
image-only paths (classification and captioning ``predict``/``tensor``, detection ``tensor``,
retrieval's image features) then give exactly what they give with data samples that say so;
the paths that cannot work without samples (losses, detection boxes in the original image frame)
say which argument is missing.
"""
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample

from uniperceiver_v2.testing import build_model, load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMBEDDED = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')
H, W = 96, 128


@pytest.fixture(scope='module')
def model(synthetic_cwd, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(synthetic_cwd)
        cfg = load_config(EMBEDDED)
        model, _ = build_model(cfg, offline_text_stub=True,
                               stub_root=str(tmp_path_factory.mktemp('stub')))
    assert type(model.image_encoder).__name__ == 'ImageEncoder'  # the real one
    torch.manual_seed(0)
    return model.eval()


@pytest.fixture(autouse=True)
def in_synthetic_cwd(synthetic_cwd, monkeypatch):
    """The config's relative data paths (class names, caption vocabulary) resolve here."""
    monkeypatch.chdir(synthetic_cwd)


@pytest.fixture(scope='module')
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, H, W)


def unpadded_samples(n: int) -> list:
    return [DetDataSample(metainfo=dict(img_shape=(H, W), batch_input_shape=(H, W)))
            for _ in range(n)]


def test_classification_predict_without_samples(model, images):
    out = model(images, None, mode='predict', task='syn_cls')
    assert len(out) == 2
    num_classes = len(model.tasks['syn_cls'].class_names)
    assert all(ds.pred_score.shape == (num_classes, ) for ds in out)
    with torch.no_grad():
        ref = model(images, unpadded_samples(2), mode='tensor', task='syn_cls')
        got = model(images, None, mode='tensor', task='syn_cls')
    torch.testing.assert_close(got, ref)
    assert [int(ds.pred_label) for ds in out] == ref.argmax(-1).tolist()


def test_captioning_predict_without_samples(model, images):
    task = model.tasks['syn_cap']
    task.max_length = 3
    out = model(images, None, mode='predict', task='syn_cap')
    assert len(out) == 2 and all(isinstance(ds.pred_caption, str) for ds in out)


def test_detection_and_retrieval_tensors_without_samples(model, images):
    with torch.no_grad():
        det = model(images, None, mode='tensor', task='syn_det')
        det_ref = model(images, unpadded_samples(2), mode='tensor', task='syn_det')
        img = model.tasks['syn_ret'].image_features(model, images, None)
    torch.testing.assert_close(det['logits'], det_ref['logits'])
    torch.testing.assert_close(det['boxes'], det_ref['boxes'])
    assert img.shape == (2, model.decoder.embed_dims)
    with pytest.raises(ValueError, match='DetectionTask.predict needs data_samples'):
        model(images, None, mode='predict', task='syn_det')


def test_image_encoder_loss_needs_samples(model, images):
    with pytest.raises(ValueError, match='gt_instances'):
        model.image_encoder.loss(images, None)
