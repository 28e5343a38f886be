"""An infinite sampler that starts at any position without drawing the skipped samples."""
import itertools
from typing import Iterator, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(Sampler):
    """Endless shuffled passes over a dataset, split between ranks, resumable in O(1).

    The global stream is epoch 0's permutation, then epoch 1's, ...; permutation ``e`` is
    ``randperm(len(dataset))`` from a generator seeded with ``seed + e`` (identity without
    ``shuffle``).  Rank ``r`` of ``W`` takes the global positions ``r, r + W, r + 2W, ...``, as
    MMEngine's ``InfiniteSampler`` does.  Because each epoch has its own seed, the ``p``-th index of a
    rank is computable directly: :meth:`set_position` makes the next iterator start there,
    without generating, loading or transforming the ``p`` samples before it.
    ``MultiTaskTrainLoop`` uses this to resume every task's data loader exactly where it stopped.

    Config (a drop-in for ``InfiniteSampler`` in a train loader)::

        sampler=dict(type='ResumableInfiniteSampler', shuffle=True)

    Args:
        dataset (Sized): the dataset.
        shuffle (bool): shuffle every pass. Defaults to True.
        seed (int, optional): shared by all ranks; default a random seed synchronised across ranks.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.size = len(dataset)
        if self.size == 0:
            raise ValueError(f'ResumableInfiniteSampler: the dataset {type(dataset).__name__} is '
                             'empty (check its ann_file / data_prefix)')
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.position = 0
        #: indices the latest iterator has yielded (it started at :attr:`position`)
        self.drawn = 0

    def set_position(self, position: int) -> None:
        """Make the next iterator start at this rank's ``position``-th sample (0-based).

        Args:
            position (int): number of samples this rank has already drawn.
        """
        if int(position) != position or position < 0:
            raise ValueError(f'ResumableInfiniteSampler: position must be an integer >= 0, '
                             f'got {position!r}')
        self.position = int(position)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        generator = torch.Generator()
        generator.manual_seed(self.seed + epoch)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[int]:
        epoch, indices = -1, None
        self.drawn = 0
        for g in itertools.count(self.rank + self.position * self.world_size, self.world_size):
            e, offset = divmod(g, self.size)
            if e != epoch:
                epoch, indices = e, self._permutation(e).tolist()
            self.drawn += 1
            yield indices[offset]

    def __len__(self) -> int:
        """Samples of one pass on this rank (the stream itself never ends)."""
        return (self.size - self.rank + self.world_size - 1) // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """No-op (``DistSamplerSeedHook`` calls it; passes are counted by position)."""
