"""SQL: the columnar back-end. The plan compiles to SQL (built as a sqlglot tree, printed for
DuckDB or Spark SQL from one source) and runs in an in-process DuckDB; records are read into
tables by DuckDB with an explicit schema.

``expr`` translates checked expressions; ``tables`` reads and checks the records; ``compile``
turns a plan and a run's date into statements; ``run`` executes them and gives the same
``Result`` objects the Python back-end gives, so one renderer serves both.

May import every stage up to ``engine`` (its results, run context and lifecycle); the Python
engine is the model this back-end is tested against.
"""
