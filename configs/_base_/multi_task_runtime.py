# Runtime of the multi-task configs: mmdet's runtime with the multi-task log line, which shows each
# task's losses once and sums the proposal network's terms (`proposal.*`) into four totals:
# prop (final decoder layer), aux (intermediate layers, d<i>.), enc (two-stage encoder queries)
# and dn (denoising queries of every layer).
_base_ = ['./mmdet_runtime.py']
log_processor = dict(
    type='MultiTaskLogProcessor', window_size=50, by_epoch=False,
    loss_groups={'proposal.': dict(prop=r'^loss_\w+$', aux=r'^d\d+\.loss_\w+$',
                                   enc=r'^enc_loss_\w+$', dn=r'^(d\d+\.)?dn_loss_\w+$')})
