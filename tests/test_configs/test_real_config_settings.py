"""Settings of the shipped real-data configs that a run on the real layouts needs: AMP dtype by
device, data-loader workers that fit a multi-task run, a pointer to the stage-1 config, grounding
and semantic-segmentation evaluation within the memory of the other tasks, and a resume / test
that loads no weight the checkpoint overwrites (``uniperceiver_v2.utils.launch``)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from uniperceiver_v2.testing.entry_points import REPO_ROOT
from uniperceiver_v2.utils.launch import resume_checkpoint, skip_pretrained_weights

REAL = {'r50_4task': 'upv2_r50_8xgpu-150k_coco-in1k.py',
        'r50_grounding_semseg': 'upv2_r50_8xgpu-150k_coco-in1k-refcoco-ade20k.py',
        'base': 'upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py',
        'large': 'upv2-large_swin-l_8xgpu-150k_coco-in1k-corpus.py'}


def load(name: str) -> Config:
    return Config.fromfile(str(REPO_ROOT / 'configs' / REAL[name]))


@pytest.mark.parametrize('name', list(REAL))
def test_amp_dtype_follows_the_device(name):
    """No real config pins the autocast dtype, so the wrapper picks bf16 on a CPU."""
    cfg = load(name)
    assert 'dtype' not in cfg.optim_wrapper, 'optim_wrapper.dtype pinned: float16 fails on CPU'
    if 'Amp' in cfg.optim_wrapper.get('type', ''):
        from uniperceiver_v2.engine.amp_tbgn import AmpTBGNOptimWrapper
        from uniperceiver_v2.engine.tbgn import TBGN  # noqa: F401
        params = [torch.nn.Parameter(torch.zeros(2))]
        wrapper = AmpTBGNOptimWrapper(torch.optim.AdamW(params), loss_scale='dynamic')
        assert wrapper.cast_dtype == torch.bfloat16
        pinned = AmpTBGNOptimWrapper(torch.optim.AdamW(params), dtype='float16')
        assert pinned.cast_dtype == torch.float16  # a user's pin is kept


@pytest.mark.parametrize('name', list(REAL))
def test_loader_workers_fit_a_multi_task_run(name):
    """At most 2 workers per task; evaluation workers are not kept between passes, so a rank
    holds 2 per training task plus the 2 of the task being evaluated."""
    cfg = load(name)
    for task, loader in cfg.train_dataloader.items():
        assert loader.num_workers <= 2, task
    for split in ('val', 'test'):
        for task, loader in (cfg.get(f'{split}_dataloader') or {}).items():
            assert loader.num_workers <= 2, (split, task)
            assert not loader.get('persistent_workers', False), (split, task)


@pytest.mark.parametrize('name', list(REAL))
def test_stage1_config_is_named(name):
    """The image encoder names its stage-1 config (for the missing-checkpoint error), which exists
    and writes the checkpoint path the config loads."""
    encoder = load(name).model.image_encoder
    assert osp.isfile(REPO_ROOT / encoder.proposal_config)
    stem = osp.splitext(osp.basename(encoder.proposal_config))[0]
    assert encoder.proposal_checkpoint.startswith(f'work_dirs/{stem}/')
    text = (REPO_ROOT / 'configs' / REAL[name]).read_text()
    if 'proposal_config' in text:  # the config that sets it also tells how to skip stage 1
        assert 'model.image_encoder.proposal_checkpoint=None' in text


def _eval_pixels(loader) -> int:
    """Batch size x the largest resize target of the loader's pipeline (pixels per step)."""
    scales = [t['scale'] for t in loader.dataset.pipeline if 'scale' in t]
    largest = max(s[0] * s[1] if isinstance(s, (tuple, list)) else s * s for s in scales)
    return loader.batch_size * largest


def test_grounding_semseg_evaluation_fits_the_other_tasks_budget():
    """No evaluation step of the grounding + semseg tasks sees more pixels than the largest of
    the 4-task config (ImageNet at 64 x 256^2; detection at 1 x 1333x800): the refcoco loaders
    evaluate at batch 1 (batch 8 x 1333x800 needed > 14 GB of host memory)."""
    budget = max(_eval_pixels(loader) for split in ('val', 'test')
                 for loader in load('r50_4task')[f'{split}_dataloader'].values())
    cfg = load('r50_grounding_semseg')
    for split in ('val', 'test'):
        for task, loader in cfg[f'{split}_dataloader'].items():
            if task.startswith(('refcoco', 'ade')):
                assert _eval_pixels(loader) <= budget, (split, task)
                # images of any size at the detection scale: one image per step
                assert loader.batch_size == 1, (split, task)


def test_skip_pretrained_weights_drops_every_download():
    cfg = load('base')
    skipped = skip_pretrained_weights(cfg, 'test')
    assert any('swin_base_patch4_window12_384_22k' in s for s in skipped)
    assert any(s.startswith('proposal_checkpoint work_dirs/') for s in skipped)
    assert 'text weights roberta-base' in skipped
    assert cfg.model.image_encoder.proposal_checkpoint is None
    assert cfg.model.image_encoder.proposal_network.backbone.init_cfg is None
    assert cfg.model.text_encoder.load_weights is False
    assert 'Pretrained' not in repr(cfg.model.to_dict())
    assert skip_pretrained_weights(cfg, 'again') == []


def test_resume_checkpoint(tmp_path):
    cfg = Config(dict(resume=False, load_from=None, work_dir=str(tmp_path)))
    assert resume_checkpoint(cfg) is None
    cfg.resume = True
    assert resume_checkpoint(cfg) is None  # nothing saved yet: the run starts from scratch
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert resume_checkpoint(cfg) == str(tmp_path / 'iter_2.pth')
    cfg.load_from = 'other.pth'
    assert resume_checkpoint(cfg) == 'other.pth'


def test_run_config_changes_only_the_named_overrides(tmp_path):
    """``write_real_run_config`` (the integration tests' run configs): the shipped config with
    the text model, Pretrained files (also of a swapped backbone), sizes and the stage-1 path
    changed, nothing else."""
    from uniperceiver_v2.testing.real_configs import SMALL_SWIN, write_real_run_config
    shipped = load('large')
    path = write_real_run_config(REPO_ROOT / 'configs' / REAL['large'], tmp_path / 'run.py',
                                 text_model=str(tmp_path), max_iters=2, scale_factor=0.25,
                                 backbone=SMALL_SWIN, eval_batch_size=4)
    run = Config.fromfile(str(path))
    assert 'Pretrained' not in repr(run.model.to_dict())
    assert run.model.text_encoder.pretrained == str(tmp_path)
    assert run.model.text_encoder.load_weights is False  # the folder holds no weights
    assert run.model.image_encoder.proposal_checkpoint is None
    assert run.model.image_encoder.proposal_network.backbone.embed_dims == 48
    assert run.train_cfg.max_iters == run.train_cfg.val_interval == 2
    for task, loader in run.train_dataloader.items():
        assert loader.batch_size == 1
        assert loader.num_workers == shipped.train_dataloader[task].num_workers
    assert {loader.batch_size for loader in run.val_dataloader.values()} == {4}
    for split in ('val', 'test'):  # val and test share the dataset dict: shrunk once
        det = [t for t in run[f'{split}_dataloader'].coco_det.dataset.pipeline
               if t['type'] == 'Resize']
        assert tuple(det[0]['scale']) == (333, 200)  # 1333x800 x 0.25
    cls = [t for t in run.train_dataloader.in1k_cls.dataset.pipeline if 'scale' in t]
    assert cls[0]['scale'] == 128  # 224 x 0.25, raised to the proposal network's minimum
    assert run.model.decoder == shipped.model.decoder and run.model.tasks == shipped.model.tasks
