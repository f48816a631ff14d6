"""Random subspaces of parameter space: the Fastfood projection P and the FWHT it is built on."""
