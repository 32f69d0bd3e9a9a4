"""s01.recipe: the zc.buildout recipe and the runner of spider packages.

Kept empty on purpose: the generated scripts import ``s01.recipe.runner``
through this package, and must not pay for (or need) zc.buildout, which
``s01.recipe.recipe`` imports.
"""
