"""The python backend: the reference kernels behind the same typed callables.

Handles of exported classes are the reference objects themselves (``reference.Sha256()``...),
so a method export is the class's plain function called with the object first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._abi import convert
from .._abi.manifest import Manifest, export_specs
from .._abi.objects import Context
from .._errors import KernelError, status_error
from . import reference


def _drop(obj: object) -> None:
    """Objects of the reference backend are freed by Python's own garbage collection."""


class ReferenceBackend:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.specs = export_specs(manifest)
        self.impls: dict[str, Callable[..., Any]] = {}
        for c in manifest.classes:
            cls = getattr(reference, c.name, None)
            for m in c.methods:
                if cls is not None:
                    self.impls[m.func.name] = cls if m.name == "new" else getattr(cls, m.name)
            self.impls[c.drop] = _drop
        self._callables: dict[str, Callable[..., Any]] = {}
        self._context = Context(self.callable)

    def context(self) -> Context:
        return self._context

    def callable(self, name: str) -> Callable[..., Any]:
        fn = self._callables.get(name)
        if fn is None:
            fn = self._callables[name] = self._bind(name)
        return fn

    def _bind(self, name: str) -> Callable[..., Any]:
        spec = self.specs[name]
        impl = self.impls.get(name) or getattr(reference, name, None)
        if impl is None:
            raise NotImplementedError(f"the python backend has no reference for {spec.label}()")
        args = convert.arg_list(spec)
        body = ["try:", f"    return _w_impl({args})",
                "except _w_KernelError as e:",
                f"    raise _w_status_error({spec.label!r}, e.status, e.message) from None"]
        env = {"_w_impl": impl, "_w_KernelError": KernelError, "_w_status_error": status_error}
        return convert.build(spec, body, env)[0]
