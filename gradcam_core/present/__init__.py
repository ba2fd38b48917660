"""Raw results to pictures and prose: raster rendering, the teaching steps, the method texts."""
