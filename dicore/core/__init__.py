"""dicore's pure core: functions of arrays (JAX, `jit`-able), no files, no `UserError`.

Every module here imports only the standard library, NumPy, JAX and other `dicore.core`
modules (tests/test_architecture.py enforces it). Callers pass in what comes from files
(results, reporting floors, prices, the paper's numbers); the edges (`dicore.formats`,
`dicore.commands`, `dicore.study`) read and write them.

Scores are compared in float64 (docs/metrics.md, "Exactness"): importing the core turns
on JAX's 64-bit mode, so that a confidence read from results.csv stays the float64 it was
written as, under `jit` too. Everything else keeps its explicit dtypes (int32 ids, float32
where a module asks for it).
"""

import jax

jax.config.update("jax_enable_x64", True)
