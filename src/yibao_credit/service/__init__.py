"""The HTTP service (``yibao-credit serve``) and its decision log.

``calls`` (what a call asks and answers), ``decisions`` (the hash-chained log), ``replay``
and ``config`` need only the core; ``app`` needs the ``service`` extra (FastAPI, uvicorn).

May import every stage before it (``policy`` and ``render`` above all); only ``cli`` imports
it, and ``app`` only inside ``serve``, so the core installs and runs without the extra.
"""
