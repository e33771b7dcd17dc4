"""Computing elements, batch systems and transports (drivers in the dirac.computing_elements, dirac.batch_systems and dirac.transports groups)."""
