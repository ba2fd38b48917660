"""The bottom layer: refusals as codes (errors), where the data folders are (home), and the one parser
per kind of input (inputs). Nothing here imports the rest of the package."""
