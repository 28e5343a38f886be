"""MultiTaskLogProcessor: one short line per iteration, each task's losses once, one metric
table."""
import os.path as osp
from types import SimpleNamespace
from typing import Dict, List

import pytest
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import LOG_PROCESSORS

import uniperceiver_v2  # noqa: F401  (registers the plugin)
from uniperceiver_v2.engine.multi_task_log_processor import compile_loss_groups, summarise_task

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMBEDDED = osp.join(ROOT, 'configs', 'upv2_mobilenetv2_1xcpu-770it_synthetic.py')
BOX_MASK_TERMS = ('loss_cls', 'loss_bbox', 'loss_iou', 'loss_mask', 'loss_dice')


def proposal_loss_names(num_decoder_layers: int) -> List[str]:
    """The loss names MaskDINOHead.loss_and_assign returns (final layer, d<i>., enc_, dn_)."""
    names = []
    for layer in range(num_decoder_layers):
        prefix = '' if layer == num_decoder_layers - 1 else f'd{layer}.'
        names += [prefix + n for n in BOX_MASK_TERMS] + [prefix + 'dn_' + n for n in BOX_MASK_TERMS]
    return names + ['enc_' + n for n in BOX_MASK_TERMS]


def embedded_default_outputs() -> Dict[str, Dict[str, float]]:
    """What each task of configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py hands to the hooks, ``<task>/<name>``."""
    cfg = Config.fromfile(EMBEDDED)
    layers = cfg.model.image_encoder.proposal_network.decoder.num_layers
    det = {f'proposal.{n}': 0.123456 for n in proposal_loss_names(layers)}
    det.update(loss_det_cls=1.234567, det_acc=0.25)
    det['loss'] = sum(v for k, v in det.items() if 'loss' in k)
    per_task = dict(syn_det=det,
                    syn_cls=dict(loss=2.995732, loss_cls=2.995732, acc_cls=0.0625),
                    syn_cap=dict(loss=3.210401, loss_caption=3.210401, acc_token=0.41),
                    syn_ret=dict(loss=2.772589, loss_retrieval=2.772589, acc_i2t=0.0625))
    assert set(per_task) == set(cfg.train_cfg.tasks)
    return per_task


def make_runner(name: str, iteration: int, max_iters: int = 2800):
    hub = MessageHub.get_instance(name)
    return SimpleNamespace(message_hub=hub, iter=iteration, max_iters=max_iters,
                           _train_loop=SimpleNamespace(), train_loop=SimpleNamespace())


def run_iterations(hub: MessageHub, tasks: Dict[str, Dict[str, float]], order: List[str],
                   scale: Dict[str, float]) -> None:
    """Record what RuntimeInfoHook / IterTimerHook / TBGN write, one task per iteration."""
    for i, task in enumerate(order):
        hub.update_scalar('train/lr', 5e-4)
        hub.update_scalar('train/time', 0.2)
        hub.update_scalar('train/data_time', 0.01)
        hub.update_scalar('train/grad_norm', 10.0 * (i + 1))
        for name, value in tasks[task].items():
            hub.update_scalar(f'train/{task}/{name}', value * scale[task])
    hub.update_info('eta', 600.0)


def test_embedded_default_line_is_short_and_groups_by_task():
    tasks = embedded_default_outputs()
    order = ['syn_det', 'syn_cls', 'syn_cap', 'syn_ret'] * 5
    runner = make_runner('log_proc_line', iteration=len(order) - 1)
    run_iterations(runner.message_hub, tasks, order, {t: 1.0 for t in tasks})
    cfg = Config.fromfile(EMBEDDED).log_processor
    processor = LOG_PROCESSORS.build(cfg)
    tag, line = processor.get_log_after_iter(runner, len(order) - 1, 'train')
    assert len(line) <= 400, (len(line), line)
    assert line.startswith('Iter(train) [  20/2800]') and 'lr: 5.0000e-04' in line
    assert 'grad_norm: 200.0000' in line  # the last iteration's (syn_ret's), not smoothed
    for task in tasks:
        assert line.count(f'| {task}: loss ') == 1
    assert ' loss: ' not in line and 'd0.' not in line and 'enc_loss' not in line
    # every individual term stays in the scalars written to the JSON log / vis backends
    for task, terms in tasks.items():
        for name in terms:
            assert f'{task}/{name}' in tag
    layers = Config.fromfile(EMBEDDED).model.image_encoder.proposal_network.decoder.num_layers
    # match + dn terms per decoder layer, plus the encoder's
    assert len([k for k in tag if k.startswith('syn_det/proposal.')]) == 10 * layers + 5


def test_no_smoothed_value_mixes_tasks():
    tasks = dict(a=dict(loss=1.0, loss_x=1.0), b=dict(loss=1.0, loss_y=1.0))
    runner = make_runner('log_proc_mix', iteration=5)
    run_iterations(runner.message_hub, tasks, ['a', 'b', 'a', 'b', 'a', 'b'], dict(a=1.0, b=100.0))
    processor = LOG_PROCESSORS.build(dict(type='MultiTaskLogProcessor', window_size=20))
    tag, line = processor.get_log_after_iter(runner, 5, 'train')
    assert tag['a/loss'] == pytest.approx(1.0) and tag['b/loss'] == pytest.approx(100.0)
    assert line.endswith('| a: loss 1.0000  | b: loss 100.0000')


def test_proposal_terms_are_summed_into_totals():
    names = proposal_loss_names(3)
    terms = {f'proposal.{n}': 1.0 for n in names}
    terms.update(loss=99.0, loss_det_cls=0.5, det_acc=0.75)
    groups = compile_loss_groups(Config.fromfile(EMBEDDED).log_processor.loss_groups)
    shown = summarise_task(terms, groups)
    assert list(shown) == ['loss', 'loss_det_cls', 'det_acc', 'prop', 'aux', 'enc', 'dn']
    assert shown['prop'] == 5 and shown['aux'] == 10 and shown['enc'] == 5 and shown['dn'] == 15
    assert sum(v for k, v in shown.items() if k in ('prop', 'aux', 'enc', 'dn')) == len(names)
    # a single-loss task does not repeat its total
    assert list(summarise_task(dict(loss=2.0, loss_cls=2.0, acc_cls=0.5))) == ['loss', 'acc_cls']


def test_validation_metrics_of_all_tasks_in_one_table():
    processor = LOG_PROCESSORS.build(dict(type='MultiTaskLogProcessor'))
    table = processor.metrics_table({
        'syn_cls/accuracy/top1': 45.0, 'syn_det/bbox_mAP': 0.124, 'syn_det/segm_mAP': 0.104,
        'syn_det/bbox_mAP_copypaste': '0.124 0.3', 'syn_cap/Bleu_4': 0.31, 'time': 0.5})
    lines = table.splitlines()
    assert lines[0].split() == ['task', 'metric', 'value']
    assert [ln.split()[0] for ln in lines[2:] if not ln.startswith(' ')] == [
        'syn_cls', 'syn_det', 'syn_cap']
    assert len(lines) == 2 + 4 and 'copypaste' not in table and 'time' not in table
    assert processor.metrics_table({'time': 0.1}) == ''


def test_loss_groups_come_from_the_config():
    """The processor knows no loss names: without ``loss_groups`` every term is shown; a config's
    groups sum the terms under their prefix, in the configured order."""
    terms = {'loss': 3.0, 'head.loss_a': 1.0, 'head.aux_loss_a': 1.5, 'head.other': 0.5}
    assert list(summarise_task(terms)) == list(terms)
    plain = LOG_PROCESSORS.build(dict(type='MultiTaskLogProcessor'))
    assert plain.loss_groups == []
    processor = LOG_PROCESSORS.build(dict(
        type='MultiTaskLogProcessor',
        loss_groups={'head.': dict(main=r'^loss_', aux=r'^aux_loss_')}))
    shown = summarise_task(terms, processor.loss_groups)
    assert list(shown.items()) == [('loss', 3.0), ('other', 0.5), ('main', 1.0), ('aux', 1.5)]
    with pytest.raises(ValueError, match=r"loss_groups\['head.'\].main"):
        LOG_PROCESSORS.build(dict(type='MultiTaskLogProcessor',
                                  loss_groups={'head.': dict(main='(')}))
