"""The forcing stage: real-layout readers, synthetic generators and model-ready output.

Plain, testable functions (the Prefect wrappers live in ``flows/``). Import from the modules:

* ``forcing.synthetic``: ``write_crujra_years``, ``write_isimip3b``, ``write_ndep``,
  ``write_luh2_states`` (synthetic inputs in exactly the real layouts);
* ``forcing.crujra``: ``open_crujra``, ``crujra_path``, ``CrujraReader``;
* ``forcing.prepare``: ``prepare_year``, ``prepare_years``, ``check_model_ready``;
* ``forcing.scenario``: ``prepare_isimip_year``, ``prepare_isimip_years``;
* ``forcing.co2``, ``forcing.ndep``, ``forcing.luh2``: the other drivers;
* ``forcing.cluster``: ``ClusterSpec``, ``dask_client``;
* ``forcing.errors``: ``ForcingError``, the one exception for bad inputs.

Nothing is imported here, so importing a submodule stays cheap (no dask, no land mask).
See README.md in this directory for layouts, checks and what was verified.
"""
