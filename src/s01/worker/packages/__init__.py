"""Spider packages: names, the package index, safe unpacking, programs.

The building blocks of an install, each usable and tested on its own:
``names`` checks every outside value before a path or a process sees it,
``index`` finds and downloads a release's sdist, ``archive`` pre-scans and
unpacks it, and ``process`` runs the external programs of the later steps.
"""
