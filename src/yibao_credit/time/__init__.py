"""Time: periods ("1年", "6个月" as ``1y``, ``6m``), window bounds as of a date, and the official
working-day calendar (国务院办公厅 holiday arrangements).

Owns the date arithmetic every other stage uses (《民法典》第201条, 第202条). May import only
``errors``: it knows nothing of packs, records or results.
"""
