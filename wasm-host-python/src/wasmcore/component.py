"""The values of :class:`wasmcore.Component` that are not a component's own classes: the cases of
a ``result`` inside another value (:class:`Ok`, :class:`Err`), the base of every resource class
(:class:`Resource`) and of every variant's cases (:class:`VariantCase`). See
docs/components.md."""

from __future__ import annotations

from ._component import Component, Err, Ok, Resource, VariantCase

__all__ = ["Component", "Err", "Ok", "Resource", "VariantCase"]
