"""Bundled data shipped inside the package as minivdt.assets: the trained model vdt-cpu-tiny/ and benchmark results."""
