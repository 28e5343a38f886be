"""The analysis tools behind tools/analysis/ (count_params, get_flops, benchmark) on the embedded
default, restricted to its classification task where a tool takes ``--tasks``."""
import os.path as osp

import pytest
import torch

from uniperceiver_v2.analysis import benchmark, count_params, get_flops
from uniperceiver_v2.testing import build_model, load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMBEDDED = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')


def test_count_params_tiny(synthetic_cwd, monkeypatch, capsys):
    monkeypatch.chdir(synthetic_cwd)
    rows = count_params.main([EMBEDDED])
    table = dict((name, (total, deployed)) for name, total, deployed in rows)
    components = [r for r in rows if r[0] != 'total']
    assert table['total'][0] == sum(r[1] for r in components)
    # 2 MoE layers, 8 experts of a width-128 FFN (128 -> 512 -> 128): 7 experts dropped each
    per_expert = 128 * 512 + 512 + 512 * 128 + 128
    assert table['unified decoder'][0] - table['unified decoder'][1] == 2 * 7 * per_expert
    for name in ('backbone', 'text encoder'):
        assert table[name][0] == table[name][1] > 0
    out = capsys.readouterr().out
    assert '| **total** |' in out and 'paper' not in out  # no Swin: no paper reference


def test_build_model_initialises_without_stage_one(synthetic_cwd, monkeypatch, tmp_path):
    """The benchmarks' model is initialised (mmdet DINO's ``level_embed`` is uninitialised
    memory until ``init_weights``), without the stage-1 checkpoint the config names."""
    monkeypatch.chdir(synthetic_cwd)
    cfg = load_config(EMBEDDED)
    assert not osp.exists(cfg.model.image_encoder.proposal_checkpoint)  # no stage 1 here
    embeds = []
    for _ in range(2):
        torch.manual_seed(0)
        model, _ = build_model(cfg, True, str(tmp_path))
        embeds.append(model.image_encoder.proposal_network.level_embed.detach().clone())
    assert torch.isfinite(embeds[0]).all() and embeds[0].std() > 0.1  # normal_ init
    assert torch.equal(embeds[0], embeds[1])  # a function of the seed, not of old memory


def test_get_flops_tiny(synthetic_cwd, monkeypatch, capsys):
    monkeypatch.chdir(synthetic_cwd)
    small = get_flops.main([EMBEDDED, '--tasks', 'syn_cls', '--shape', '64', '64', '--params'])
    large = get_flops.main([EMBEDDED, '--tasks', 'syn_cls', '--shape', '128', '128'])
    assert [r['task'] for r in small] == ['syn_cls']
    assert small[0]['shape'] == (64, 64) and large[0]['shape'] == (128, 128)
    assert 0 < small[0]['flops'] < large[0]['flops']
    out = capsys.readouterr().out
    assert '| syn_cls | classification | 64 x 64 |' in out
    assert '| **total** |' in out


def test_benchmark_config_loaders(synthetic_cwd, monkeypatch, capsys):
    monkeypatch.chdir(synthetic_cwd)
    rows = benchmark.main([EMBEDDED, '--tasks', 'syn_cls', '--iters', '1', '--warmup', '1',
                           '--device', 'cpu', '--cfg-options', 'train_dataloader.syn_cls.batch_size=2',
                           'val_dataloader.syn_cls.batch_size=3'])
    by_mode = {r['mode']: r for r in rows}
    assert set(by_mode) == {'inference', 'train'}
    assert by_mode['inference']['batch_size'] == 3 and by_mode['train']['batch_size'] == 2
    for r in rows:
        assert r['s_per_iter'] > 0
        assert r['samples_per_s'] == pytest.approx(r['batch_size'] / r['s_per_iter'])
    assert '| syn_cls | classification | train | 2 |' in capsys.readouterr().out


def test_benchmark_synthetic_inputs(synthetic_cwd, monkeypatch):
    monkeypatch.chdir(synthetic_cwd)
    rows = benchmark.main([EMBEDDED, '--tasks', 'syn_cls', '--synthetic-inputs', '--batch-size', '2', '--shape', '64',
                           '64', '--mode', 'inference', '--iters', '2', '--warmup', '1',
                           '--device', 'cpu'])
    assert len(rows) == 1 and rows[0]['mode'] == 'inference' and rows[0]['batch_size'] == 2


@pytest.mark.parametrize('argv', [['--iters', '0'], ['--batch-size', '0'], ['--warmup', '-1']])
def test_benchmark_argument_errors(argv, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([EMBEDDED] + argv)
    assert 'must be' in capsys.readouterr().err


def test_missing_config_is_an_error(capsys):
    for tool in (count_params, get_flops, benchmark):
        with pytest.raises(SystemExit):
            tool.parse_args(['configs/does_not_exist.py'])
        assert 'config not found' in capsys.readouterr().err

