"""Pack: a YAML policy pack as written — the document with a position for every value
(``sourcemap``), ``extends:`` chains merged (``extends``), and validation against the schema
(``schema``, ``load``) with every problem located at its file, line and column; the manifest
naming a folder of a pack's dated versions (``manifest``); the packs shipped in the package,
found by id (``bundled``).

May import ``errors``, ``time`` and ``records``; it knows what a pack says, not what it means.
"""
