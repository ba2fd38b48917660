"""The CAM engine: one forward pass, one hooked layer, every step kept; one small class per method."""
