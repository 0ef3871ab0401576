"""Domain exceptions, raised by services and mapped once to RFC 9457 problem details (API)
or to a friendly page (browser)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from market.core.i18n import N_, translations


@dataclass
class FieldError:
    """``message`` is a catalog id; ``params`` fill its ``{named}`` places."""

    field: str
    message: str
    # dataclasses.field by its full name: the attribute above shadows it in this class body
    params: dict[str, object] = dataclasses.field(default_factory=dict)
    zh: str | None = None  # a ready Chinese text, for messages built from data (not catalog ids)

    def text(self, gettext: object = None) -> str:
        return Message(self.message, self.params, self.zh).text(gettext)

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.text()}


@dataclass
class DomainError(Exception):
    detail: str
    status: int = 400
    title: str = "Bad request"
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A refusal often repeats its field's message as its detail (notices/rules.invalid,
        # log/service.refuse) with the values on the field only: the detail then reached
        # people as "报价超过最高限价 {budget}" (issue 22, item 2). The detail takes the
        # values of the field error that says the same thing, so it is formatted too.
        if not self.params:
            for err in self.errors:
                if err.message == self.detail and err.params:
                    self.params = dict(err.params)
                    break

    def __str__(self) -> str:
        return self.text()

    def text(self, gettext: object = None) -> str:
        """The detail in the reader's language (``detail`` is a catalog id)."""
        return Message(self.detail, self.params).text(gettext)


class InvalidInput(DomainError):
    def __init__(
        self, detail: str, errors: list[FieldError] | None = None, params: dict[str, object] | None = None
    ) -> None:
        super().__init__(
            detail=detail, status=422, title="Invalid input", errors=errors or [], params=dict(params or {})
        )


class Conflict(DomainError):
    def __init__(
        self, detail: str, errors: list[FieldError] | None = None, params: dict[str, object] | None = None
    ) -> None:
        super().__init__(
            detail=detail, status=409, title="Conflict", errors=errors or [], params=dict(params or {})
        )


class NotFound(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=404, title="Not found")


class Forbidden(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=403, title="Forbidden")


class Unauthorized(DomainError):
    def __init__(self, detail: str = N_("Log in first")) -> None:
        super().__init__(
            detail=detail, status=401, title="Unauthorized", headers={"WWW-Authenticate": "Bearer"}
        )


class TooManyRequests(DomainError):
    def __init__(
        self,
        retry_after: int,
        detail: str = N_("Too many attempts from this address; try again in {retry_after} s"),
    ) -> None:
        super().__init__(
            detail=detail,
            status=429,
            title="Too many requests",
            headers={"Retry-After": str(retry_after)},
            params={"retry_after": retry_after},
        )
        self.retry_after = retry_after


# -- validation messages ---------------------------------------------------------------
# Pydantic's own wording is neither translated nor always plain; these are the messages a
# person sees, as catalog ids with named parameters.
_PYDANTIC_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Too short: at least {min_length} characters."),
    "string_too_long": N_("Too long: at most {max_length} characters."),
    "string_type": N_("Enter text here."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "greater_than": N_("Must be greater than {gt}."),
    "greater_than_equal": N_("Must be at least {ge}."),
    "less_than_equal": N_("Must be at most {le}."),
    "enum": N_("Choose one of: {expected}."),
    "literal_error": N_("Choose one of: {expected}."),
    "datetime_parsing": N_("Enter a date and time such as 2026-12-04T09:00:00+08:00."),
    "datetime_from_date_parsing": N_("Enter a date and time such as 2026-12-04T09:00:00+08:00."),
    "date_from_datetime_parsing": N_("Enter a date such as 2026-12-31."),
    "extra_forbidden": N_("This field is not allowed."),
}


@dataclass
class Message:
    """A catalog id and its parameters, translated at the edge."""

    template: str
    params: dict[str, object] = field(default_factory=dict)
    zh: str | None = None

    def text(self, gettext: object = None) -> str:
        """Translated once, then formatted once; a value that is itself a message (a
        duration, a label) is put in translated by the same reader's gettext."""
        if self.zh and getattr(gettext, "locale", None) == "zh_Hans":
            return self.zh
        template = gettext(self.template) if callable(gettext) else self.template
        values = {k: v.text(gettext) if isinstance(v, Message) else v for k, v in self.params.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template


def _plain(value: object) -> object:
    return value if isinstance(value, int | str) else str(value)


def validation_errors(exc: object) -> list[FieldError]:
    """Field errors from a pydantic ValidationError, in plain words."""
    out: list[FieldError] = []
    for err in exc.errors():  # type: ignore[attr-defined]
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        kind = err.get("type", "")
        ctx = dict(err.get("ctx") or {})
        if kind == "value_error":
            raw = str(ctx.get("error", err.get("msg", "")))
            out.append(FieldError(loc, raw))
            continue
        template = _PYDANTIC_MESSAGES.get(kind)
        if template is None:
            out.append(FieldError(loc, str(err.get("msg", "Invalid value."))))
            continue
        out.append(FieldError(loc, template, {k: _plain(v) for k, v in ctx.items()}))
    return out


# Pydantic's English as Litestar hands it on (a message without its error type), read back
# into the same catalog messages, so that a Chinese reader of a 422 does not get "Field
# required" (issue 22, item 12). Most specific first.
_PYDANTIC_WORDS: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    (re.compile(r"Field required"), _PYDANTIC_MESSAGES["missing"], None),
    (
        re.compile(r"String should have at least (\d+) characters?"),
        _PYDANTIC_MESSAGES["string_too_short"],
        "min_length",
    ),
    (
        re.compile(r"String should have at most (\d+) characters?"),
        _PYDANTIC_MESSAGES["string_too_long"],
        "max_length",
    ),
    (re.compile(r"Input should be a valid string"), _PYDANTIC_MESSAGES["string_type"], None),
    (re.compile(r"Input should be a valid integer"), _PYDANTIC_MESSAGES["int_type"], None),
    (re.compile(r"Input should be a valid number"), N_("Enter a number."), None),
    (
        re.compile(r"Input should be greater than or equal to (\S+)"),
        _PYDANTIC_MESSAGES["greater_than_equal"],
        "ge",
    ),
    (re.compile(r"Input should be greater than (\S+)"), _PYDANTIC_MESSAGES["greater_than"], "gt"),
    (re.compile(r"Input should be less than or equal to (\S+)"), _PYDANTIC_MESSAGES["less_than_equal"], "le"),
    (re.compile(r"Extra inputs are not permitted"), _PYDANTIC_MESSAGES["extra_forbidden"], None),
    (re.compile(r"Input should be a valid datetime"), _PYDANTIC_MESSAGES["datetime_parsing"], None),
    (re.compile(r"Input should be a valid date"), _PYDANTIC_MESSAGES["date_from_datetime_parsing"], None),
    (re.compile(r"Input should be ('.+)"), _PYDANTIC_MESSAGES["enum"], "expected"),  # 'a', 'b' or 'c'
)
# For words no pattern reads (a validator of a library): the English stays for English
# readers, and a Chinese reader is told which field, in Chinese.
NOT_VALID_ZH = "此项的值无效。"


def field_error_from_words(field_name: str, words: str) -> FieldError:
    """A field error from a validator's English words, in the catalog's messages."""
    words = words.removeprefix("Value error, ").strip()
    for pattern, message, param in _PYDANTIC_WORDS:
        found = pattern.match(words)
        if found:
            return FieldError(field_name, message, {param: found.group(1).rstrip(".")} if param else {})
    # Our own validators' words (a ValueError carrying a catalog id) are translated as such.
    catalogued = translations("zh_Hans").gettext(words) != words
    return FieldError(field_name, words, zh=None if catalogued else NOT_VALID_ZH)
