"""tools/analysis/count_params.py, get_flops.py and benchmark.py on the tiny synthetic config."""
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import benchmark  # noqa: E402
import count_params  # noqa: E402
import get_flops  # noqa: E402
import torch  # noqa: E402
from offline_build import build_model, load_config  # noqa: E402

TINY_CLS = osp.join(ROOT, 'configs', 'single_task', 'upv2_tiny_cls_synthetic.py')


def test_count_params_tiny(synthetic_cwd, monkeypatch, capsys):
    monkeypatch.chdir(synthetic_cwd)
    rows = count_params.main([TINY_CLS])
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
    cfg = load_config(osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py'))
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
    small = get_flops.main([TINY_CLS, '--shape', '64', '64', '--params'])
    large = get_flops.main([TINY_CLS, '--shape', '128', '128'])
    assert [r['task'] for r in small] == ['synthetic_cls']
    assert small[0]['shape'] == (64, 64) and large[0]['shape'] == (128, 128)
    assert 0 < small[0]['flops'] < large[0]['flops']
    out = capsys.readouterr().out
    assert '| synthetic_cls | classification | 64 x 64 |' in out
    assert '| **total** |' in out


def test_benchmark_config_loaders(synthetic_cwd, monkeypatch, capsys):
    monkeypatch.chdir(synthetic_cwd)
    rows = benchmark.main([TINY_CLS, '--iters', '1', '--warmup', '1', '--device', 'cpu',
                           '--cfg-options', 'train_dataloader.batch_size=2',
                           'val_dataloader.batch_size=3'])
    by_mode = {r['mode']: r for r in rows}
    assert set(by_mode) == {'inference', 'train'}
    assert by_mode['inference']['batch_size'] == 3 and by_mode['train']['batch_size'] == 2
    for r in rows:
        assert r['s_per_iter'] > 0
        assert r['samples_per_s'] == pytest.approx(r['batch_size'] / r['s_per_iter'])
    assert '| synthetic_cls | classification | train | 2 |' in capsys.readouterr().out


def test_benchmark_synthetic_inputs(synthetic_cwd, monkeypatch):
    monkeypatch.chdir(synthetic_cwd)
    rows = benchmark.main([TINY_CLS, '--synthetic-inputs', '--batch-size', '2', '--shape', '64',
                           '64', '--mode', 'inference', '--iters', '2', '--warmup', '1',
                           '--device', 'cpu'])
    assert len(rows) == 1 and rows[0]['mode'] == 'inference' and rows[0]['batch_size'] == 2


@pytest.mark.parametrize('argv', [['--iters', '0'], ['--batch-size', '0'], ['--warmup', '-1']])
def test_benchmark_argument_errors(argv, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([TINY_CLS] + argv)
    assert 'must be' in capsys.readouterr().err


def test_missing_config_is_an_error(capsys):
    for tool in (count_params, get_flops, benchmark):
        with pytest.raises(SystemExit):
            tool.parse_args(['configs/does_not_exist.py'])
        assert 'config not found' in capsys.readouterr().err


def test_tbgn_step_size_own_parameters_travel_one_over_s_further():
    """tools/analysis/tbgn_step_size.py: TBGN moves a parameter only task k reaches ~1/s_k times
    as far as AdamW at the same lr (the figure docs/tbgn.md builds on)."""
    import tbgn_step_size
    rows = {r['param']: r for r in tbgn_step_size.compare([1.0, 3.0], steps=800, dim=16)}
    for key in ('task0', 'task1'):
        assert rows[key]['ratio'] == pytest.approx(1 / rows[key]['s'], rel=0.25)
    assert rows['task0']['ratio'] > rows['task1']['ratio']  # the rarer task, the further
    with pytest.raises(ValueError, match="'TBGN' or 'AdamW'"):
        tbgn_step_size.travelled('SGD', [1.0], 1, 4, 0.0, 1e-3, (0.9, 0.95), 0)
