"""Storage protocol drivers (group dirac.storage_protocols): file, root, https/davs, s3, gfal2."""
