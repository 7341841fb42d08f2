"""Engine: the Python back-end, and the reference model other back-ends are tested against.

``program`` generates Python from the plan (``codegen``, ``pyexpr``, ``runtime``); ``prepare``
checks and groups the records; ``run`` evaluates every subject, then ``rollups``,
``procedures`` (the lifecycle) and ``measures``; ``allocation`` shares deposits out by result.
Results are ``results.Result`` in a ``results.Run``.

May import ``errors``, ``bulk``, ``time``, ``records``, ``pack`` (schema types) and ``compile``
(the plan); never ``render``, ``policy`` or ``cli``.
"""

from yibao_credit.engine.results import Result, Run
from yibao_credit.engine.run import evaluate

__all__ = ["Result", "Run", "evaluate"]
