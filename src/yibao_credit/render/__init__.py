"""Render: results as the contract's JSON Lines, CSV and aligned tables (``results``), traces
and readable text in Chinese and English (``trace``), counts by grade, region and group
(``summary``), and each result's monitoring indicators against earlier results
(``monitoring``).

May import every stage up to ``engine``; reads results and the plan, never evaluates.
"""

from yibao_credit.render.results import render, result_to_dict, write_results
from yibao_credit.render.trace import build_trace, render_text

__all__ = ["build_trace", "render", "render_text", "result_to_dict", "write_results"]
