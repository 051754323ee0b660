"""The probabilistic toolkit: distribution families, calibration, risk models, simulated markets
with known oracles. Imports numpy/scipy/torch and forecaster ground modules only.
"""
