"""Reading HTML forms: the raw values back into the page, errors beside each field."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError

from market.core.errors import DomainError, FieldError, validation_errors

M = TypeVar("M", bound=BaseModel)


class FormErrors(dict[str, FieldError]):
    """field -> error; ``form`` holds an error that belongs to no single field.
    Templates show ``errors[name].text(raw_gettext)``, translated at render time."""

    def __init__(self, **messages: str) -> None:
        super().__init__({name: FieldError(name, message) for name, message in messages.items()})

    @classmethod
    def of(
        cls, errors: list[FieldError], fallback: str = "", params: dict[str, object] | None = None
    ) -> FormErrors:
        out = cls()
        for err in errors:
            out.setdefault(err.field, err)
        if not out and fallback:
            out["form"] = FieldError("form", fallback, dict(params or {}))
        return out

    @classmethod
    def from_domain(cls, exc: DomainError) -> FormErrors:
        return cls.of(exc.errors, fallback=exc.detail, params=exc.params)


def clean(raw: dict[str, Any]) -> dict[str, str]:
    """Form values as strings, without the CSRF token."""
    return {k: (v if isinstance(v, str) else str(v)) for k, v in raw.items() if k != "_csrf_token"}


def parse(model: type[M], values: dict[str, Any]) -> tuple[M | None, FormErrors]:
    try:
        return model.model_validate(values), FormErrors()
    except ValidationError as exc:
        return None, FormErrors.of(validation_errors(exc))


def place_errors(
    errors: FormErrors, items: Iterable[FieldError], to_field: Callable[[str], str | None]
) -> None:
    """Put each error beside the form field ``to_field`` maps it to (the first one wins)."""
    for err in items:
        name = to_field(err.field)
        if name is not None:
            errors.setdefault(name, replace(err, field=name))


def errors_beside_fields(exc: DomainError, to_field: Callable[[str], str | None]) -> FormErrors:
    """A service's refusal as form errors; its own detail on top when no field takes it."""
    errors = FormErrors()
    place_errors(errors, exc.errors, to_field)
    if not errors:
        errors["form"] = FieldError("form", exc.detail, dict(exc.params))
    return errors


class Choices:
    """A select's options, escaped and joined once (per language) rather than looped over
    in the template on every request: the region select alone has some 150 options.
    ``html(selected)`` marks the chosen one; optgroups are kept as they were given."""

    def __init__(self, items: Iterable[tuple[str, str] | tuple[str, list[tuple[str, str]]]]) -> None:
        # (value, plain, selected) per option; (None, tag, tag) for an optgroup's tags.
        self._pieces: list[tuple[str | None, str, str]] = []
        for value, text in items:
            if isinstance(text, list):
                self._pieces.append(
                    (None, f'<optgroup label="{escape(value)}">', f'<optgroup label="{escape(value)}">')
                )
                self._pieces.extend(self._option(v, t) for v, t in text)
                self._pieces.append((None, "</optgroup>", "</optgroup>"))
            else:
                self._pieces.append(self._option(value, text))
        self.values = frozenset(v for v, _, _ in self._pieces if v is not None)
        self._unmarked = Markup("".join(plain for _, plain, _ in self._pieces))

    @staticmethod
    def _option(value: str, text: str) -> tuple[str, str, str]:
        v, t = escape(value), escape(text)
        return (value, f'<option value="{v}">{t}</option>', f'<option value="{v}" selected>{t}</option>')

    def html(self, selected: str | None = None) -> Markup:
        """The options; the one whose value is ``selected`` marked (none for a blank value,
        which the browser then shows as the first option)."""
        if not selected or selected not in self.values:
            return self._unmarked
        return Markup(
            "".join(marked if value == selected else plain for value, plain, marked in self._pieces)
        )
