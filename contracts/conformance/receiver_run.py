"""What the receiver checks share during one run, and what they may conclude from it.

Nothing passes from one check to the next but what the runner records: the probe's log of every
request and state read, and each check's result. The facts a check may build on are read from
that record here, once each: a token's state at the start, whether the state URL is readable,
whether an earlier check passed, whether a token is known to exist. The runner also chooses,
once per run, the token each check registers (:class:`Subject`: a spare DRAFT token when one is
left, else the token under test) and grades how strongly what a check can see backs its verdict
(:class:`Evidence`). Checks declare their preconditions with the decorators at the end; the
loop skips a check whose precondition does not hold and says why.

A check judges the flat v1 body unless it declares the body forms it judges
(:func:`in_forms`): it then runs once per form, in one result that says how each fared. The
first check to judge the nested v2 body is its gate: when the handler refused that body, the
nested parts of the later checks are skipped with that reason instead of failing again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from contracts.conformance.answers import CRASH_FIX, TokenStateReading
from contracts.conformance.checklist import (
    Check,
    CheckFunction,
    Declaration,
    Precondition,
    StopRun,
)
from contracts.conformance.probe import (
    FLAT,
    BodyForm,
    ConnectionDropped,
    Probe,
    ReceiverUnreachable,
)
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.results import CheckResult, Finding, Verdict

DRAFT = "DRAFT"
STATE_URL_EXAMPLE = "https://host/api/tokens/{token_id}"


@dataclass(frozen=True)
class Subject:
    """The token a check registers, and whether it is the check's own: DRAFT at the start and
    registered by no other check, so that its transition is this check's alone."""

    token: str
    own: bool


class Evidence(str, Enum):
    """How strongly what a check can see backs its verdict, strongest first."""

    TRANSITION_SEEN = "transition_seen"
    """Its own DRAFT token, read through the state URL: the transition itself is seen."""
    TRANSITION_ANSWERED = "transition_answered"
    """Its own DRAFT token, without a state URL: the transition is taken from the answers."""
    STATE_READ = "state_read"
    """No token of its own: the token under test, already REGISTERED; its state is read."""
    ANSWER_ONLY = "answer_only"
    """No token of its own and no state URL: the answers alone."""

    @classmethod
    def of(cls, subject: Subject, state_readable: bool) -> Evidence:
        if subject.own:
            return cls.TRANSITION_SEEN if state_readable else cls.TRANSITION_ANSWERED
        return cls.STATE_READ if state_readable else cls.ANSWER_ONLY

    @property
    def weaker(self) -> bool:
        """No transition of the check's own could be seen or caused."""
        return self in (Evidence.STATE_READ, Evidence.ANSWER_ONLY)


class InForms(Declaration):
    """Declares the body forms a check judges, in the order it judges them: it runs once per
    form (the probe builds in that form meanwhile). A check without it judges the flat v1
    body."""

    def __init__(self, *forms: BodyForm) -> None:
        self.forms = forms


def in_forms(*forms: BodyForm) -> InForms:
    return InForms(*forms)


class DrawsSpare(Declaration):
    """Declares that a check registers a DRAFT token of its own (one with letters in it, when
    ``with_letters``), in each of its forms or only in ``forms``: the runner hands each such
    part a spare token, or the token under test when none is left."""

    def __init__(
        self, *, with_letters: bool = False, forms: tuple[BodyForm, ...] | None = None
    ) -> None:
        self.with_letters = with_letters
        self.forms = forms

    def covers(self, form: BodyForm) -> bool:
        return self.forms is None or form in self.forms


def draws_spare(
    *, with_letters: bool = False, forms: tuple[BodyForm, ...] | None = None
) -> DrawsSpare:
    return DrawsSpare(with_letters=with_letters, forms=forms)


_RANK = {Verdict.FAIL: 0, Verdict.WARN: 1, Verdict.PASS: 2, Verdict.SKIP: 3}
_STRENGTH = list(Evidence)


def combined(parts: list[tuple[BodyForm, Finding]]) -> Finding:
    """One finding for a check judged in several forms: the worst verdict (a skipped form
    counts only when every form was skipped), each form's words after its name, the fix of the
    first form with that verdict, and each form's details under ``forms``. The evidence named
    at the top is the weakest any form had."""
    if len(parts) == 1:
        return parts[0][1]
    worst = min((finding for _, finding in parts), key=lambda finding: _RANK[finding.verdict])
    why = " | ".join(f"{form.name}: {finding.why}" for form, finding in parts)
    details: dict[str, Any] = {}
    for finding in (worst, *(finding for _, finding in parts)):
        for key, value in finding.details.items():
            details.setdefault(key, value)
    found = [finding.details for _, finding in parts]
    evidence = [each["evidence"] for each in found if "evidence" in each]
    if evidence:
        details["evidence"] = max(evidence, key=lambda value: _STRENGTH.index(Evidence(value)))
    weaker = [each["weaker_state_check"] for each in found if "weaker_state_check" in each]
    if weaker:
        details["weaker_state_check"] = any(weaker)
    details["forms"] = {
        form.name: {"verdict": finding.verdict.value, **finding.details} for form, finding in parts
    }
    return Finding(worst.verdict, why, worst.fix, details)


class ReceiverRun:
    """One run against one receiver: the record the checks read, and the facts read from it.

    Only the runner writes here (:meth:`record`, and the probe's log as it sends); a check
    reads, sends through the probe, and returns its finding.
    """

    def __init__(
        self, receiver: Receiver, probe: Probe, checks: Iterable[Check[ReceiverRun]]
    ) -> None:
        self.receiver = receiver
        self.probe = probe
        self._checks = tuple(checks)
        self._results: dict[str, CheckResult] = {}
        self._parts: dict[tuple[str, str], Verdict] = {}
        self._drawn: dict[tuple[str, str], Subject] | None = None
        self.form: BodyForm = FLAT
        """The form the check now running judges; set by the runner, part by part."""

    def record(self, result: CheckResult) -> None:
        """Keep a finished check's result, for the checks after it."""
        self._results[result.check_id] = result

    def record_part(self, check_id: str, form: BodyForm, verdict: Verdict) -> None:
        """Keep how one form of a check fared, for the nested gate."""
        self._parts[(check_id, form.name)] = verdict

    # --- the forms each check judges --------------------------------------------------------

    def forms_of(self, check_id: str) -> tuple[BodyForm, ...]:
        """The forms ``check_id`` declared (:func:`in_forms`), or the flat v1 body alone."""
        for check in self._checks:
            if check.check_id == check_id:
                for declaration in check.declared:
                    if isinstance(declaration, InForms):
                        return declaration.forms
        return (FLAT,)

    def nested_gate(self) -> tuple[str, BodyForm] | None:
        """The first check, in order, that judges a nested form, with that form."""
        for check in self._checks:
            form = next((f for f in self.forms_of(check.check_id) if f.nested), None)
            if form is not None:
                return check.check_id, form
        return None

    def form_unmet(self, check_id: str, form: BodyForm) -> str | None:
        """Why the ``form`` part of ``check_id`` cannot judge anything, or ``None``: a nested
        part after the gate is skipped unless the gate saw the nested body accepted."""
        gate = self.nested_gate()
        if not form.nested or gate is None or gate[0] == check_id:
            return None
        gate_id, gate_form = gate
        verdict = self._parts.get((gate_id, gate_form.name))
        if verdict in (Verdict.PASS, Verdict.WARN):
            return None
        if verdict is Verdict.FAIL:
            return f"the handler did not accept the nested body the SDK sends (see {gate_id})"
        return f"{gate_id} could not judge the nested body the SDK sends, so this cannot either"

    # --- facts, read from the record --------------------------------------------------------

    def start_state(self, token: str | None = None) -> TokenStateReading | None:
        """``token``'s state (the token under test by default) before any delivery, as the
        state URL read it; ``None`` when it was not read."""
        token = token or self.receiver.token
        return next((read.reading for read in self.probe.reads if read.token == token), None)

    @property
    def state_readable(self) -> bool:
        """The state URL read the token under test at the start, so later reads mean something."""
        start = self.start_state()
        return start is not None and start.status is not None

    def passed(self, check_id: str) -> bool:
        """Whether the earlier check ``check_id`` passed; asking about a later one is an error."""
        if check_id not in self._results:
            raise ValueError(f"check {check_id!r} has not run yet")
        return self._results[check_id].verdict is Verdict.PASS

    def details_of(self, check_id: str) -> dict[str, Any]:
        """The details of an earlier check's result (empty when it did not run)."""
        result = self._results.get(check_id)
        return result.details if result is not None else {}

    def accepted_earlier(self, token: str) -> bool:
        """An earlier check had a delivery for ``token`` accepted: the token exists."""
        current = self.probe.current_check
        return any(
            sent.token == token and sent.answer.accepted and sent.check_id != current
            for sent in self.probe.sent
        )

    @property
    def handler_seen(self) -> bool:
        """``receiver-ready`` passed: the handler is at the URL, so a 404 or 405 that is not
        JSON is its own answer (plain-text errors), not a wrong URL."""
        return self._results.get("receiver-ready") is not None and self.passed("receiver-ready")

    @property
    def answers_before_registering(self) -> bool:
        """The handler has queued an acceptance (202), or a token it accepted was REGISTERED
        only after some waiting: its state changes come after its answers."""
        queued = any(sent.answer.status == 202 and sent.answer.accepted for sent in self.probe.sent)
        late = any(read.waited_s > 0 and read.reading.registered for read in self.probe.reads)
        return queued or late

    def known_to_exist(self, token: str) -> bool:
        """The state URL read ``token`` at the start, or a delivery for it was accepted."""
        start = self.start_state(token)
        return (start is not None and start.status is not None) or self.accepted_earlier(token)

    # --- the subject each check registers, and how strong its evidence is -------------------

    def subject_for(self, check_id: str, form: BodyForm | None = None) -> Subject:
        """The token ``check_id`` registers in ``form`` (its first by default): drawn once per
        run for the parts that declared :func:`draws_spare`; the token under test for the
        others, its own while DRAFT."""
        form = form or self.forms_of(check_id)[0]
        drawn = self._draws().get((check_id, form.name))
        if drawn is not None:
            return drawn
        start = self.start_state()
        own = start is None or start.status in (None, DRAFT)
        return Subject(self.receiver.token, own)

    @property
    def subject(self) -> Subject:
        """The subject of the check now running, in the form it now judges."""
        return self.subject_for(self.probe.current_check, self.form)

    @property
    def evidence(self) -> Evidence:
        """How strongly the check now running can back its verdict."""
        return Evidence.of(self.subject, self.state_readable)

    def _draws(self) -> dict[tuple[str, str], Subject]:
        """Spare tokens handed out once per run, each to one part of one check, and only those
        DRAFT at the start (or not read): first to the nested parts (what the SDK sends today),
        then to the others, each in check order. Drawn at the first question, which comes from
        a check that registers a token: after ``state-url`` read every token."""
        if self._drawn is None:
            left = [token for token in self.receiver.spare_tokens if self._usable_spare(token)]
            wanted = [
                (check.check_id, form, draw)
                for check in self._checks
                for form in self.forms_of(check.check_id)
                for draw in check.declared
                if isinstance(draw, DrawsSpare) and draw.covers(form)
            ]
            wanted.sort(key=lambda part: not part[1].nested)  # stable: check order kept
            self._drawn = {}
            for check_id, form, draw in wanted:
                spare = next((t for t in left if not draw.with_letters or t.lower() != t), None)
                if spare is not None:
                    left.remove(spare)
                subject = Subject(spare, True) if spare else Subject(self.receiver.token, False)
                self._drawn[(check_id, form.name)] = subject
        return self._drawn

    def _usable_spare(self, token: str) -> bool:
        start = self.start_state(token)
        return start is None or start.status == DRAFT


UNREACHABLE_FIX = "make the handler reachable from here, then run again"


def guarded(check_id: str, function: CheckFunction[ReceiverRun]) -> CheckFunction[ReceiverRun]:
    """Every receiver check: it runs once per form it judges, its requests logged under its id;
    a handler that drops one request fails that check alone, and a receiver that stops
    answering ends the run there."""

    def guard(run: ReceiverRun) -> Finding:
        parts = [(form, _part(run, check_id, form, function)) for form in run.forms_of(check_id)]
        run.form = FLAT
        return combined(parts)

    return guard


def _part(
    run: ReceiverRun, check_id: str, form: BodyForm, function: CheckFunction[ReceiverRun]
) -> Finding:
    run.probe.current_check = check_id
    run.form = form
    unmet = run.form_unmet(check_id, form)
    if unmet is not None:
        finding = Finding.skipped(f"skipped: {unmet}")
    else:
        with run.probe.in_form(form):
            finding = _guarded_call(run, check_id, function)
    run.record_part(check_id, form, finding.verdict)
    return finding


def _guarded_call(run: ReceiverRun, check_id: str, function: CheckFunction[ReceiverRun]) -> Finding:
    try:
        return function(run)
    except ConnectionDropped as error:
        return Finding.failed(error.words, CRASH_FIX, dropped=error.label)
    except ReceiverUnreachable as error:
        finding = Finding.failed(str(error), UNREACHABLE_FIX, unreachable=error.failure.kind.value)
        raise StopRun(finding, f"skipped: {error.url} did not answer ({check_id})") from None


# --- preconditions, declared on the checks --------------------------------------------------


def _precondition(unmet: Callable[[ReceiverRun, str], str | None]) -> Precondition[ReceiverRun]:
    return Precondition[ReceiverRun](unmet)


requires_state_url = _precondition(
    lambda run, _: (
        None
        if run.receiver.state_url
        else "no state URL given, so state changes are judged by the answers alone; pass "
        f"--state-url '{STATE_URL_EXAMPLE}' for the stronger checks"
    )
)
"""Skips a check that must read the tokens' state when no state URL was given."""

requires_readable_state = _precondition(
    lambda run, _: None if run.state_readable else "the state URL could not be read (see state-url)"
)
"""Skips a check that must read the tokens' state when the state URL did not read it."""


def _draft_at_start(run: ReceiverRun, check_id: str) -> str | None:
    start = run.start_state()
    if start is None or start.status == DRAFT:
        return None
    return (
        f"token {run.receiver.token} was already {start.in_words} at the start, so this cannot "
        "be verified; use a fresh DRAFT token"
    )


requires_draft_token = _precondition(_draft_at_start)
"""Skips a check that needs the token under test DRAFT at the start."""


def _letters(run: ReceiverRun, check_id: str) -> str | None:
    token = run.subject_for(check_id).token
    return None if token.lower() != token else f"token id {token} has no letters to lower-case"


requires_letters = _precondition(_letters)
"""Skips a check that lower-cases its subject's token id when the id has no letters."""
