"""Code generator: ``spec/openapi.json`` → endpoints, models, the repaired spec and ``docs/api.md``.

Run ``python -m tools.codegen`` from the repository root to regenerate everything, or
``python -m tools.codegen --check`` to fail when the checked-in output is stale.

Layout:

- :mod:`tools.codegen.overrides` -- the one table of naming overrides and document repairs.
- :mod:`tools.codegen.spec` -- loads the document and applies the repairs, logging each one.
- :mod:`tools.codegen.ir` -- turns the repaired document into operations, models and enums.
- :mod:`tools.codegen.render` -- writes Python source, the repaired spec and the docs.
- :mod:`tools.codegen.fmt` -- runs ``ruff format`` over the output (the last step).
"""
