"""Records: the data contract (subjects, events and their kinds), the readers of JSON Lines and
CSV files with located errors, the checks across records, and the other inputs of a run
(earlier results, procedure records, deposits).

May import ``errors``, ``bulk`` and ``time``; never a pack, a plan or an engine.
"""

from yibao_credit.records.contract import Event, Records, Subject
from yibao_credit.records.readers import load_records, records_from_python

__all__ = ["Event", "Records", "Subject", "load_records", "records_from_python"]
