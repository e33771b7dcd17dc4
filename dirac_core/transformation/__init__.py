"""Transformations and productions: operations applied to whole datasets.

A transformation takes the files its input query selects, groups them into tasks with a
splitter (:mod:`dirac_core.plugins.splitters`) and turns each task into a WMS job (processing)
or a request (replication, removal); outcomes flow back to the files' statuses. A production
chains transformations whose output and input queries match.
"""
