"""Testing helpers for projects that call face-recognition APIs: the pytest plugin
(`dicore.testing.pytest_plugin`, registered as the `dicore` pytest11 entry point)."""
