"""Claims audit (智能审核): audit packs of rules over claims, their knowledge tables, the rules
as one SQL program, the hits it finds, and those hits as credit events.

The flow follows the credit side's: ``schema`` (what a pack may say) → ``compile`` (each rule
checked against its logic type, knowledge tables read) → ``plan`` (the SQL program, written by
``logic``) → ``run`` (a database runs it) → ``hits`` (findings, explained) → ``events`` (hits as
the data contract's events, reviews applied).

May import every stage up to ``sql`` (the claims tables and the DuckDB database); Spark runs
the same program from ``spark.audit``, a later stage.
"""
