"""One cache mechanism for values derived from weights, reused until a weight they depend on
changes.

Three evaluation-time caches use it:

* target embeddings (``UnifiedLikelihoodHead.target_cache``): class-name and vocabulary targets
  ``g(f(y))``, keyed by what the targets are (``('class_names', names)``), depending on the text
  encoder, the decoder and the task parameters;
* merged experts (``AttributeMoEFFN``): ``W_s = sum_i g_{s,i} W_i`` per token kind, keyed by the
  kinds, depending on the FFN's own experts and router;
* vocabulary lookups (``BaseTask.vocabulary_lookup``): target token ids and the id -> target map
  of a task, keyed by device, depending on no weight (only the tokenizer and the config).

A value is stored with the *fingerprint* of the parameters it depends on: each parameter's storage
address and in-place version counter (``Tensor._version``).  An optimizer step,
``load_state_dict`` or any in-place edit bumps the version, and moving the module to another device
changes the storage, so a stale value is never returned.  On a miss, entries made with other
weights are dropped (one weight state is kept).  Callers decide *when* caching is allowed (the
weight-derived caches only at evaluation: module not training and autograd off, so training
always recomputes with gradient).
"""
from typing import Any, Callable, Dict, Hashable, Iterable, Tuple

from torch import Tensor

Fingerprint = Tuple[Tuple[int, int], ...]


class WeightVersionCache:
    """Values keyed by (key, fingerprint of the parameters they were computed from).

    Attributes:
        hits (int): lookups answered from the cache.
        misses (int): lookups that computed the value.
    """

    def __init__(self) -> None:
        self._store: Dict[Hashable, Tuple[Fingerprint, Any]] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def fingerprint(params: Iterable[Tensor]) -> Fingerprint:
        """Storage address and in-place version of every parameter."""
        return tuple((p.data_ptr(), p._version) for p in params)

    def get(self, key: Hashable, compute: Callable[[], Any], params: Iterable[Tensor] = ()) -> Any:
        """The cached value of ``key`` if ``params`` are unchanged, else ``compute()`` (stored).

        Args:
            key (Hashable): what the value is.
            compute (callable): computes the value.
            params (Iterable[Tensor]): the parameters the value depends on (none: only ``key``).
        """
        fp = self.fingerprint(params)
        hit = self._store.get(key)
        if hit is not None and hit[0] == fp:
            self.hits += 1
            return hit[1]
        self.misses += 1
        self._store = {k: v for k, v in self._store.items() if v[0] == fp}
        value = compute()
        self._store[key] = (fp, value)
        return value

    def clear(self) -> None:
        """Forget every value."""
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)
