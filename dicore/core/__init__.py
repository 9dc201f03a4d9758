"""dicore's pure core: functions of arrays (JAX, `jit`-able), no files, no `UserError`.

Every module here imports only the standard library, NumPy, JAX and other `dicore.core`
modules (tests/test_architecture.py enforces it). Callers pass in what comes from files
(results, reporting floors, prices, the paper's numbers); the edges (`dicore.formats`,
`dicore.commands`, `dicore.study`) read and write them.
"""
