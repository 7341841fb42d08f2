"""From audit hits to credit (issue 12 item 4): the hits of the claims audit as events of the
data contract, the reviews that decide a suspicious one, and a credit pack reading them.

湖政办函〔2019〕14号 四(三)二 asks the risk models to "及时发现和查处医保违规行为";
四(二)二 has what the machine finds checked by people ("AI大数据系统分析+人工核查"). So a
definite hit (明确) is a ``violation`` with the money at issue as ``amount`` and the hit id
as its evidence; a suspicious one (可疑) is an ``audit_flag`` awaiting review; a review
confirms it (a violation dated the review) or dismisses it (nothing). The 信易管 pack
(policies/huzhou.yaml) turns violations into the measure 查处 and open flags into 人工核查,
at any grade, and a result's trace reaches from the grade to the event to the claim line.

The records are the example of examples/huzhou/audit/ (its README works out each case).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from yibao_credit.audit.compile import load_audit_pack
from yibao_credit.audit.events import FLAG_KIND, hits_to_events, read_reviews, set_aside
from yibao_credit.audit.hits import Hit
from yibao_credit.audit.run import AuditResult, audit_files
from yibao_credit.cli.main import main
from yibao_credit.errors import RecordError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "huzhou"
AUDIT = EXAMPLE / "audit"
SUBJECTS = EXAMPLE / "subjects.jsonl"
CREDIT_EVENTS = EXAMPLE / "events.jsonl"
REVIEWS = AUDIT / "reviews.jsonl"
CREDIT_PACK = ROOT / "policies" / "huzhou.yaml"
FROM, TO = dt.date(2020, 1, 1), dt.date(2020, 11, 30)
AS_OF = "2020-12-31"
DOC = "湖政办函〔2019〕14号"
INSTITUTIONS = {json.loads(line)["id"] for line in SUBJECTS.read_text("utf-8").splitlines()}

AUDIT_ARGS = [
    "audit",
    "huzhou_audit",
    "--claims",
    str(AUDIT / "claims.jsonl"),
    "--lines",
    str(AUDIT / "lines.jsonl"),
    "--insured",
    str(AUDIT / "insured.jsonl"),
    "--stock",
    str(AUDIT / "stock.jsonl"),
    "--subjects",
    str(SUBJECTS),
    "--from",
    FROM.isoformat(),
    "--to",
    TO.isoformat(),
]

MEASURES = {
    "HZC001": ["investigate_violation"],
    "HZC002": ["investigate_violation"],
    "HZC003": ["fewer_spot_checks", "investigate_violation"],
    "HZH001": ["fewer_spot_checks"],
    "HZH002": ["fewer_spot_checks", "investigate_violation", "manual_review"],
    "HZH003": ["manual_review"],
    "HZH004": ["referral_follow_up", "investigate_violation", "manual_review"],
    "HZL001": ["fewer_spot_checks", "referral_follow_up"],
    "HZP001": ["closer_supervision", "joint_punishment"],
    "HZP002": ["closer_supervision"],
    "HZP003": ["closer_supervision", "joint_punishment", "investigate_violation"],
    "HZP004": [],
}
"""examples/huzhou/audit/README.md, "What the credit pack makes of it": each institution's
measures as of 2020-12-31 with the audit's events and the reviews."""


@pytest.fixture(scope="module")
def audited() -> AuditResult:
    return audit_files(
        load_audit_pack("huzhou_audit"),
        claims=AUDIT / "claims.jsonl",
        lines=AUDIT / "lines.jsonl",
        insured=AUDIT / "insured.jsonl",
        subjects=SUBJECTS,
        stock=AUDIT / "stock.jsonl",
        period_from=FROM,
        period_to=TO,
    )


@pytest.fixture(scope="module")
def by_rule(audited: AuditResult) -> dict[str, Hit]:
    return {h.rule: h for h in audited.hits}


def _by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in events}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


# -- the example ----------------------------------------------------------------------------


def test_every_rule_of_the_audit_pack_hits_once_in_the_example(audited: AuditResult) -> None:
    """examples/huzhou/audit/README.md: HZA01 .. HZA14 each hit exactly once, nothing else,
    and the run warns of nothing (every claim's institution is a subject, each with a level)."""
    assert sorted(h.rule for h in audited.hits) == [f"HZA{n:02d}" for n in range(1, 15)]
    assert audited.warnings == []
    assert sum((h.amount for h in audited.hits), Decimal(0)) == Decimal("40623.58")


def test_the_reviews_name_suspicious_hits_of_the_example(by_rule: dict[str, Hit]) -> None:
    reviews, _ = read_reviews(REVIEWS)
    assert [(r.id, r.hit, r.decision) for r in reviews] == [
        ("HZR001", by_rule["HZA07"].id, "confirmed"),
        ("HZR002", by_rule["HZA14"].id, "dismissed"),
    ]


# -- hits → events ----------------------------------------------------------------------------


def test_a_definite_hit_is_a_violation_with_the_amount_and_the_hit_id(
    by_rule: dict[str, Hit],
) -> None:
    """湖政办函〔2019〕14号 四(三)二 及时发现和查处医保违规行为: a definite (明确) hit is a
    violation as it stands, dated the day the hits are established, the money at issue its
    amount."""
    hit = by_rule["HZA01"]
    (event,) = hits_to_events([hit], TO)
    assert event == {
        "id": hit.id,
        "subject_id": "HZC001",
        "kind": "violation",
        "date": "2020-11-30",
        "amount": 60,
        "source": "audit",
        "hit": hit.id,
        "rule": "HZA01",
        "logic": "sex_limited",
        "result_type": "definite",
        "clause": f"{DOC} 四(三)一",
        "period": "2020-03-10",
        "claim_ids": ["HZ20C0001"],
        "line_ids": ["HZ20L00002"],
    }


def test_the_amount_is_the_hits_to_the_fen(audited: AuditResult) -> None:
    """The events contract takes a JSON number; it is the hit's amount exactly (5492.80 →
    5492.8, 27248.08 stays)."""
    for event, hit in zip(hits_to_events(audited.hits, TO), audited.hits, strict=True):
        assert event["id"] == hit.id
        assert Decimal(str(event["amount"])) == hit.amount


def test_a_suspicious_hit_is_an_audit_flag_awaiting_review(by_rule: dict[str, Hit]) -> None:
    """四(二)二 AI大数据系统分析+人工核查: a suspicious (可疑) hit awaits review as an
    audit_flag."""
    hit = by_rule["HZA08"]
    (event,) = hits_to_events([hit], dt.date(2020, 12, 1))
    assert (event["kind"], event["date"], event["result_type"]) == (
        FLAG_KIND,
        "2020-12-01",
        "suspicious",
    )
    assert event["hit"] == event["id"] == hit.id
    assert (event["claim_ids"], event["line_ids"]) == (["HZ20C0030", "HZ20C0031"], [])
    assert event["period"] == "2020-06-10/2020-06-25"


def test_a_finding_over_the_whole_period_has_no_period_attribute(by_rule: dict[str, Hit]) -> None:
    """A peer outlier or a stock mismatch is about the audit period as a whole: the event
    leaves ``period`` out rather than writing an empty text."""
    for rule in ("HZA12", "HZA13", "HZA14"):
        (event,) = hits_to_events([by_rule[rule]], TO)
        assert "period" not in event
        assert event["clause"].startswith(DOC)


def test_a_confirmed_flag_is_a_violation_dated_the_review_and_a_dismissed_one_nothing(
    audited: AuditResult, by_rule: dict[str, Hit]
) -> None:
    """四(二)二 人工核查 decides a suspicious hit: confirmed (HZR001, 2020-12-15) it is a violation
    of that day, dismissed (HZR002) it is no event; every other hit is as without reviews."""
    reviews, lines = read_reviews(REVIEWS)
    events = _by_id(hits_to_events(audited.hits, TO, reviews, lines, str(REVIEWS)))
    plain = _by_id(hits_to_events(audited.hits, TO))
    confirmed, dismissed = by_rule["HZA07"].id, by_rule["HZA14"].id
    assert events[confirmed] == {
        **plain[confirmed],
        "kind": "violation",
        "date": "2020-12-15",
        "review": "HZR001",
        "reviewed_on": "2020-12-15",
    }
    assert plain[dismissed]["kind"] == FLAG_KIND and dismissed not in events
    assert {k: v for k, v in events.items() if k != confirmed} == {
        k: v for k, v in plain.items() if k not in (confirmed, dismissed)
    }


@pytest.mark.parametrize("order", [1, -1], ids=["confirmed-first", "dismissed-first"])
def test_each_review_decides_its_own_hit(
    tmp_path: Path, by_rule: dict[str, Hit], order: int
) -> None:
    """Two reviews in either order: each hit takes its own decision, not the last one read."""
    rows = _jsonl(REVIEWS)[::order]
    path = _write(tmp_path / "reviews.jsonl", rows)
    reviews, lines = read_reviews(path)
    hits = [by_rule["HZA07"], by_rule["HZA14"]]
    events = hits_to_events(hits, TO, reviews, lines, str(path))
    assert [(e["id"], e["kind"], e["review"]) for e in events] == [
        (by_rule["HZA07"].id, "violation", "HZR001")
    ]


def _problems(exc: pytest.ExceptionInfo[RecordError]) -> list[tuple[str, str | None, int | None]]:
    return [(p.code, p.location.file, p.location.line) for p in exc.value.problems]


def test_a_review_of_an_unknown_hit_of_a_definite_hit_or_a_second_review_is_located(
    tmp_path: Path, audited: AuditResult, by_rule: dict[str, Hit]
) -> None:
    """A decision never goes missing: a review naming no hit of this audit, a definite hit
    (nothing to review) or a hit already reviewed stops the run at its file and line."""
    flag = by_rule["HZA08"].id
    path = _write(
        tmp_path / "reviews.jsonl",
        [
            {
                "id": "R1",
                "hit": "HZA08-000000000000",
                "decision": "confirmed",
                "date": "2020-12-10",
            },
            {"id": "R2", "hit": by_rule["HZA01"].id, "decision": "dismissed", "date": "2020-12-10"},
            {"id": "R3", "hit": flag, "decision": "confirmed", "date": "2020-12-10"},
            {"id": "R4", "hit": flag, "decision": "dismissed", "date": "2020-12-11"},
        ],
    )
    reviews, lines = read_reviews(path)
    with pytest.raises(RecordError) as exc:
        hits_to_events(audited.hits, TO, reviews, lines, str(path))
    assert _problems(exc) == [
        ("record.review.hit", str(path), 1),
        ("record.review.definite", str(path), 2),
        ("record.review.twice", str(path), 4),
    ]
    assert all(p.location.path == "hit" for p in exc.value.problems)
    assert "first by review 'R3'" in exc.value.problems[2].message


def test_a_review_record_out_of_the_contract_is_located(tmp_path: Path) -> None:
    """A decision other than confirmed / dismissed, or a date not YYYY-MM-DD, is a record error
    at its line and field."""
    path = _write(
        tmp_path / "reviews.jsonl",
        [
            {"id": "R1", "hit": "HZA08-1", "decision": "confirmed", "date": "2020-12-10"},
            {"id": "R2", "hit": "HZA08-2", "decision": "accepted", "date": "2020-12-10"},
            {"id": "R3", "hit": "HZA08-3", "decision": "dismissed", "date": "2020/12/10"},
        ],
    )
    with pytest.raises(RecordError) as exc:
        read_reviews(path)
    where = [(p.location.file, p.location.line, p.location.path) for p in exc.value.problems]
    assert where == [(str(path), 2, "decision"), (str(path), 3, "date")]
    assert all(p.code.startswith("record.review") for p in exc.value.problems)


def test_hits_about_someone_not_among_the_subjects_are_set_aside_with_a_warning(
    audited: AuditResult, by_rule: dict[str, Hit]
) -> None:
    """HZA10 and HZA11 (one card at many places) are about an insured person; a credit
    evaluation over institutions refuses an event naming no subject, so with the subjects
    given they are not written, and a warning names them."""
    insured = {by_rule["HZA10"].id: "HZI030", by_rule["HZA11"].id: "HZI032"}
    every = _by_id(hits_to_events(audited.hits, TO))
    assert {k: every[k]["subject_id"] for k in insured} == insured
    kept = hits_to_events(audited.hits, TO, subjects=INSTITUTIONS)
    assert [e["id"] for e in kept] == [k for k in every if k not in insured]
    warning = set_aside(audited.hits, INSTITUTIONS)
    assert warning is not None and warning.code == "audit.event.not-a-subject"
    assert all(f"{k} ({v})" in warning.message for k, v in insured.items())
    assert set_aside([h for h in audited.hits if h.institution_id], INSTITUTIONS) is None


def test_a_review_of_a_hit_set_aside_is_no_error(by_rule: dict[str, Hit]) -> None:
    """The hit is among the audit's hits: its review is checked, and it makes no event."""
    hit = by_rule["HZA10"]
    review = read_reviews(REVIEWS)[0][0].model_copy(update={"hit": hit.id})
    assert hits_to_events([hit], TO, [review], subjects=INSTITUTIONS) == []


def test_without_subjects_given_every_hit_is_an_event(by_rule: dict[str, Hit]) -> None:
    assert [e["subject_id"] for e in hits_to_events([by_rule["HZA11"]], TO)] == ["HZI032"]


# -- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """``yibao-credit audit … --as-events --reviews`` on the example, and the credit events
    and the audit's in one file, as the README has it (``--events`` reads one file)."""
    out = tmp_path_factory.mktemp("audit")
    paths = {
        "hits": out / "hits.jsonl",
        "events": out / "audit_events.jsonl",
        "unreviewed": out / "unreviewed_events.jsonl",
        "all": out / "events.jsonl",
        "all_unreviewed": out / "events_unreviewed.jsonl",
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = main(
            [
                *AUDIT_ARGS,
                "--output",
                str(paths["hits"]),
                "--as-events",
                str(paths["events"]),
                "--reviews",
                str(REVIEWS),
            ]
        )
        assert code == 0
        code = main([*AUDIT_ARGS, "--output", "-", "--as-events", str(paths["unreviewed"])])
        assert code == 0
    credit = CREDIT_EVENTS.read_text("utf-8")
    paths["all"].write_text(credit + paths["events"].read_text("utf-8"), "utf-8")
    paths["all_unreviewed"].write_text(credit + paths["unreviewed"].read_text("utf-8"), "utf-8")
    yield paths


def test_the_command_writes_the_events_of_the_reviewed_hits(
    written: dict[str, Path], audited: AuditResult
) -> None:
    """--as-events with --reviews and --subjects: 6 definite violations, 1 confirmed flag,
    4 open flags; the dismissed flag and the two hits about insured persons are not written."""
    events = _jsonl(written["events"])
    reviews, lines = read_reviews(REVIEWS)
    assert events == hits_to_events(
        audited.hits, TO, reviews, lines, str(REVIEWS), subjects=INSTITUTIONS
    )
    kinds = [e["kind"] for e in events]
    assert (kinds.count("violation"), kinds.count(FLAG_KIND)) == (7, 4)
    assert [json.loads(line)["id"] for line in written["hits"].read_text("utf-8").splitlines()] == [
        h.id for h in audited.hits
    ]
    assert {e["subject_id"] for e in events} <= INSTITUTIONS


def test_the_command_warns_of_the_hits_it_sets_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], by_rule: dict[str, Hit]
) -> None:
    code = main(
        [
            *AUDIT_ARGS,
            "--output",
            str(tmp_path / "h.jsonl"),
            "--as-events",
            str(tmp_path / "e.jsonl"),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "[audit.event.not-a-subject]" in err
    assert by_rule["HZA10"].id in err and by_rule["HZA11"].id in err


def test_the_command_stops_at_a_bad_review_and_writes_no_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], by_rule: dict[str, Hit]
) -> None:
    """A review of a definite hit: exit 1, the file and line on standard error, and neither
    the hits nor the events written (every output whole or not at all)."""
    reviews = _write(
        tmp_path / "reviews.jsonl",
        [
            {"id": "R1", "hit": by_rule["HZA08"].id, "decision": "confirmed", "date": "2020-12-10"},
            {"id": "R2", "hit": by_rule["HZA02"].id, "decision": "confirmed", "date": "2020-12-10"},
        ],
    )
    hits, events = tmp_path / "hits.jsonl", tmp_path / "events.jsonl"
    code = main(
        [*AUDIT_ARGS, "--output", str(hits), "--as-events", str(events), "--reviews", str(reviews)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"{reviews}:2: hit: " in err and "[record.review.definite]" in err
    assert not hits.exists() and not events.exists()


# -- end to end: the credit pack reads the events -----------------------------------------------


def _evaluate(events: Path, engine: str, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / f"results-{engine}-{len(list(tmp_path.iterdir()))}.jsonl"
    code = main(
        [
            "evaluate",
            str(CREDIT_PACK),
            "--subjects",
            str(SUBJECTS),
            "--events",
            str(events),
            "--as-of",
            AS_OF,
            "--engine",
            engine,
            "--output",
            str(out),
        ]
    )
    assert code == 0
    return _jsonl(out)


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_audit_events_give_investigation_and_manual_review_on_both_engines(
    written: dict[str, Path], tmp_path: Path, engine: str
) -> None:
    """四(三)二 查处 for a violation in the list window, 四(二)二 人工核查 for an open flag, at any
    grade; the grades are those of the credit events alone (四(一)四 grades by rating and lists)."""
    results = _evaluate(written["all"], engine, tmp_path)
    before = _evaluate(CREDIT_EVENTS, engine, tmp_path)
    assert {r["subject_id"]: [m["id"] for m in r["measures"]] for r in results} == MEASURES
    assert [(r["subject_id"], r["grade"]) for r in results] == [
        (r["subject_id"], r["grade"]) for r in before
    ]


def test_both_engines_give_the_same_results(written: dict[str, Path], tmp_path: Path) -> None:
    assert _evaluate(written["all"], "python", tmp_path) == _evaluate(
        written["all"], "duckdb", tmp_path
    )


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_without_the_reviews_the_two_reviewed_hits_are_open_flags(
    written: dict[str, Path], tmp_path: Path, engine: str
) -> None:
    """The README: without --reviews, HZP002 and HZP003 get 人工核查 instead (四(二)二)."""
    results = {r["subject_id"]: r for r in _evaluate(written["all_unreviewed"], engine, tmp_path)}
    assert [m["id"] for m in results["HZP002"]["measures"]] == [
        "closer_supervision",
        "manual_review",
    ]
    assert [m["id"] for m in results["HZP003"]["measures"]] == [
        "closer_supervision",
        "joint_punishment",
        "manual_review",
    ]


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_trace_reaches_from_the_grade_to_the_event_to_the_claim_line(
    written: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    """HZP003's 查处 rests on the fact audit_violations, whose evidence is the event id — the
    hit id of HZA07, confirmed by HZR001; the events file names its claims and lines, which are
    in the claims records."""
    results = {r["subject_id"]: r for r in _evaluate(written["all"], engine, tmp_path)}
    trace = {s["step"]: s for s in results["HZP003"]["trace"]}
    (event_id,) = trace["fact.audit_violations"]["evidence"]
    assert trace["measure.investigate_violation"]["outcome"] is True
    assert trace["fact.audit_violations"]["clause"] == f"{DOC} 四(三)二"

    code = main(
        [
            "explain",
            str(CREDIT_PACK),
            "--subjects",
            str(SUBJECTS),
            "--events",
            str(written["all"]),
            "--as-of",
            AS_OF,
            "--engine",
            engine,
            "--subject",
            "HZP003",
        ]
    )
    shown = capsys.readouterr().out
    assert code == 0 and f"证据: {event_id}" in shown and "及时查处医保违规行为" in shown

    event = _by_id(_jsonl(written["events"]))[event_id]
    hit = _by_id(_jsonl(written["hits"]))[event_id]
    assert (event["rule"], event["review"], event["hit"]) == ("HZA07", "HZR001", hit["id"])
    claims = _by_id(_jsonl(AUDIT / "claims.jsonl"))
    lines = _by_id(_jsonl(AUDIT / "lines.jsonl"))
    assert event["claim_ids"] == hit["claim_ids"] == ["HZ20C0014", "HZ20C0015"]
    assert event["line_ids"] == ["HZ20L00020", "HZ20L00021"]
    assert all(lines[line]["claim_id"] in event["claim_ids"] for line in event["line_ids"])
    assert claims["HZ20C0015"]["institution_id"] == "HZP003"


def test_an_open_flag_is_evidence_of_manual_review(
    written: dict[str, Path], tmp_path: Path, by_rule: dict[str, Hit]
) -> None:
    """HZH004: the flags of HZA08 and HZA13 are the evidence of open_audit_flags (四(二)二), its
    violation HZA02 that of audit_violations (四(三)二)."""
    results = {r["subject_id"]: r for r in _evaluate(written["all"], "duckdb", tmp_path)}
    trace = {s["step"]: s for s in results["HZH004"]["trace"]}
    assert trace["fact.open_audit_flags"]["evidence"] == [by_rule["HZA08"].id, by_rule["HZA13"].id]
    assert trace["fact.audit_violations"]["evidence"] == [by_rule["HZA02"].id]


def test_the_events_file_is_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """claim_ids and line_ids are lists, which a CSV events file cannot hold: --as-events
    names a .jsonl file, and nothing is written otherwise."""
    events = tmp_path / "events.csv"
    code = main([*AUDIT_ARGS, "--output", str(tmp_path / "h.jsonl"), "--as-events", str(events)])
    assert code == 1
    assert "--as-events writes JSON Lines" in capsys.readouterr().err
    assert not events.exists() and not (tmp_path / "h.jsonl").exists()
