"""The python backend: the reference kernels behind the same typed callables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _convert, _reference
from ._errors import KernelError, status_error
from ._manifest import Manifest


class ReferenceBackend:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    def callable(self, name: str) -> Callable[..., Any]:
        spec = self.manifest.function(name)
        impl = getattr(_reference, name, None)
        if impl is None:
            raise NotImplementedError(f"the python backend has no reference for {name}()")
        args = _convert.arg_list(spec)
        body = ["try:", f"    return _w_impl({args})",
                "except _w_KernelError as e:",
                "    raise _w_status_error(" + repr(name) + ", e.status, e.message) from None"]
        env = {"_w_impl": impl, "_w_KernelError": KernelError, "_w_status_error": status_error}
        return _convert.build(spec, body, env)[0]
