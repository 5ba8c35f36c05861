"""TEMPORARY placeholder: replaced by the stub generator (helper branch `stubs`)."""

from __future__ import annotations

from typing import Literal

from .._abi.manifest import Manifest


def render_stub(manifest: Manifest, kind: Literal["module", "plugin", "core"]) -> str:
    names = [f.name for f in manifest.functions] + [c.name for c in manifest.classes]
    return "from typing import Any\n" + "".join(f"{n}: Any\n" for n in names)
