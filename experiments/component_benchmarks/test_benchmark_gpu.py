"""experiments/component_benchmarks/benchmark_gpu.py in its CPU mode (--tiny): one training step per task of the tiny
config, JSON rows with step time, images/s, peak memory, FLOPs and MFU (no timing asserted)."""
import json
import os.path as osp
import sys

import pytest

import benchmark_gpu  # noqa: E402


def test_cpu_mode_reports_every_field(synthetic_cwd, monkeypatch, tmp_path):
    monkeypatch.chdir(synthetic_cwd)
    out = tmp_path / 'rows.json'
    rows = benchmark_gpu.main(['--tiny', '--device', 'cpu', '--tasks', 'syn_cls',
                               '--peak-tflops', '1', '--out', str(out)])
    assert json.loads(out.read_text()) == rows
    assert [r['task'] for r in rows] == ['syn_cls']
    for r in rows:
        assert r['config'] == 'configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py' and r['device'] == 'cpu'
        assert r['amp'] == 'fp32' and r['batch_size'] == 2 and r['image_size'] == [64, 64]
        assert r['step_time_s'] > 0 and r['tflops_per_step'] > 0
        assert r['peak_memory_mb'] >= r['memory_before_step_mb'] > 0
        assert r['peak_memory_kind'] == 'cpu_peak_rss'
        assert r['images_per_s'] == pytest.approx(2 / r['step_time_s'])
        assert r['mfu'] == pytest.approx(r['tflops_per_step'] / r['step_time_s'])


def test_defaults_without_cuda(monkeypatch):
    monkeypatch.setattr(benchmark_gpu.torch.cuda, 'is_available', lambda: False)
    args = benchmark_gpu.parse_args([])
    assert args.tiny and args.device == 'cpu' and args.amp == 'fp32'
    assert args.steps == 1 and args.batch_size == 2 and args.configs[0].endswith(
        benchmark_gpu.TINY_CONFIG)
    args = benchmark_gpu.parse_args(['configs/upv2-base_swin-b_8xgpu-150k_coco-in1k-corpus.py', '--vocab-size', '64'])
    assert not args.tiny and args.steps == 3 and args.batch_size is None
