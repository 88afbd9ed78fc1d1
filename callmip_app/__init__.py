"""Entry points of callmip-global: the ``callmip`` command line and the Prefect server lifecycle.

The top layer (see tests/test_import_layers.py): it may import every other package; nothing
imports it.
"""
