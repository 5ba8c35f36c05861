"""WebAssembly components (WIT interfaces) as typed plugins: :class:`Component` (see
docs/components.md). Imported on first use of ``wasmcore.Component`` (it needs wasmtime-py's
``wasmtime.component``)."""

from __future__ import annotations

from .component import Component, Resource
from .types import Err, Ok, VariantCase

__all__ = ["Component", "Err", "Ok", "Resource", "VariantCase"]
