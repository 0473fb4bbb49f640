"""Solvers for the regularised logistic objective, one module each, run by `_driver`."""
