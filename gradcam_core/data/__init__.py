"""Inputs as data: safe image loading, MNIST digits and photo preprocessing, the example catalogue, link store."""
