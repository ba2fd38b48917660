"""One service per task: each parses its input once, runs the model and the engine, and returns a
raw result dataclass (numbers, codes, arrays).  ``present/`` turns results into pictures and words;
``ui/`` and ``cli.py`` call the services and ``present/`` only."""
