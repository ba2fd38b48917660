"""Experiments on explanations: sanity checks, ink share, the planted-shortcut experiment."""
