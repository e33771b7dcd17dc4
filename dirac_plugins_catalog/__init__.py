"""File catalogs (group dirac.catalogs): the SQL catalog on DIRAC's DFC model and adapters to others."""
