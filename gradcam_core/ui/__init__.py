"""Gradio UI of Grad-CAM Explorer (the only gradio-importing part of the package)."""
