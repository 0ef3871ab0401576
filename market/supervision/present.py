"""The supervisor console's words (一规运行、全程监督): what the log says happened.

``describe`` is pure: one log entry (its parsed JSON) in, a ``Description`` out, with every
text a catalog message and its values, translated where it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from market import protocol
from market.core.clock import CHINA
from market.core.i18n import N_
from market.notices.models import METHOD_LABELS
from market.protocol import entry_types
from market.reference import regions
from market.selection.rules import EXCLUSION_REASONS, FAILED_REASONS

Value = Union[str, int, "Phrase"]


@dataclass(frozen=True)
class Phrase:
    """A catalog message with %(name)s placeholders and its values; a value may itself be
    a phrase (a label), translated before it is put in."""

    msgid: str
    params: Mapping[str, Value] = field(default_factory=dict)

    def text(self, gettext: Callable[[str], str]) -> str:
        values = {k: (v.text(gettext) if isinstance(v, Phrase) else v) for k, v in self.params.items()}
        translated = gettext(self.msgid)
        return translated % values if values else translated


@dataclass(frozen=True)
class Description:
    """What one entry changed: its type's label, a one-line summary, details beneath, and
    the agencies it names (for links)."""

    type: str
    label: str  # catalog message
    summary: Phrase
    details: tuple[Phrase, ...] = ()
    agencies: tuple[str, ...] = ()


TYPE_LABELS: dict[str, str] = {
    entry_types.ACCOUNT_CREATED: N_("Account created"),
    entry_types.STAFF_GRANTED: N_("Staff role granted"),
    entry_types.STAFF_MOVED: N_("Staff moved to another hall"),
    entry_types.STAFF_REVOKED: N_("Staff powers revoked"),
    entry_types.OWNER_REGISTERED: N_("Owner organisation registered"),
    entry_types.OWNER_HALL_CHANGED: N_("Owner organisation moved to another hall"),
    entry_types.HALL_ADDED: N_("Development park added"),
    entry_types.AGENCY_SUBMITTED: N_("Agency submitted for review"),
    entry_types.AGENCY_APPROVED: N_("Agency approved"),
    entry_types.AGENCY_REJECTED: N_("Agency rejected"),
    entry_types.AGENCY_SUSPENDED: N_("Agency suspended"),
    entry_types.AGENCY_REINSTATED: N_("Agency reinstated"),
    entry_types.AGENCY_BLACKLISTED: N_("Agency blacklisted"),
    entry_types.AGENCY_BLACKLIST_LIFTED: N_("Blacklisting lifted"),
    entry_types.AGENCY_QUALIFICATION_SUBMITTED: N_("Qualification submitted"),
    entry_types.AGENCY_QUALIFICATION_APPROVED: N_("Qualification approved"),
    entry_types.AGENCY_QUALIFICATION_REJECTED: N_("Qualification rejected"),
    entry_types.AGENCY_DOCUMENT_ADDED: N_("Document added"),
    entry_types.NOTICE_PUBLISHED: N_("Notice published"),
    entry_types.NOTICE_AMENDED: N_("Notice amended"),
    entry_types.NOTICE_CANCELLED: N_("Notice cancelled"),
    entry_types.NOTICE_CANCEL_REQUESTED: N_("Cancellation requested"),
    entry_types.NOTICE_CANCEL_CONSENTED: N_("Cancellation consented"),
    entry_types.NOTICE_CANCEL_REFUSED: N_("Cancellation refused"),
    entry_types.AGENCY_LINKED: N_("Agency linked to an owner"),
    entry_types.BID_ACCEPTED: N_("Bid accepted"),
    entry_types.BID_WITHDRAWN: N_("Bid withdrawn"),
    entry_types.BID_SEALED: N_("Sealed bid or withdrawal"),
    entry_types.BIDS_OPENED: N_("Bids opened"),
    entry_types.BIDDING_CLOSED: N_("Bidding closed"),
    entry_types.SELECTION_DRAWN: N_("Selection drawn"),
    entry_types.SELECTION_DIRECT: N_("Direct selection"),
    entry_types.SELECTION_FAILED: N_("Selection failed"),
    entry_types.AWARD_DECLINED: N_("Award declined"),
    entry_types.AWARD_DISQUALIFIED: N_("Winner disqualified"),
    entry_types.AWARD_FINAL: N_("Award final"),
    entry_types.OBJECTION_FILED: N_("Objection filed"),
    entry_types.OBJECTION_ANSWERED: N_("Objection answered"),
    entry_types.OBJECTION_DECIDED: N_("Objection decided"),
    entry_types.OBJECTION_ESCALATED: N_("Objection escalated"),
    entry_types.CONTRACT_RECORDED: N_("Contract recorded"),
    entry_types.CONTRACT_SIGNED: N_("Contract signed"),
    entry_types.CONTRACT_COMPLETED: N_("Contract completed"),
    entry_types.CONTRACT_STOPPED: N_("Contract stopped"),
    entry_types.CONTRACT_DISPUTED: N_("Contract declined: terms do not follow the award"),
    entry_types.CONTRACT_DISPUTE_DECIDED: N_("Disputed contract decided"),
    entry_types.MILESTONE_SUBMITTED: N_("Deliverable handed in"),
    entry_types.MILESTONE_ACCEPTED: N_("Deliverable accepted"),
    entry_types.MILESTONE_RETURNED: N_("Deliverable returned"),
    entry_types.MILESTONE_OVERDUE: N_("Milestone overdue"),
    entry_types.RATING_GIVEN: N_("Rating given"),
    entry_types.RATING_REPLIED: N_("Rating answered"),
    entry_types.RATING_VOIDED: N_("Rating voided"),
}
DECISIONS = {"upheld": N_("upheld"), "rejected": N_("rejected")}
DISPUTE_DECISIONS = {
    "terms_fine": N_("the terms follow the award; the decline counts"),
    "terms_wrong": N_("the terms do not follow the award; the contract is set aside and the award stands"),
}
AMENDED_FIELDS = {
    "title": N_("Title"),
    "description": N_("Description"),
    "budget_fen": N_("Budget cap"),
    "bid_deadline": N_("Bid deadline"),
    "required_level": N_("Minimum qualification level"),
    "service_days": N_("Service period (days)"),
}
SCORE_LABELS = {
    "quality": N_("Service quality"),
    "timeliness": N_("Timeliness"),
    "attitude": N_("Attitude"),
    "fees": N_("Reasonable fees"),
    "compliance": N_("Compliance"),
}
NONE = Phrase(N_("none"))


def _hall(code: Any) -> str:
    """A hall's code with its region's Chinese name when it is one (a park shows its code)."""
    code = str(code or "—")
    found = regions.REGIONS.get(code)
    return f"{found.name_zh} {code}" if found is not None else code


def china_ts(ts: Any) -> str:
    """A log time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as China time, to the minute."""
    try:
        return protocol.parse_ts(str(ts)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(ts or "—")


def yuan(fen: Any) -> str:
    if not isinstance(fen, int):
        return "—"
    sign = "-" if fen < 0 else ""
    whole, rest = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{rest:02d}"


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(ids: Sequence[str]) -> Value:
    return "、".join(ids) if ids else NONE


def _label(table: Mapping[str, str], key: Any) -> Value:
    return Phrase(table[key]) if isinstance(key, str) and key in table else str(key)


def _change_text(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if key == "budget_fen":
        return yuan(value)
    if key == "bid_deadline":
        return china_ts(value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _amended(e: Mapping[str, Any], changes: Mapping[str, Any] | None) -> tuple[Phrase, list[Phrase]]:
    if not changes:
        return Phrase(
            N_("Terms amended; the deadline in force is %(deadline)s."),
            {"deadline": china_ts(e.get("bid_deadline"))},
        ), []
    names = [Phrase(AMENDED_FIELDS.get(k, k)) if k in AMENDED_FIELDS else k for k in sorted(changes)]
    details = []
    for key in sorted(changes):
        pair = changes[key]
        old, new = (pair[0], pair[1]) if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        details.append(
            Phrase(
                N_("%(field)s: %(old)s → %(new)s"),
                {
                    "field": _label(AMENDED_FIELDS, key),
                    "old": _change_text(key, old),
                    "new": _change_text(key, new),
                },
            )
        )
    summary = Phrase(N_("Terms amended: %(count)s field(s) changed."), {"count": len(names)})
    return summary, details


def describe(entry: Mapping[str, Any], *, changes: Mapping[str, Any] | None = None) -> Description:
    """What ``entry`` (a log entry's JSON) changed, in words. ``changes`` is the notice
    revision of a ``notice.amended`` entry ({field: [old, new]}), when the caller has it:
    the entry itself carries only the new terms' hash."""
    e = entry
    kind = str(e.get("type", ""))
    agency = str(e.get("agency_id") or "")
    named: list[str] = [agency] if agency else []
    details: list[Phrase] = []
    p = Phrase
    if kind == entry_types.ACCOUNT_CREATED:
        summary = p(
            N_("Account %(user)s created with role %(role)s."),
            {"user": str(e.get("user_id")), "role": str(e.get("role"))},
        )
    elif kind == entry_types.STAFF_GRANTED:
        summary = p(
            N_("%(user)s granted the role %(role)s at hall %(hall)s by %(by)s."),
            {
                "user": str(e.get("user_id")),
                "role": str(e.get("role")),
                "hall": _hall(e.get("jurisdiction")),
                "by": str(e.get("by") or "—"),
            },
        )
    elif kind == entry_types.STAFF_MOVED:
        summary = p(
            N_("%(user)s (%(role)s) moved from hall %(from)s to hall %(to)s by %(by)s."),
            {
                "user": str(e.get("user_id")),
                "role": str(e.get("role")),
                "from": _hall(e.get("from")),
                "to": _hall(e.get("to")),
                "by": str(e.get("by") or "—"),
            },
        )
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind == entry_types.STAFF_REVOKED:
        summary = p(
            N_("The staff powers of %(user)s (%(role)s at hall %(hall)s) revoked by %(by)s."),
            {
                "user": str(e.get("user_id")),
                "role": str(e.get("role")),
                "hall": _hall(e.get("jurisdiction")),
                "by": str(e.get("by") or "—"),
            },
        )
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind == entry_types.OWNER_REGISTERED:
        summary = p(
            N_("Owner organisation %(name)s (%(owner)s) registered; credit code %(code)s."),
            {"name": str(e.get("name")), "owner": str(e.get("owner_id")), "code": str(e.get("credit_code"))},
        )
    elif kind == entry_types.OWNER_HALL_CHANGED:
        summary = p(
            N_("Owner organisation %(org)s moved from hall %(from)s to hall %(to)s by %(by)s."),
            {
                "org": str(e.get("org_id")),
                "from": _hall(e.get("from")),
                "to": _hall(e.get("to")),
                "by": str(e.get("by") or "—"),
            },
        )
        details.append(p(N_("Its published notices stay in the hall they were published in.")))
        if e.get("reason"):
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e["reason"])}))
    elif kind == entry_types.HALL_ADDED:
        summary = p(
            N_("Development park %(name)s (%(code)s) added under hall %(parent)s by %(by)s."),
            {
                "name": str(e.get("name_zh")),
                "code": str(e.get("code")),
                "parent": _hall(e.get("parent")),
                "by": str(e.get("by") or "—"),
            },
        )
        details.append(p(N_("English name: %(name)s"), {"name": str(e.get("name_en") or "—")}))
        if e.get("reason"):
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e["reason"])}))
    elif kind == entry_types.AGENCY_SUBMITTED:
        summary = p(
            N_("Agency %(name)s (%(agency)s) submitted its details for review; credit code %(code)s."),
            {"name": str(e.get("name")), "agency": agency, "code": str(e.get("credit_code"))},
        )
    elif kind in (
        entry_types.AGENCY_APPROVED,
        entry_types.AGENCY_REJECTED,
        entry_types.AGENCY_REINSTATED,
        entry_types.AGENCY_BLACKLIST_LIFTED,
    ):
        messages = {
            entry_types.AGENCY_APPROVED: N_("Agency %(name)s (%(agency)s) approved by an administrator."),
            entry_types.AGENCY_REJECTED: N_("Agency %(name)s (%(agency)s) rejected by an administrator."),
            entry_types.AGENCY_REINSTATED: N_("Agency %(name)s (%(agency)s) reinstated: it may bid again."),
            entry_types.AGENCY_BLACKLIST_LIFTED: N_("Blacklisting of agency %(name)s (%(agency)s) lifted."),
        }
        summary = p(messages[kind], {"name": str(e.get("name")), "agency": agency})
        if e.get("reason"):
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e["reason"])}))
    elif kind in (entry_types.AGENCY_SUSPENDED, entry_types.AGENCY_BLACKLISTED):
        params: dict[str, Value] = {
            "name": str(e.get("name")),
            "agency": agency,
            "until": str(e.get("until") or "—"),
        }
        if kind == entry_types.AGENCY_SUSPENDED:
            summary = p(N_("Agency %(name)s (%(agency)s) suspended until %(until)s: it may not bid."), params)
        else:
            summary = p(N_("Agency %(name)s (%(agency)s) blacklisted until %(until)s."), params)
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind in (
        entry_types.AGENCY_QUALIFICATION_SUBMITTED,
        entry_types.AGENCY_QUALIFICATION_APPROVED,
        entry_types.AGENCY_QUALIFICATION_REJECTED,
    ):
        q = _object(e.get("qualification"))
        messages = {
            entry_types.AGENCY_QUALIFICATION_SUBMITTED: N_(
                "Agency %(agency)s submitted qualification %(cert)s (%(category)s), valid until %(until)s."
            ),
            entry_types.AGENCY_QUALIFICATION_APPROVED: N_(
                "Qualification %(cert)s (%(category)s) of agency %(agency)s approved."
            ),
            entry_types.AGENCY_QUALIFICATION_REJECTED: N_(
                "Qualification %(cert)s (%(category)s) of agency %(agency)s rejected."
            ),
        }
        summary = p(
            messages[kind],
            {
                "agency": agency,
                "cert": str(q.get("certificate_no")),
                "category": str(q.get("category")),
                "until": str(q.get("valid_until")),
            },
        )
        if e.get("reason"):
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e["reason"])}))
    elif kind == entry_types.AGENCY_DOCUMENT_ADDED:
        summary = p(
            N_("Agency %(agency)s added a document (%(kind)s, %(size)s bytes)."),
            {"agency": agency, "kind": str(e.get("kind")), "size": int(e.get("size") or 0)},
        )
    elif kind == entry_types.NOTICE_PUBLISHED:
        summary = p(
            N_(
                "Published: %(method)s, %(winners)s winner(s), at least %(min)s candidate(s); bids until %(deadline)s."
            ),
            {
                "method": _label(METHOD_LABELS, e.get("method")),
                "winners": int(e.get("winners") or 0),
                "min": int(e.get("min_candidates") or 0),
                "deadline": china_ts(e.get("bid_deadline")),
            },
        )
        details.append(p(N_("Draw scheme: %(scheme)s"), {"scheme": str(e.get("scheme"))}))
    elif kind == entry_types.NOTICE_AMENDED:
        summary, details = _amended(e, changes)
    elif kind == entry_types.NOTICE_CANCEL_REQUESTED:
        summary = p(N_("The owner asked to cancel; a supervisor must consent."))
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind in (entry_types.NOTICE_CANCEL_CONSENTED, entry_types.NOTICE_CANCEL_REFUSED):
        messages = {
            entry_types.NOTICE_CANCEL_CONSENTED: N_(
                "Supervisor %(user)s consented to the cancellation requested in entry %(request)s."
            ),
            entry_types.NOTICE_CANCEL_REFUSED: N_(
                "Supervisor %(user)s refused the cancellation requested in entry %(request)s."
            ),
        }
        summary = p(
            messages[kind], {"user": str(e.get("supervisor_id")), "request": int(e.get("request_seq") or 0)}
        )
        if e.get("reason"):
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e["reason"])}))
    elif kind == entry_types.AGENCY_LINKED:
        summary = p(
            N_(
                "Agency %(agency)s linked to owner organisation %(owner)s: it may not bid on, or be named by, its notices."
            ),
            {"agency": agency, "owner": str(e.get("org_id"))},
        )
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind == entry_types.NOTICE_CANCELLED:
        summary = p(N_("Cancelled before the deadline; standing bids released."))
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
        if isinstance(e.get("openings"), list):
            details.append(p(N_("Bids opened: %(count)s"), {"count": len(e["openings"])}))
    elif kind == entry_types.BID_SEALED:
        summary = p(
            N_(
                "A sealed bid or withdrawal: it names no notice and no agency until bidding ends and it is opened."
            )
        )
    elif kind == entry_types.BIDS_OPENED:
        opened = [o for o in e.get("openings") or [] if isinstance(o, dict)]
        summary = p(
            N_("The bids of the cancelled notice opened with the deadline's drand round: %(count)s."),
            {"count": len(opened)},
        )
        named += [str(o["bid"].get("agency_id")) for o in opened if isinstance(o.get("bid"), dict)]
    elif kind == entry_types.BID_ACCEPTED:
        summary = p(
            N_("Agency %(agency)s bid (sealed until closing); bid %(bid)s."),
            {"agency": agency, "bid": str(e.get("bid_id"))},
        )
    elif kind == entry_types.BID_WITHDRAWN:
        summary = p(
            N_("Agency %(agency)s withdrew bid %(bid)s."), {"agency": agency, "bid": str(e.get("bid_id"))}
        )
    elif kind == entry_types.BIDDING_CLOSED:
        candidates = [str(c[0]) for c in e.get("candidates") or [] if isinstance(c, list) and c]
        excluded = [x for x in e.get("excluded") or [] if isinstance(x, dict)]
        bids = [b for b in e.get("bids") or [] if isinstance(b, dict)]
        if "openings" in e:  # MSP/2: every bid ever placed is opened; the standing ones count
            bids = [o for o in e.get("openings") or [] if isinstance(o, dict) and not o.get("withdrawn")]
        summary = p(
            N_("Bidding closed: %(bids)s bid(s), %(candidates)s candidate(s), %(excluded)s excluded."),
            {"bids": len(bids), "candidates": len(candidates), "excluded": len(excluded)},
        )
        if candidates:
            details.append(p(N_("Candidates: %(ids)s"), {"ids": _list(candidates)}))
        for x in excluded:
            details.append(
                p(
                    N_("Excluded %(agency)s: %(reason)s"),
                    {"agency": str(x.get("agency_id")), "reason": _label(EXCLUSION_REASONS, x.get("reason"))},
                )
            )
        named += candidates + [str(x.get("agency_id")) for x in excluded]
    elif kind == entry_types.SELECTION_DRAWN:
        winners, alternates = _ids(e.get("winners")), _ids(e.get("alternates"))
        summary = p(
            N_("Drawn: winner(s) %(winners)s; alternate(s) in order %(alternates)s."),
            {"winners": _list(winners), "alternates": _list(alternates)},
        )
        details.append(p(N_("Draw scheme: %(scheme)s"), {"scheme": str(e.get("scheme"))}))
        named += winners + alternates
    elif kind == entry_types.SELECTION_DIRECT:
        summary = p(N_("Direct selection (no draw): agency %(agency)s."), {"agency": agency})
        if e.get("justification"):
            details.append(p(N_("Justification: %(text)s"), {"text": str(e["justification"])}))
    elif kind == entry_types.SELECTION_FAILED:
        summary = p(N_("Selection failed: %(reason)s."), {"reason": _label(FAILED_REASONS, e.get("reason"))})
    elif kind in (entry_types.AWARD_DECLINED, entry_types.AWARD_DISQUALIFIED):
        replacement = str(e.get("replacement") or "")
        if kind == entry_types.AWARD_DECLINED:
            summary = p(
                N_("Agency %(agency)s declined the award; replacement: %(replacement)s."),
                {"agency": agency, "replacement": replacement or NONE},
            )
            details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
        else:
            summary = p(
                N_(
                    "Agency %(agency)s disqualified by objection %(objection)s; replacement: %(replacement)s."
                ),
                {
                    "agency": agency,
                    "objection": str(e.get("objection_id")),
                    "replacement": replacement or NONE,
                },
            )
        if replacement:
            named.append(replacement)
    elif kind == entry_types.AWARD_FINAL:
        winners = _ids(e.get("winners"))
        summary = p(
            N_("Publicity over with nothing pending: the award to %(winners)s is final."),
            {"winners": _list(winners)},
        )
        named += winners
    elif kind == entry_types.OBJECTION_FILED:
        against: Value = agency or Phrase(N_("the whole result"))
        summary = p(
            N_("Objection %(objection)s filed against %(against)s."),
            {"objection": str(e.get("objection_id")), "against": against},
        )
    elif kind == entry_types.OBJECTION_ANSWERED:
        summary = p(
            N_("The owner answered objection %(objection)s."), {"objection": str(e.get("objection_id"))}
        )
    elif kind == entry_types.OBJECTION_DECIDED:
        summary = p(
            N_("A supervisor decided objection %(objection)s: %(decision)s."),
            {"objection": str(e.get("objection_id")), "decision": _label(DECISIONS, e.get("decision"))},
        )
    elif kind == entry_types.OBJECTION_ESCALATED:
        summary = p(
            N_("Objection %(objection)s went undecided and moved from hall %(from)s up to hall %(to)s."),
            {
                "objection": str(e.get("objection_id")),
                "from": _hall(e.get("from")),
                "to": _hall(e.get("to")),
            },
        )
    elif kind in (entry_types.CONTRACT_RECORDED, entry_types.CONTRACT_SIGNED):
        message = (
            N_("Contract %(contract)s recorded with agency %(agency)s: %(amount)s.")
            if kind == entry_types.CONTRACT_RECORDED
            else N_("Agency %(agency)s signed contract %(contract)s: %(amount)s.")
        )
        summary = p(
            message,
            {"contract": str(e.get("contract_id")), "agency": agency, "amount": yuan(e.get("amount_fen"))},
        )
        details.append(
            p(
                N_("Signed %(signed)s; service %(start)s to %(due)s."),
                {
                    "signed": str(e.get("signed_on")),
                    "start": str(e.get("start_on")),
                    "due": str(e.get("due_on")),
                },
            )
        )
        for m in e.get("milestones") or []:
            if isinstance(m, dict):
                details.append(
                    p(
                        N_("Milestone %(position)s: %(title)s, due %(due)s"),
                        {
                            "position": int(m.get("position") or 0),
                            "title": str(m.get("title")),
                            "due": str(m.get("due_on")),
                        },
                    )
                )
    elif kind == entry_types.CONTRACT_COMPLETED:
        summary = p(
            N_("Contract %(contract)s completed (服务完成): every milestone accepted."),
            {"contract": str(e.get("contract_id"))},
        )
    elif kind == entry_types.CONTRACT_STOPPED:
        summary = p(
            N_("Contract %(contract)s stopped by the owner (服务中止)."),
            {"contract": str(e.get("contract_id"))},
        )
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    elif kind == entry_types.CONTRACT_DISPUTED:
        summary = p(
            N_(
                "Agency %(agency)s declined contract %(contract)s because its terms do not follow the award; a supervisor decides."
            ),
            {"agency": agency, "contract": str(e.get("contract_id"))},
        )
    elif kind == entry_types.CONTRACT_DISPUTE_DECIDED:
        summary = p(
            N_("A supervisor decided disputed contract %(contract)s: %(decision)s."),
            {"contract": str(e.get("contract_id")), "decision": _label(DISPUTE_DECISIONS, e.get("decision"))},
        )
    elif kind.startswith("milestone.") and kind in TYPE_LABELS:
        messages = {
            entry_types.MILESTONE_SUBMITTED: N_(
                "Deliverable for milestone %(position)s of contract %(contract)s handed in."
            ),
            entry_types.MILESTONE_ACCEPTED: N_("Milestone %(position)s of contract %(contract)s accepted."),
            entry_types.MILESTONE_RETURNED: N_(
                "Milestone %(position)s of contract %(contract)s returned for changes."
            ),
            entry_types.MILESTONE_OVERDUE: N_(
                "Milestone %(position)s of contract %(contract)s is overdue (due %(due)s)."
            ),
        }
        summary = p(
            messages[kind],
            {
                "position": int(e.get("position") or 0),
                "contract": str(e.get("contract_id")),
                "due": str(e.get("due_on")),
            },
        )
    elif kind == entry_types.RATING_GIVEN:
        scores = _object(e.get("scores"))
        summary = p(
            N_("The owner rated agency %(agency)s (rating %(rating)s, contract %(contract)s)."),
            {"agency": agency, "rating": str(e.get("rating_id")), "contract": str(e.get("contract_id"))},
        )
        for key in SCORE_LABELS:
            if key in scores:
                details.append(
                    p(
                        N_("%(dimension)s: %(score)s of 5"),
                        {"dimension": Phrase(SCORE_LABELS[key]), "score": int(scores[key])},
                    )
                )
    elif kind == entry_types.RATING_REPLIED:
        summary = p(
            N_("Agency %(agency)s replied to rating %(rating)s."),
            {"agency": agency, "rating": str(e.get("rating_id"))},
        )
    elif kind == entry_types.RATING_VOIDED:
        summary = p(
            N_("A supervisor voided rating %(rating)s of agency %(agency)s: it no longer counts."),
            {"rating": str(e.get("rating_id")), "agency": agency},
        )
        details.append(p(N_("Reason: %(reason)s"), {"reason": str(e.get("reason") or "—")}))
    else:
        shown = sorted(k for k in e if k not in ("v", "seq", "type", "ts"))
        summary = p(
            N_("Entry of type %(type)s with fields %(fields)s."),
            {"type": kind or "?", "fields": ", ".join(shown) or "—"},
        )
    return Description(
        type=kind,
        label=TYPE_LABELS.get(kind, kind),
        summary=summary,
        details=tuple(details),
        agencies=tuple(dict.fromkeys(a for a in named if a)),
    )
