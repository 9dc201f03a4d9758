import os

from hypothesis import HealthCheck, settings

# JAX compiles on first call; deadlines would flag compilation, not slowness.
settings.register_profile(
    "dicore",
    deadline=None,
    max_examples=int(os.environ.get("DICORE_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("dicore")
