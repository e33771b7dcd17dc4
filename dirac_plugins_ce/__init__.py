"""Computing elements, batch systems and transports.

Drivers in the groups dirac.computing_elements, dirac.batch_systems and dirac.transports.
"""
