pytest_plugins = ["dirac_core.testing.pytest_plugin", "dirac_core.testing.live",
                  "dirac_core.testing.arc_fixtures",
                  "dirac_core.testing.s3_fixtures", "dirac_core.testing.storage_fixtures",
                  "dirac_core.testing.oidc_fixtures", "dirac_core.testing.rabbitmq_fixtures"]
