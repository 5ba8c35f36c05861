"""wasmcore on Dask (``pip install wasmcore[dask]``): see docs/dask.md.

Cores, plugins, their functions and ``RunningStats`` objects pickle, so plain Dask code works
on any scheduler: ``x.map_blocks(core.gamma)`` over a 1-D array, ``bag.map(p.count_words)``,
``client.map(p.count_words, records)``. This module adds what takes more than one line:

* :func:`elementwise` — a 1-D elementwise kernel over a dask array of any shape;
* :func:`stats` — count, mean, var/std (any ddof), min and max in one pass: a
  ``RunningStats`` per chunk, their states merged by Chan et al.'s formula (in Rust);
* :func:`histogram` — exact counts, summed over the chunks;
* :func:`map_partitions` — a function (e.g. a plugin's) over every record of a bag or a
  dataframe series, partition by partition;
* :func:`register` — ships module bytes once to every worker of a cluster, so that task
  pickles carry only references.

``import wasmcore`` never imports dask; this module does.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import dask.array as da
import numpy as np
from dask.delayed import Delayed, delayed
from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from . import Core, Plugin, _pickle, load

__all__ = ["elementwise", "histogram", "map_partitions", "register", "stats"]


# -- shipping modules to a cluster ----------------------------------------------------------

def _modules_of(obj: object) -> Iterable[tuple[str, bytes]]:
    """The (sha256, bytes) of the modules behind a plugin, a core or one of their functions."""
    owner = getattr(obj, "__self__", obj)
    if isinstance(owner, _pickle.Anchor):
        owner = owner.target
    if isinstance(owner, Plugin):
        ref = _pickle.plugin_ref(owner)
        source = owner._source
        data = source if isinstance(source, bytes) \
            else _pickle.module_bytes(ref.sha256, ref.path, f"register({owner.name})")
        return [(ref.sha256, data)]
    if isinstance(owner, Core):
        owner = owner._origin
    if isinstance(owner, _pickle.CoreRef):
        if owner.backend == "native":
            return []  # native code is never shipped: it must be installed on every machine
        return [(owner.sha256, _pickle.module_bytes(owner.sha256, owner.path, "register()"))]
    raise TypeError(f"register(): expected a wasmcore Plugin or Core or one of their "
                    f"functions, got {type(obj).__name__}")


def _arrived(cls: type, modules: dict[str, bytes]) -> Any:
    """Unpickling a registration (in the scheduler, in each worker): its modules join this
    process's registry."""
    for sha, data in modules.items():
        _pickle.remember(data, sha)
    return cls(modules)


def _running(obj: object) -> Callable[[], bool]:
    """Whether ``obj`` (a Client or a Scheduler) is still running (held weakly)."""
    ref = weakref.ref(obj)

    def check() -> bool:
        o = ref()
        return o is not None and getattr(getattr(o, "status", None), "name",
                                         getattr(o, "status", None)) == "running"

    return check


class WasmcoreModules(WorkerPlugin):
    """Module bytes for each worker's registry: they join it as the plugin is unpickled
    there (see :func:`register`)."""

    idempotent = True

    def __init__(self, modules: dict[str, bytes]) -> None:
        self.modules = modules

    def __reduce__(self) -> tuple[Any, ...]:
        return _arrived, (WasmcoreModules, self.modules)


class WasmcoreSchedulerModules(SchedulerPlugin):
    """The same for the scheduler, which unpickles task graphs and pickles each task again for
    its worker: there too, pickles leave the shipped modules out."""

    idempotent = True

    def __init__(self, modules: dict[str, bytes]) -> None:
        self.modules = modules

    def __reduce__(self) -> tuple[Any, ...]:
        return _arrived, (WasmcoreSchedulerModules, self.modules)

    async def start(self, scheduler: Any) -> None:
        for sha in self.modules:
            _pickle.ship(sha, _running(scheduler))


def register(client: Any, *objs: object) -> None:
    """Ships the modules of ``objs`` (plugins, cores, or their functions) once to the
    scheduler and every worker of ``client``'s cluster, workers that join later included
    (a Dask worker and a scheduler plugin). From then on, while the client is open, pickles
    made in this process leave those modules' bytes out: a graph of 10 000 tasks carries
    references, not 10 000 copies. Without it, each pickle carries the bytes of the plugins and
    ``path=`` cores in it, so each task that the scheduler sends a worker does.

    The bundled core needs no registering (every worker has it in its wasmcore); registered
    anyway, workers use the client's module rather than their own. A ``native`` core is never
    shipped."""
    modules: dict[str, bytes] = {}
    for obj in objs:
        modules.update(_modules_of(obj))
    if not modules:
        return
    name = "wasmcore-modules-" + hashlib.sha256(" ".join(sorted(modules)).encode()).hexdigest()
    client.register_plugin(WasmcoreSchedulerModules(modules), name=name)
    client.register_plugin(WasmcoreModules(modules), name=name)
    for sha in modules:
        _pickle.ship(sha, _running(client))


# -- arrays ---------------------------------------------------------------------------------

def _flat(block: np.ndarray, func: Callable[..., Any], *args: Any) -> np.ndarray:
    out = np.asarray(func(np.ravel(block), *args))
    if out.size != block.size:
        raise ValueError(f"elementwise(): {getattr(func, '__name__', func)!s} returned "
                         f"{out.size} values for a block of {block.size}: it must be "
                         "elementwise (one value out per value in)")
    return out.reshape(block.shape)


def elementwise(func: Callable[..., Any], x: da.Array, *args: Any,
                dtype: Any = None) -> da.Array:
    """``func(block.ravel(), *args)`` reshaped back, block by block: a 1-D elementwise kernel
    (``core.gamma``, ``core.lgamma``, ``core.erf``, or a plugin function from f64[] to f64[])
    over a dask array of any shape. ``dtype``: of the result; by default that of
    ``func`` on an empty array."""
    if dtype is None:
        try:
            dtype = np.asarray(func(np.empty(0, dtype=x.dtype), *args)).dtype
        except Exception as e:
            raise TypeError(f"elementwise(): pass dtype=: calling {func!r} on an empty array "
                            f"to find it failed ({type(e).__name__}: {e})") from None
    name = getattr(func, "__name__", "elementwise")
    blocks: Any = x
    out: da.Array = blocks.map_blocks(_flat, func, *args, dtype=dtype,
                                      meta=np.empty((0,) * x.ndim, dtype=dtype),
                                      token=f"wasmcore-{name}")
    return out


def _block_state(core: Any, block: np.ndarray) -> np.ndarray:
    rs = core.RunningStats()
    try:
        rs.push(np.ravel(block))
        return rs.state()  # type: ignore[no-any-return]
    finally:
        rs.close()


def _merge_states(core: Any, *states: np.ndarray) -> np.ndarray:
    rs = core.RunningStats.from_state(states[0])
    try:
        for s in states[1:]:
            rs.merge_state(s)
        return rs.state()  # type: ignore[no-any-return]
    finally:
        rs.close()


def _running_stats(core: Any, state: np.ndarray) -> Any:
    # made in the first thread that uses it, like an unpickled one: a wasm object belongs to
    # one thread, and this task may run in any
    return core.RunningStats._w_pending(tuple(state.tolist()))


def stats(x: da.Array, core: Core | None = None, *, split_every: int = 16) -> Delayed:
    """Count, mean, variance, standard deviation, min and max of all the values of ``x``, in
    one pass over it: a ``RunningStats`` of each chunk, their states merged by Chan et al.'s
    formula in a tree (``split_every`` at a time). Computes to a ``RunningStats`` of
    ``core`` (default: ``wasmcore.load()``): ``.count``, ``.mean``, ``.var(ddof)``,
    ``.std(ddof)``, ``.min``, ``.max``, and ``.state()`` to merge it further."""
    if split_every < 2:
        raise ValueError(f"stats(): parameter 'split_every' must be >= 2, got {split_every}")
    core = load() if core is None else core
    x_: Any = x
    parts = [delayed(_block_state, pure=True)(core, b) for b in x_.to_delayed().ravel()]
    while len(parts) > 1:
        parts = [delayed(_merge_states, pure=True)(core, *parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return delayed(_running_stats, pure=True)(core, parts[0])  # type: ignore[no-any-return]


def _block_histogram(block: np.ndarray, core: Any, bins: int, lo: float, hi: float
                     ) -> np.ndarray:
    counts = core.histogram(np.ravel(block), bins, lo, hi)
    return counts.reshape((1,) * block.ndim + (bins,))  # type: ignore[no-any-return]


def histogram(x: da.Array, bins: int, lo: float, hi: float,
              core: Core | None = None) -> da.Array:
    """The counts of ``numpy.histogram(x, bins, range=(lo, hi))`` over all the values of
    ``x``: ``core.histogram`` of each chunk, summed (exact). A dask array of ``bins`` int64."""
    c: Any = load() if core is None else core
    c.histogram(np.empty(0), bins, lo, hi)  # bad arguments fail here, not in a task
    x_: Any = x
    per_block = x_.map_blocks(
        _block_histogram, c, bins, lo, hi, dtype=np.int64, new_axis=x.ndim,
        chunks=(*((1,) * len(c) for c in x.chunks), (bins,)),
        meta=np.empty((0,) * (x.ndim + 1), dtype=np.int64), token="wasmcore-histogram")
    return per_block.sum(axis=tuple(range(x.ndim)), dtype=np.int64)  # type: ignore[no-any-return]


# -- bags and dataframes --------------------------------------------------------------------

def _each(records: Iterable[Any], func: Callable[..., Any], *args: Any) -> list[Any]:
    return [func(r, *args) for r in records]


def _each_series(series: Any, func: Callable[..., Any], *args: Any) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    return pd.Series(_each(series, func, *args), index=series.index, name=series.name)


def map_partitions(func: Callable[..., Any], collection: Any, *args: Any,
                   meta: Any = None) -> Any:
    """``func(record, *args)`` for every record of a ``dask.bag.Bag`` (a bag of the results)
    or of a dask dataframe ``Series`` (a series with the same index; ``meta`` describes it,
    e.g. ``("words", "i8")``, else Dask guesses by calling ``func`` on a sample), one task per
    partition. With a plugin's function, the plugin is made once in each worker process and
    every call runs under its limits there; a call that breaks one (``Timeout``,
    ``FuelExhausted``, ``MemoryLimitExceeded``, ``Trap``) fails its task with that exception,
    raised again by ``compute()``, and the worker goes on with its next task."""
    import dask.bag as db

    if isinstance(collection, db.Bag):
        bag: Any = collection
        return bag.map_partitions(_each, func, *args)
    if hasattr(collection, "map_partitions") and hasattr(collection, "index"):
        kwargs = {} if meta is None else {"meta": meta}
        return collection.map_partitions(_each_series, func, *args, **kwargs)
    raise TypeError(f"map_partitions(): parameter 'collection' must be a dask Bag or a dask "
                    f"dataframe Series, got {type(collection).__name__}")
