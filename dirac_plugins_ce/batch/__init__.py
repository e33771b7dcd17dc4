"""Batch systems: the command lines of SLURM, HTCondor, PBS, LSF, SGE, OAR and fork.

Each module holds one :class:`~dirac_core.plugins.batch.BatchSystem` driver,
registered in the ``dirac.batch_systems`` entry-point group. Drivers only
build commands and parse outputs; a transport runs the commands.
"""
