"""``icalendly_async/plans.py``, loaded on its own.

The generator needs the tier table but not the package: importing ``icalendly_async`` would
import the whole client (and fail while any part of it is broken). ``plans.py`` depends on the
standard library only, so it is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_PATH = Path(__file__).resolve().parents[2] / "icalendly_async" / "plans.py"


def _load() -> ModuleType:
    name = "tools.codegen._icalendly_plans"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_plans = _load()
Plan = _plans.Plan
Tier = _plans.Tier
tier_for_tag = _plans.tier_for_tag

__all__ = ["Plan", "Tier", "tier_for_tag"]
