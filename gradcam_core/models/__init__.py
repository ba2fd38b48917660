"""Every model the app explains (ImageNet zoo and both LeNets): registry, weights files, LeNet."""
