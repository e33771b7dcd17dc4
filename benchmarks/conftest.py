pytest_plugins = ["dirac_core.testing.pytest_plugin"]
