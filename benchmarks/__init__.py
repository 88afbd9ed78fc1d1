"""ILAMB-style benchmarking of CalLMIP model output against reference products.

Layer contract: this package reads CalLMIP-conformed model files and reference products
(ILAMB_ROOT or obs4MIPs layout), scores them with explicitly named methods ("modes"), compares
prior against posterior and models against each other, and renders a self-contained HTML
report. It never downloads anything and never writes outside the ``out_dir`` it is given.
"""
