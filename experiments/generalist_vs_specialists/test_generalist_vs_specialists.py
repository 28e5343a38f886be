"""experiments/generalist_vs_specialists/generalist_vs_specialists.py: the equal-budget arithmetic, the run configs, the
pre-stage hand-off and the cache without training, then a smoke-sized grid through the real
entry points (one specialist, one UPv2 single-task row, one 2-rank Tab. 4 row)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mmengine.config import Config

import generalist_vs_specialists as gvs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def shares():
    return gvs.generalist_shares(gvs.load_config(gvs.REFERENCE))


def test_generalist_shares_are_max_iters_times_sampling_weight(shares):
    cfg = gvs.load_config(gvs.REFERENCE)
    weights = {k: v['sampling_weight'] for k, v in cfg.train_cfg.tasks.items()}
    assert set(shares) == set(weights)
    for task, w in weights.items():
        assert shares[task] == pytest.approx(cfg.train_cfg.max_iters * w / sum(weights.values()))
    assert sum(shares.values()) == pytest.approx(cfg.train_cfg.max_iters)


def test_row_iterations_sum_the_budget_and_scale(shares):
    rows = {r.name: r for r in gvs.default_rows()}
    assert gvs.row_iterations(rows['spec_det'], shares, 0, 1.0) == round(shares['syn_det'])
    # a pre-stage of 800 iterations goes to the detection specialist, not to the UPv2 rows
    assert gvs.row_iterations(rows['spec_det'], shares, 800, 1.0) == round(shares['syn_det']) + 800
    assert gvs.row_iterations(rows['single_det'], shares, 800, 1.0) == round(shares['syn_det'])
    loo = gvs.row_iterations(rows['loo_cls'], shares, 0, 1.0)
    assert loo == round(sum(v for k, v in shares.items() if k != 'syn_cls'))
    assert gvs.row_iterations(rows['all_moe'], shares, 0, 0.5) == round(sum(shares.values()) / 2)
    assert gvs.row_iterations(rows['all_moe'], shares, 0, 1e-6) == 2  # never below 2
    with pytest.raises(KeyError, match='neither'):
        gvs.row_iterations(gvs.Row('x', 'g', 'x', gvs.REFERENCE, ('syn_nope', )), shares, 0, 1)


def test_run_config_keeps_tasks_in_order_scales_schedule_and_round_trips(tmp_path):
    row = next(r for r in gvs.default_rows() if r.name == 'loo_det')
    start = gvs.EMBEDDED_PRE_STAGE.hand_off('/x/iter_8.pth')
    cfg = gvs.run_config(row.config, row.options, row.tasks, 700, seed=3, start=start)
    assert list(cfg.train_cfg.tasks) == ['syn_cls', 'syn_cap', 'syn_ret']
    for holder in (cfg.model.tasks, cfg.train_dataloader, cfg.val_dataloader, cfg.val_evaluator,
                   cfg.test_dataloader, cfg.test_evaluator):
        assert list(holder) == ['syn_cls', 'syn_cap', 'syn_ret']
    assert cfg.train_cfg.max_iters == cfg.train_cfg.val_interval == 700
    warmup, cosine = cfg.param_scheduler
    full = Config.fromfile(str(ROOT / gvs.REFERENCE)).train_cfg.max_iters
    assert (warmup.begin, warmup.end) == (0, round(50 * 700 / full))
    assert (cosine.begin, cosine.end) == (round(50 * 700 / full), 700)
    assert cfg.default_hooks.checkpoint.interval == 700
    no_ckpt = gvs.run_config(row.config, {}, None, 700, seed=0, checkpoint=False)
    hook = no_ckpt.default_hooks.checkpoint
    assert hook.interval > 700 and not hook.save_last
    assert cfg.randomness.seed == 3
    assert cfg.model.image_encoder.proposal_checkpoint == '/x/iter_8.pth'
    assert gvs.Stage('a.py').hand_off('/x/iter_8.pth') == dict(load_from='/x/iter_8.pth')
    path = tmp_path / 'run.py'
    gvs.write_run_config(cfg, row.config, str(path))
    again = Config.fromfile(str(path))
    assert again.to_dict() == cfg.to_dict()
    assert list(again.train_cfg.tasks) == ['syn_cls', 'syn_cap', 'syn_ret']  # sampler order
    with pytest.raises(KeyError, match='train_cfg.tasks'):
        gvs.run_config(row.config, {}, ('syn_nope', ), 10, 0)


def test_milestones_scale():
    row = next(r for r in gvs.default_rows() if r.name == 'spec_det')
    cfg = gvs.run_config(row.config, row.options, None, 300, seed=0)
    assert cfg.param_scheduler[1].milestones == [240] and cfg.param_scheduler[1].end == 300


def test_a_run_past_its_timeout_is_killed_with_its_children(tmp_path):
    """A hung run (a parent and a child that ignore SIGTERM, as data workers do) fails after
    ``timeout`` and leaves no process behind; a failing run raises with its log."""
    marker = f'hang_{os.getpid()}'
    code = ('import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
            f'subprocess.Popen([sys.executable, "-c", "import signal, time; {marker} = 1; '
            'signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"]); time.sleep(60)')
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match='run-timeout'):
        gvs.run_command([sys.executable, '-c', code], str(tmp_path), dict(os.environ),
                        str(tmp_path / 'log'), timeout=3)
    assert time.perf_counter() - t0 < 30
    time.sleep(0.5)
    assert subprocess.run(['pgrep', '-f', marker], capture_output=True).returncode == 1
    with pytest.raises(RuntimeError, match='exited 3'):
        gvs.run_command([sys.executable, '-c', 'raise SystemExit(3)'], str(tmp_path),
                        dict(os.environ), str(tmp_path / 'log'))


def test_read_metrics_takes_the_last_validation(tmp_path):
    run = tmp_path / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    lines = [dict(loss=1.0, step=1), dict(**{'syn_det/bbox_mAP': 0.1, 'syn_cls/top1': 10.0}),
             dict(loss=0.5, step=2),
             dict(**{'syn_det/bbox_mAP': 0.4, 'syn_det/segm_mAP': 0.3, 'syn_cls/top1': 50.0,
                     'syn_cap/CIDEr': 1.1, 'syn_cap/Bleu_4': 0.4, 'syn_ret/i2t/Recall@1': 30.0,
                     'syn_ret/t2i/Recall@1': 20.0, 'syn_det/bbox_mAP_50': 0.9})]
    (run / 'scalars.json').write_text('\n'.join(json.dumps(x) for x in lines))
    assert gvs.read_metrics(str(tmp_path)) == pytest.approx(dict(
        det_box_ap=40.0, det_mask_ap=30.0, cls_top1=50.0, cap_cider=110.0, cap_bleu4=40.0,
        ret_i2t_r1=30.0, ret_t2i_r1=20.0))
    # single-task key spellings (mmpretrain RetrievalValLoop, mmdet CocoMetric, Accuracy)
    (run / 'scalars.json').write_text(json.dumps({
        'i2t/retrieval/Recall@1': 5.0, 't2i/retrieval/Recall@1': 6.0, 'coco/bbox_mAP': 0.2,
        'accuracy/top1': 7.0}))
    assert gvs.read_metrics(str(tmp_path)) == pytest.approx(dict(
        ret_i2t_r1=5.0, ret_t2i_r1=6.0, det_box_ap=20.0, cls_top1=7.0))


def test_pre_stage_feeds_load_from_once_per_seed_and_counts_in_the_wall_clock(
        tmp_path, monkeypatch):
    """With a pre-stage, UPv2 rows run it first (once per seed, cached), its checkpoint goes
    into the row's config key, its wall-clock into the row's; the detection specialist gets its
    iterations instead; a second grid reuses every run."""
    calls = []

    def fake_train(cfg, base, work_dir, ranks, cwd, timeout=None):
        calls.append((base, cfg.get('load_from'), cfg.train_cfg.max_iters))
        run = Path(work_dir) / '20260101_000000' / 'vis_data'
        run.mkdir(parents=True, exist_ok=True)
        (run / 'scalars.json').write_text(json.dumps({'coco/bbox_mAP': 0.5}))
        (Path(work_dir) / 'last_checkpoint').write_text(f'{work_dir}/iter_1.pth')
        (Path(work_dir) / 'iter_1.pth').write_text('')
        return 10.0

    monkeypatch.setattr(gvs, 'train', fake_train)
    stage = gvs.Stage('configs/proposal_network/maskdino-proposal_mobilenetv2_1xcpu-440it_synthetic.py')
    pre_iters = gvs.load_config(stage.config).train_cfg.max_iters
    rows = {r.name: r for r in gvs.default_rows()}
    grid = gvs.Grid(str(tmp_path / 'out'), str(tmp_path / 'w'), str(tmp_path), 0.01, stage)
    for name in ('single_det', 'single_cls', 'spec_det'):
        grid.run(rows[name], seed=0)
    pre_runs = [c for c in calls if c[0] == stage.config]
    assert len(pre_runs) == 1 and pre_runs[0][2] == round(pre_iters * 0.01)
    single_det = grid.results['runs']['single_det/seed0']
    assert calls[1][1].endswith('iter_1.pth')                      # load_from = pre-stage's
    assert single_det['wall_s'] == 20.0 and single_det['pre_stage_wall_s'] == 10.0
    spec = grid.results['runs']['spec_det/seed0']
    assert spec['pre_stage_iterations'] == 0 and spec['wall_s'] == 10.0
    reference = gvs.load_config(gvs.REFERENCE).train_cfg
    weights = {t: c.get('sampling_weight', 1.0) for t, c in reference.tasks.items()}
    det_share = reference.max_iters * weights['syn_det'] / sum(weights.values())
    assert spec['iterations'] == round((pre_iters + round(det_share)) * 0.01)
    n = len(calls)
    again = gvs.Grid(str(tmp_path / 'out'), str(tmp_path / 'w'), str(tmp_path), 0.01, stage)
    for name in ('single_det', 'single_cls', 'spec_det'):
        again.run(rows[name], seed=0)
    assert len(calls) == n                                          # all cached
    other = gvs.Grid(str(tmp_path / 'out'), str(tmp_path / 'w'), str(tmp_path), 0.02, stage)
    assert other.finished(rows['single_det']) == []                 # other budget: not shown
    # a run cached before its config's optimizer changed is neither reused nor shown
    record = again.results['runs']['single_det/seed0']
    record['signature']['optimizer']['lr'] *= 3
    assert again.finished(rows['single_det']) == []
    again.run(rows['single_det'], seed=0)
    assert len(calls) == n + 1
    assert gvs.optimizer_signature(gvs.REFERENCE, json.dumps(gvs.FORMER_TBGN_LR))['lr'] == 5e-4


def test_table_shows_means_over_seeds_of_metrics_wall_clock_and_task_draws(tmp_path):
    row = gvs.Row('r', 'g', 'a row', gvs.REFERENCE, ('syn_cls', 'syn_det'))
    runs = [dict(seed=seed, iterations=10, pre_stage_iterations=4, wall_s=wall,
                 task_iterations=dict(cls=cls, det=10 - cls), metrics=dict(cls_top1=top1))
            for seed, wall, cls, top1 in ((0, 60.0, 3, 50.0), (1, 180.0, 7, 60.0))]
    reference = dict(config=gvs.REFERENCE, task_iterations=dict(syn_cls=1.0, syn_det=3.0),
                     batch_size=dict(syn_cls=16, syn_det=8), pre_stage=None, budget_scale=0.5)
    out = str(tmp_path / 'table')
    gvs.write_table([(row, runs)], reference, out, 'cmd')
    line = [x for x in open(out + '.md').read().splitlines() if x.startswith('| g |')][0]
    assert '| 10 (cls 5, det 5) + 4 pre-stage | 2.0 min | 0,1 | 55.0 ± 7.1 |' in line


def test_decomposition_columns_read_and_missing_ones_print_dash(tmp_path):
    """DetectionDecompositionMetric's keys become columns; a run cached before them shows '-'."""
    run = tmp_path / 'w' / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    (run / 'scalars.json').write_text(json.dumps({
        'syn_det/bbox_mAP': 0.2, 'syn_det/bbox_mAP_agnostic': 0.5,
        'syn_det/bbox_mAP_oracle_cls': 0.45, 'syn_det/segm_mAP': 0.1,
        'syn_det/segm_mAP_agnostic': 0.4, 'syn_det/segm_mAP_oracle_cls': 0.35,
        'syn_det/bbox_mAP_50_agnostic': 0.9}))
    new = gvs.read_metrics(str(tmp_path / 'w'))
    assert new == pytest.approx(dict(det_box_ap=20.0, det_box_ap_agnostic=50.0,
                                     det_box_ap_oracle_cls=45.0, det_mask_ap=10.0,
                                     det_mask_ap_agnostic=40.0, det_mask_ap_oracle_cls=35.0))
    row = gvs.Row('r', 'g', 'a row', gvs.REFERENCE, ('syn_det', ))
    old = dict(det_box_ap=18.0, det_mask_ap=9.0)                    # cached before the metric
    runs = [dict(seed=seed, iterations=10, pre_stage_iterations=0, wall_s=60.0,
                 task_iterations=dict(det=10), metrics=m) for seed, m in ((0, new), (1, old))]
    reference = dict(config=gvs.REFERENCE, task_iterations=dict(syn_det=1.0),
                     batch_size=dict(syn_det=8), pre_stage=None, budget_scale=1.0)
    gvs.write_table([(row, runs[:1]), (gvs.Row('o', 'g', 'old run', gvs.REFERENCE,
                                                ('syn_det', )), runs[1:])],
                    reference, str(tmp_path / 't'), 'cmd')
    text = (tmp_path / 't.md').read_text()
    header = [x for x in text.splitlines() if x.startswith('| group |')][0]
    assert 'box AP agnostic' in header and 'mask AP oracle cls' in header
    titles = [t.strip() for t in header.strip('|').split('|')]

    def cells(label):
        line = [x for x in text.splitlines() if f'| {label} |' in x][0]
        return dict(zip(titles, [c.strip() for c in line.strip('|').split('|')]))

    assert [cells('a row')[t] for t in ('cls top-1', 'box AP', 'box AP agnostic',
                                        'box AP oracle cls', 'mask AP', 'mask AP agnostic',
                                        'mask AP oracle cls')] == \
        ['-', '20.0', '50.0', '45.0', '10.0', '40.0', '35.0']
    assert [cells('old run')[t] for t in ('box AP', 'box AP agnostic', 'box AP oracle cls',
                                          'mask AP agnostic', 'mask AP oracle cls')] == \
        ['18.0', '-', '-', '-', '-']


def test_leave_one_out_rows_at_both_tbgn_lrs():
    rows = {r.name: r for r in gvs.default_rows()}
    for task in gvs.TASKS:
        name = 'loo_' + gvs.TASK_NAMES[task]
        current, former = rows[name], rows[name + '_lr05']
        assert current.tasks == former.tasks == tuple(t for t in gvs.TASKS if t != task)
        assert current.options == {} and former.options == gvs.FORMER_TBGN_LR
        assert 'lr 5e-4' in former.label and 'lr' not in current.label


# ------------------------------------------------------------------------------- smoke grid
@pytest.mark.integration
def test_smoke_grid_through_the_entry_points(synthetic_cwd, tmp_path):
    """A specialist, a UPv2 single-task row and a 2-rank Tab. 4 row at 2-3 iterations on the
    tiny synthetic copy, the UPv2 rows after the embedded default's pre-stage (run once): table,
    JSON and plot written; a rerun takes everything from the cache."""
    out = tmp_path / 'grid'
    cmd = [sys.executable, str(Path(__file__).resolve().parent / 'generalist_vs_specialists.py'),
           '--rows', 'spec_cls', 'single_cls', 't4_tbgn', '--seeds', '0',
           '--budget-scale', '0.001', '--out', str(out), '--work-dir', str(tmp_path / 'w'),
           '--data-cwd', str(synthetic_cwd), '--run-timeout', '240']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((out.parent / 'grid.json').read_text())
    runs = data['runs']
    assert set(runs) == {'spec_cls/seed0', 'single_cls/seed0', 't4_tbgn/seed0'}
    assert set(runs['spec_cls/seed0']['metrics']) == {'cls_top1'}
    assert set(runs['single_cls/seed0']['metrics']) == {'cls_top1'}
    assert set(runs['t4_tbgn/seed0']['metrics']) == set(gvs.METRICS)
    t4 = runs['t4_tbgn/seed0']
    expected = max(2, round(gvs.load_config(gvs.REFERENCE).train_cfg.max_iters * 0.001))
    assert t4['ranks'] == 2 and t4['iterations'] == expected
    assert sum(t4['task_iterations'].values()) == expected
    assert all(r['wall_s'] > 0 and r['seed'] == 0 for r in runs.values())
    assert len(data['pre_stages']) == 1
    assert t4['wall_s'] == pytest.approx(t4['own_wall_s'] + t4['pre_stage_wall_s'])
    assert t4['pre_stage_wall_s'] > 0 and runs['spec_cls/seed0']['pre_stage_wall_s'] == 0
    table = (out.parent / 'grid.md').read_text()
    for label in ('ImageClassifier', 'cls alone', 'unmixed + gather + TBGN'):
        assert label in table
    assert (out.parent / 'grid.png').stat().st_size > 0
    assert not list((tmp_path / 'w').glob('[!p]*/seed0/*.pth'))   # only the pre-stage saves
    assert list((tmp_path / 'w').glob('pre_stage_*/iter_*.pth'))
    t0 = time.perf_counter()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('cached') == 3 and time.perf_counter() - t0 < 60
