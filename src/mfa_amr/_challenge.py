"""RFC 9470 step-up challenges: the ``WWW-Authenticate`` value a resource server
answers with (:class:`StepUpChallenge`), the exception that carries it
(:class:`StepUpRequired`), and the RFC 9110 reader a client parses it with."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import ClassVar, Final

import attrs

from mfa_amr._errors import ChallengeParseError, InvalidInputError, MfaAmrError
from mfa_amr._grammar import TOKEN, TOKEN68, check_max_age, is_acr_value

__all__ = [
    "INSUFFICIENT_USER_AUTHENTICATION",
    "MAX_ACR_VALUES",
    "MAX_DESCRIPTION",
    "MAX_HEADER_SIZE",
    "StepUpChallenge",
    "StepUpRequired",
]

INSUFFICIENT_USER_AUTHENTICATION: Final = "insufficient_user_authentication"

MAX_HEADER_SIZE: Final = 8192
"""How long a ``WWW-Authenticate`` value :meth:`StepUpChallenge.parse` reads, in
characters, unless told otherwise: 8 KiB, the header limit of common HTTP servers. A
step-up challenge is a few hundred characters; refusing a hostile megabyte costs
microseconds, where reading it would cost seconds."""

MAX_DESCRIPTION: Final = 1024
"""The longest ``error_description`` a challenge carries, in characters: a longer
one is cut, ending in ``...``. With :data:`MAX_ACR_VALUES` it keeps every header
a challenge renders within :data:`MAX_HEADER_SIZE`, so :meth:`StepUpChallenge.parse`
reads back, with its defaults, whatever the library writes."""

MAX_ACR_VALUES: Final = 4096
"""The longest ``acr_values`` a challenge carries, in characters, the values joined
by spaces; more is refused."""

# `name=` at the start of an auth-param, looking ahead for a token or a quote.
_PARAM_START: Final = re.compile(
    rf"({TOKEN.pattern})[ \t]*=[ \t]*(?=\"|{TOKEN.pattern})"
)
_DIGITS: Final = re.compile(r"[0-9]{1,20}")


def _header_text(value: object) -> str:
    """``value`` as text a header can carry: printable ASCII. Accents are dropped
    (``é`` becomes ``e``), whitespace and control characters become spaces,
    invisible formatting characters go, anything else becomes ``?``; beyond
    :data:`MAX_DESCRIPTION` characters it is cut, ending in ``...``."""
    if not isinstance(value, str):
        raise InvalidInputError(
            f"a challenge's description must be a str, got {type(value).__name__}"
        )
    if value.isascii() and value.isprintable():
        text = str.__str__(value)
    else:
        out: list[str] = []
        for c in unicodedata.normalize("NFKD", value):
            if " " <= c <= "~":
                out.append(c)
            elif c.isspace() or unicodedata.category(c) == "Cc":
                out.append(" ")
            elif not (unicodedata.combining(c) or unicodedata.category(c) == "Cf"):
                out.append("?")
        text = "".join(out)
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 3] + "..."
    return text


def _acr_values(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInputError(
            f"acr_values must be a sequence of acr values, not the string {value!r}"
        )
    values = tuple(value)
    for v in values:
        if not is_acr_value(v):
            raise InvalidInputError(
                f"{v!r} cannot be sent as an acr value: use printable ASCII without "
                "spaces, quotes or backslashes"
            )
    size = sum(len(v) for v in values) + max(len(values) - 1, 0)
    if size > MAX_ACR_VALUES:
        raise InvalidInputError(
            f"acr_values of {size} characters cannot be sent: at most "
            f"{MAX_ACR_VALUES} are, joined by spaces"
        )
    return tuple(str.__str__(v) for v in values)


def _max_age_validator(_i: object, _a: object, value: int | None) -> None:
    check_max_age(value)


def _quoted(text: str) -> str:
    """An RFC 9110 quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(header: str, pos: int) -> str:
    return repr(header[pos : pos + 30] + ("..." if len(header) > pos + 30 else ""))


def _read_quoted(header: str, start: int) -> tuple[str, int]:
    """The text of the quoted-string opening at ``start``, and the position after
    it."""
    out: list[str] = []
    pos = start + 1
    while pos < len(header):
        c = header[pos]
        if c == '"':
            return "".join(out), pos + 1
        if c == "\\":
            pos += 1
            if pos == len(header):
                break
            c = header[pos]
        if (c < " " and c != "\t") or c == "\x7f":
            raise ChallengeParseError(
                f"a control character (U+{ord(c):04X}) at position {pos} inside a "
                "quoted-string: such a character must not appear, even escaped"
            )
        out.append(c)
        pos += 1
    raise ChallengeParseError(
        f"the quoted-string opening at position {start} is not closed: "
        f"{_shown(header, start)}"
    )


def _skip_ows(header: str, pos: int) -> int:
    while pos < len(header) and header[pos] in " \t":
        pos += 1
    return pos


def _read_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """Every challenge of a ``WWW-Authenticate`` value (RFC 9110, section 11.6.1):
    its scheme and its parameters, names lowercased; a token68 is skipped."""
    challenges: list[tuple[str, dict[str, str]]] = []
    params: dict[str, str] | None = None  # the current challenge's
    pos, end = 0, len(header)
    while True:
        pos = _skip_ows(header, pos)
        while pos < end and header[pos] == ",":
            pos = _skip_ows(header, pos + 1)
        if pos == end:
            return challenges
        # After a comma, `name=` continues the current challenge; a bare token
        # starts the next one.
        param = None if params is None else _PARAM_START.match(header, pos)
        if params is None or param is None:
            scheme = TOKEN.match(header, pos)
            if scheme is None:
                raise ChallengeParseError(
                    f"expected an auth-scheme such as Bearer at position {pos}: "
                    f"{_shown(header, pos)}"
                )
            params = {}
            challenges.append((scheme.group().lower(), params))
            pos = scheme.end()
            if pos < end and header[pos] not in " \t,":
                raise ChallengeParseError(
                    f"expected a space after the auth-scheme at position {pos}: "
                    f"{_shown(header, pos)}"
                )
            pos = _skip_ows(header, pos)
            if pos == end or header[pos] == ",":
                continue
            param = _PARAM_START.match(header, pos)
            if param is None:
                token68 = TOKEN68.match(header, pos)
                after = end if token68 is None else _skip_ows(header, token68.end())
                if token68 is None or (after < end and header[after] != ","):
                    raise ChallengeParseError(
                        f"expected name=value at position {pos}: {_shown(header, pos)}"
                    )
                params, pos = None, after
                continue
        name = param.group(1).lower()
        pos = param.end()
        if header[pos] == '"':
            value, pos = _read_quoted(header, pos)
        else:
            token = TOKEN.match(header, pos)
            if token is None:  # unreachable: _PARAM_START looked ahead for one
                raise ChallengeParseError(f"expected a value at position {pos}")
            value, pos = token.group(), token.end()
        if name in params:
            raise ChallengeParseError(
                f"the parameter {name!r} appears twice in one challenge"
            )
        params[name] = value
        pos = _skip_ows(header, pos)
        if pos < end and header[pos] != ",":
            raise ChallengeParseError(
                f"expected ',' after the value of {name!r} at position {pos}: "
                f"{_shown(header, pos)}"
            )


@attrs.frozen
class StepUpChallenge:
    """An RFC 9470 step-up challenge: what the resource server asks the client to
    come back with.

    Build one to render it, or read one from a response with :meth:`parse`.

    Attributes:
        error: always ``"insufficient_user_authentication"``.
        description: for people; kept to printable ASCII so that any HTTP stack can
            send it (other characters are replaced: see the docs), and cut to
            1,024 characters.
        acr_values: ``acr`` values any one of which would do, preferred first; at
            most 4,096 characters together.
        max_age: the most seconds since the last authentication the request allows.

    Raises:
        InvalidInputError: an ``acr`` value with spaces, quotes, backslashes or
            non-ASCII, ``acr_values`` longer than 4,096 characters, or a
            ``max_age`` that is not an int from 0 to ``MAX_TIMESTAMP``.
    """

    error: ClassVar[str] = INSUFFICIENT_USER_AUTHENTICATION

    description: str = attrs.field(default="", converter=_header_text)
    acr_values: tuple[str, ...] = attrs.field(default=(), converter=_acr_values)
    max_age: int | None = attrs.field(default=None, validator=_max_age_validator)

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` value: ``Bearer
        error="insufficient_user_authentication", error_description="...",
        acr_values="...", max_age=N``, leaving out what is empty."""
        parts = [f"error={_quoted(self.error)}"]
        if self.description:
            parts.append(f"error_description={_quoted(self.description)}")
        if self.acr_values:
            parts.append(f"acr_values={_quoted(' '.join(self.acr_values))}")
        if self.max_age is not None:
            parts.append(f"max_age={self.max_age}")
        return "Bearer " + ", ".join(parts)

    def authorization_params(self) -> dict[str, str]:
        """The parameters to add to the next authorization request, as RFC 9470
        asks of a client: ``acr_values`` and ``max_age`` when present."""
        out: dict[str, str] = {}
        if self.acr_values:
            out["acr_values"] = " ".join(self.acr_values)
        if self.max_age is not None:
            out["max_age"] = str(self.max_age)
        return out

    @classmethod
    def parse(cls, header: str, *, max_size: int = MAX_HEADER_SIZE) -> StepUpChallenge:
        """Read the step-up challenge in a ``WWW-Authenticate`` value.

        Tolerates what RFC 9110 allows: any order of parameters, spaces around
        ``=`` and ``,``, the scheme and parameter names in any case, a value as a
        token or a quoted-string, other challenges and parameters beside it.

        Args:
            header: the ``WWW-Authenticate`` value, as text.
            max_size: the longest value read, in characters (an HTTP library hands
                a header over as text, one character per byte); a longer one is
                refused before it is read. Default 8,192.

        Raises:
            ChallengeParseError: the value is longer than ``max_size``, malformed
                (an unclosed or badly escaped quoted-string, a parameter given
                twice, ...), or holds no Bearer challenge with
                ``error="insufficient_user_authentication"``.
            InvalidInputError: ``max_size`` is not a positive int.
        """
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise InvalidInputError(
                f"max_size must be a positive int (characters), got {max_size!r}"
            )
        if not isinstance(header, str):
            raise ChallengeParseError(
                f"a WWW-Authenticate value must be a str, got {type(header).__name__}"
            )
        if len(header) > max_size:
            raise ChallengeParseError(
                f"the WWW-Authenticate value is {len(header)} characters, more than "
                f"max_size={max_size}: a step-up challenge is a few hundred; pass a "
                "larger max_size= to read a longer value"
            )
        bearer = [p for scheme, p in _read_challenges(header) if scheme == "bearer"]
        if not bearer:
            raise ChallengeParseError(f"no Bearer challenge in {_shown(header, 0)}")
        for params in bearer:
            if params.get("error") == INSUFFICIENT_USER_AUTHENTICATION:
                break
        else:
            errors = [repr(p["error"][:40]) for p in bearer if "error" in p]
            raise ChallengeParseError(
                "not a step-up challenge: the Bearer challenge's error is "
                f"{errors[0] if errors else 'missing'}, not "
                f"{INSUFFICIENT_USER_AUTHENTICATION!r}"
            )
        max_age = params.get("max_age")
        if max_age is not None and _DIGITS.fullmatch(max_age) is None:
            raise ChallengeParseError(
                f"max_age must be whole seconds (digits), got {max_age[:30]!r}"
            )
        acr_values = params.get("acr_values", "").replace("\t", " ").split(" ")
        try:
            return cls(
                params.get("error_description", ""),
                tuple(v for v in acr_values if v),
                None if max_age is None else int(max_age),
            )
        except InvalidInputError as exc:
            raise ChallengeParseError(f"not a valid step-up challenge: {exc}") from None


class StepUpRequired(MfaAmrError, PermissionError):
    """The token proves less than the request needs (RFC 9470).

    Answer 401 with ``WWW-Authenticate: <exc.www_authenticate()>``; the client signs
    the user in again with the ``acr_values`` and ``max_age`` asked for.

    Attributes:
        error: always ``"insufficient_user_authentication"``.
        description: what was missing, for people (any text; the header carries an
            ASCII rendering of it, cut to 1,024 characters).
        acr_values: ``acr`` values any one of which would do, preferred first.
        max_age: the most seconds since the last authentication the request allows,
            or ``None``.

    Raises:
        InvalidInputError: an ``acr`` value that cannot be sent in the header (empty,
            with spaces, quotes, backslashes or non-ASCII), ``acr_values`` longer
            than 4,096 characters together, or a ``max_age`` that is not a
            non-negative int.
    """

    error: Final = INSUFFICIENT_USER_AUTHENTICATION

    def __init__(
        self,
        description: str,
        *,
        acr_values: Iterable[str] = (),
        max_age: int | None = None,
    ) -> None:
        super().__init__(description)
        # Built now, so an exception that cannot be rendered is never raised.
        self._challenge = StepUpChallenge(description, acr_values, max_age)
        self.description = description
        self.acr_values: tuple[str, ...] = self._challenge.acr_values
        self.max_age = max_age

    def challenge(self) -> StepUpChallenge:
        """The challenge as a value: what :meth:`www_authenticate` renders."""
        return self._challenge

    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` header value: ``Bearer
        error="insufficient_user_authentication", error_description="...",
        acr_values="...", max_age=N``."""
        return self._challenge.www_authenticate()
