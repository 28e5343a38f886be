"""A batch sampler that resumes any grouping batch sampler exactly (e.g. mmdet's aspect-ratio one)."""
from typing import Iterator, List, Optional, Union

from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler

from .resumable_infinite_sampler import ResumableInfiniteSampler


@DATA_SAMPLERS.register_module()
class ResumableBatchSampler(BatchSampler):
    """Wrap a batch sampler over a :class:`ResumableInfiniteSampler` so it can resume exactly.

    A batch sampler that groups indices - mmdet's ``AspectRatioBatchSampler`` puts each index into
    a bucket by aspect ratio and yields a bucket when it is full - holds indices back between
    batches, so "``p`` samples drawn" does not say where its next batch starts; starting the
    sampler at ``p`` with empty buckets (what a plain batch sampler needs) gives other batches
    than the uninterrupted run.  :meth:`skip` replays the wrapped batch sampler's index stream
    from the start (indices and data infos only; no sample is loaded or transformed) and keeps
    that very stream: the next iterator continues it, buckets included, so batch ``n + 1`` onward
    equal the uninterrupted run's.  Without :meth:`skip`, each iterator is the wrapped batch
    sampler's own.

    ``MultiTaskTrainLoop`` wraps a train loader's ``batch_sampler`` config in this class when its
    ``sampler`` is a ``ResumableInfiniteSampler``, and calls :meth:`skip` on resume.  Config::

        sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
        batch_sampler=dict(type='ResumableBatchSampler',
                           batch_sampler=dict(type='AspectRatioBatchSampler'))

    Args:
        sampler (ResumableInfiniteSampler): the index sampler.
        batch_size (int): samples per batch.
        batch_sampler (dict | BatchSampler): the wrapped batch sampler (its config is built with
            ``sampler`` and ``batch_size``).
    """

    def __init__(self, sampler: Sampler, batch_size: int,
                 batch_sampler: Union[dict, BatchSampler]) -> None:
        if not isinstance(sampler, ResumableInfiniteSampler):
            raise TypeError("ResumableBatchSampler needs sampler=dict(type="
                            f"'ResumableInfiniteSampler'), got {type(sampler).__name__}")
        if isinstance(batch_sampler, dict):
            batch_sampler = DATA_SAMPLERS.build(
                batch_sampler, default_args=dict(sampler=sampler, batch_size=batch_size))
        if not isinstance(batch_sampler, BatchSampler) or batch_sampler.sampler is not sampler:
            raise TypeError('ResumableBatchSampler.batch_sampler must be a BatchSampler over the '
                            f'same sampler, got {batch_sampler!r}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = batch_sampler.drop_last
        self.batch_sampler = batch_sampler
        self._continued: Optional[Iterator[List[int]]] = None

    def skip(self, num_batches: int) -> None:
        """Make the next iterator start after the first ``num_batches`` batches of the stream.

        Args:
            num_batches (int): batches this rank has already trained.
        """
        if int(num_batches) != num_batches or num_batches < 0:
            raise ValueError(f'ResumableBatchSampler.skip: num_batches must be an integer >= 0, '
                             f'got {num_batches!r}')
        self.sampler.set_position(0)
        stream = iter(self.batch_sampler)
        for _ in range(int(num_batches)):
            next(stream)
        self._continued = stream

    def __iter__(self) -> Iterator[List[int]]:
        stream, self._continued = self._continued, None
        return stream if stream is not None else iter(self.batch_sampler)

    def __len__(self) -> int:
        return len(self.batch_sampler)
