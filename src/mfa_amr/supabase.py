"""Supabase's Custom Access Token hook, served by mfa-amr: the claims of every token
Supabase issues, judged by a :class:`~mfa_amr.Policy` and written in the ``amr``
style asked, without writing a row into Supabase's tables.

- :func:`customize_access_token`: the hook as a pure function, from the hook's input
  (``{"claims": {...}, ...}``) to its output (``{"claims": {...}}``).
- :class:`WebhookVerifier`: the Standard Webhooks signature check Supabase signs the
  request with, every malformed header refused the same clean way.
- :class:`AccessTokenHook`: both, served as an ASGI application (mount it in
  FastAPI, Starlette or any ASGI server); ``mfa_amr.fastapi.access_token_hook_router``
  serves the same application from a FastAPI router.

Needs the ``supabase`` extra: ``pip install 'mfa-amr[supabase]'``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from mfa_amr._claims import AMRClaim, AmrStyle, claim_from_row, to_style
from mfa_amr._errors import (
    AmrParseError,
    HookRequestError,
    InvalidInputError,
    WebhookSignatureError,
)
from mfa_amr._grammar import is_valid_method, to_now, unix_seconds
from mfa_amr._methods import is_known
from mfa_amr._policy import Policy
from mfa_amr._verify import ParsedMethod, parse_amr
from mfa_amr.stores import AsyncClaimStore

try:
    from standardwebhooks.webhooks import Webhook
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"mfa_amr.supabase needs standardwebhooks ({exc}): pip install "
        "'mfa-amr[supabase]'"
    ) from exc

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_TOLERANCE",
    "REQUIRED_CLAIMS",
    "AccessTokenHook",
    "WebhookVerifier",
    "customize_access_token",
    "hook_error",
]

REQUIRED_CLAIMS: Final = (
    "aud",
    "exp",
    "iat",
    "sub",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
)
"""The claims Supabase requires in the hook's output: the hook keeps each as the
input gave it (but ``aal``, which the policy decides)."""

_RESERVED_CLAIMS: Final = (*REQUIRED_CLAIMS, "amr", "acr", "auth_time")
"""The claims the hook keeps or writes itself: ``supabase_amr_claim`` may name none."""

DEFAULT_TOLERANCE: Final = 300
"""Seconds a request's ``webhook-timestamp`` may lie from the server's clock, either
way, as the Standard Webhooks libraries allow."""

DEFAULT_BODY_LIMIT: Final = 256 * 1024
"""The largest request body read, in bytes; Supabase's claims are a few KiB."""

_UNOWNED_SESSION: Final = uuid.UUID(int=0)
"""The session the input's entries are judged as: a hook's claims are one session's,
and the id plays no part in the level or the ``amr``."""


# -- the hook as a function -----------------------------------------------------------


def _entries(raw_amr: object) -> tuple[ParsedMethod, ...]:
    """The input's ``amr``, read as a verifier reads a token's (shape, types and
    bounds checked; names another writer stored kept): the objects Supabase sends.

    Raises:
        AmrParseError: anything else.
    """
    if raw_amr is None:
        return ()
    if not isinstance(raw_amr, list) or not all(isinstance(e, dict) for e in raw_amr):
        raise AmrParseError("amr: expected a list of objects, as Supabase sends it")
    return parse_amr(raw_amr)


def _claims_of(entries: Iterable[ParsedMethod]) -> list[AMRClaim]:
    """The input's ``amr`` entries as a session's claims, ``created_at`` unknown and
    so the same as ``updated_at``. A name another writer stored outside the method
    syntax counts for nothing and has no RFC 8176 value: it is left out here, and
    kept in a Supabase-style ``amr``, which passes through."""
    out = []
    for entry in entries:
        # parse_amr checked each time (whole seconds from 0 to MAX_TIMESTAMP) and
        # is_valid_method checks the name: nothing is left for AMRClaim to check.
        if entry.timestamp is not None and is_valid_method(entry.method):
            at = datetime.fromtimestamp(entry.timestamp, UTC)
            out.append(
                claim_from_row(uuid.uuid4(), _UNOWNED_SESSION, entry.method, at, at)
            )
    return out


def _providers_of(entries: Iterable[ParsedMethod]) -> dict[str, str]:
    """The provider of each method's newest entry in the input (``""`` for none),
    for an ``amr`` written again from a store's claims: the provider of an
    ``sso/saml`` entry is Supabase's, and a claim does not hold it."""
    newest: dict[str, tuple[int, str]] = {}
    for entry in entries:
        if entry.timestamp is None:
            continue
        held = newest.get(entry.method)
        if held is None or entry.timestamp > held[0]:
            newest[entry.method] = (entry.timestamp, entry.provider or "")
    return {method: provider for method, (_, provider) in newest.items()}


def customize_access_token(
    hook_input: Mapping[str, object],
    *,
    policy: Policy | None = None,
    style: AmrStyle | str = AmrStyle.SUPABASE,
    oidc_claims: bool = False,
    supabase_amr_claim: str | None = None,
    claims: Iterable[AMRClaim] | None = None,
    now: datetime | float | None = None,
) -> dict[str, object]:
    """The Custom Access Token hook's answer, ``{"claims": {...}}``, to its input.

    The input's ``claims.amr`` objects (method, timestamp, provider) are read as the
    session's claims (or ``claims`` are, when given: what a store holds), the policy
    computes the level, and the output holds the input's claims with ``aal`` (and
    ``amr`` in the RFC 8176 style, and ``acr`` and ``auth_time`` when written)
    replaced. Every other claim passes through unchanged, Supabase's required ones
    included, and ``aal`` is never above what the claims prove under the policy.
    With ``claims`` in the Supabase style, ``amr`` is written from them, each
    method's entry with the ``provider`` the input's entry of that method has.

    A strict policy leaves out of the ``amr`` the entries it would refuse on
    reading (names outside its catalog), as it does in the tokens it issues.

    With ``Policy.supabase()`` and the Supabase style the hook changes nothing for a
    genuine input: the same level, the same ``amr`` entries in the same order
    (Supabase's order within a second is its own), names outside mfa-amr's syntax
    kept.

    Args:
        hook_input: the request's JSON: ``{"claims": {...}, ...}``.
        policy: what the claims are worth; default ``Policy.supabase()``.
        style: ``"supabase"`` keeps Supabase's objects in ``amr`` (from the store,
            when ``claims`` are given); ``"rfc8176"`` writes registered strings, and
            ``acr`` and ``auth_time`` beside them.
        oidc_claims: write ``acr`` and ``auth_time`` in the Supabase style too.
        supabase_amr_claim: in the RFC 8176 style, also keep Supabase's objects
            under this claim (for code of yours that needs their timestamps).
        claims: the session's claims as a store holds them, instead of the input's
            ``amr`` (whose providers are kept).
        now: the instant of the judgement; the clock when left out.

    Raises:
        HookRequestError: the input is not a hook request (no ``claims`` object, a
            required claim missing), or a claim this function owns would overwrite
            one it does not.
        AmrParseError: the input's ``amr`` is malformed.
        InvalidInputError: an argument is invalid.
    """
    policy = Policy.supabase() if policy is None else policy
    shape = to_style(style)
    if supabase_amr_claim is not None and (
        not isinstance(supabase_amr_claim, str)
        or supabase_amr_claim in _RESERVED_CLAIMS
    ):
        raise InvalidInputError(
            "supabase_amr_claim must name a claim of its own, not one of "
            f"{', '.join(_RESERVED_CLAIMS)}; got {supabase_amr_claim!r}"
        )
    given = _input_claims(hook_input)
    raw_amr = given.get("amr")
    entries = _entries(raw_amr)
    session = list(claims) if claims is not None else _claims_of(entries)
    at = unix_seconds(to_now(now))
    assessed = policy.assess(session, now=at, providers=_providers_of(entries))

    out = dict(given)
    out["aal"] = assessed.aal.value
    if shape is AmrStyle.RFC8176:
        if raw_amr is not None or session:
            out["amr"] = list(assessed.amr_values)
        if supabase_amr_claim is not None and raw_amr is not None:
            out[supabase_amr_claim] = raw_amr
    elif claims is not None:
        if assessed.entries:
            out["amr"] = [entry.to_dict() for entry in assessed.entries]
        else:
            out.pop("amr", None)
    elif policy.strict and isinstance(raw_amr, list):
        # Supabase's objects as they came, but for those a strict policy would
        # refuse on reading: it leaves names outside its catalog out of its tokens.
        known = policy.methods
        out["amr"] = [
            item
            for item, entry in zip(raw_amr, entries, strict=True)
            if is_known(entry.method, known)
        ]
    if shape is AmrStyle.RFC8176 or oidc_claims:
        out["acr"] = policy.acr_values[assessed.aal]
        if assessed.auth_time is None:
            out.pop("auth_time", None)
        else:
            out["auth_time"] = assessed.auth_time
    return {"claims": out}


def _input_claims(hook_input: Mapping[str, object]) -> Mapping[str, object]:
    if not isinstance(hook_input, Mapping):
        raise HookRequestError(
            f"a hook request is a JSON object, got {type(hook_input).__name__}"
        )
    given = hook_input.get("claims")
    if not isinstance(given, Mapping):
        raise HookRequestError(
            "a hook request carries the token's claims as an object under 'claims'"
        )
    missing = [name for name in REQUIRED_CLAIMS if name not in given]
    if missing:
        raise HookRequestError(
            f"the hook request's claims lack {', '.join(missing)}: Supabase requires "
            "them in the answer, and the hook passes them through"
        )
    return given


def hook_error(message: str, http_code: int = 500) -> dict[str, object]:
    """Supabase's hook error shape, ``{"error": {"http_code", "message"}}``: answered
    with status 200, Supabase turns it into that HTTP error for the user (it reads
    the shape only on 200 or 202, and ignores an empty message)."""
    return {"error": {"http_code": http_code, "message": message or "hook error"}}


# -- the signature ----------------------------------------------------------------------

_SIGNATURE: Final = re.compile(r"(v[0-9]+),([A-Za-z0-9+/]+={0,2})")
_MESSAGE_ID: Final = re.compile(r"[\x21-\x7e]{1,256}")
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_MAX_SIGNATURE_HEADER: Final = 4096
_WEBHOOK_HEADERS: Final = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature"}
)


def _webhook_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> dict[str, str]:
    """The Standard Webhooks headers of a request, by lowercase name.

    Raises:
        WebhookSignatureError: one of them is repeated (two ``webhook-signature``
            headers, or ``Webhook-Id`` and ``webhook-id``): which values were signed
            together is ambiguous, so the request is refused rather than one copy
            picked.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    named: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in _WEBHOOK_HEADERS:
            if key in named:
                raise WebhookSignatureError(
                    f"the request repeats the {key} header, which is taken once "
                    "(several signatures share one webhook-signature header)"
                )
            named[key] = value
    return named


def _base64(text: str) -> bytes | None:
    """``text`` decoded, or ``None`` when it is not base64 (a malformed signature
    matches nothing, a malformed secret is refused)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _secret_key(secret: str) -> bytes:
    """The key of a secret as Supabase shows it (``v1,whsec_<base64>``), or as the
    Standard Webhooks libraries take it (``whsec_<base64>``)."""
    key = _base64(secret.removeprefix("v1,").removeprefix("whsec_"))
    if not key:
        raise InvalidInputError(
            "a webhook secret is 'v1,whsec_' followed by base64 (as Supabase's "
            "dashboard shows it), or 'whsec_' and base64; got something else"
        )
    return key


def _to_secrets(value: str | Iterable[str]) -> tuple[str, ...]:
    """One secret, or several (a rotation), as a tuple of strings.

    Raises:
        InvalidInputError: none, or one that is not a str.
    """
    secrets = (value,) if isinstance(value, str) else tuple(value)
    if not secrets or not all(isinstance(s, str) for s in secrets):
        raise InvalidInputError(
            "secrets must be one webhook secret (a str) or several, during a rotation"
        )
    return secrets


@attrs.frozen
class WebhookVerifier:
    """The Standard Webhooks check of a request Supabase signed.

    A request passes when its ``webhook-id`` is present, its ``webhook-timestamp``
    lies within ``tolerance`` seconds of the clock (either way), and one of the
    ``v1,<base64>`` signatures in ``webhook-signature`` (Supabase sends one per
    configured secret, joined with ``", "``) is the HMAC-SHA256 of
    ``<id>.<timestamp>.<body>`` under one of the secrets. Several secrets may be
    given during a rotation. The header is read here, not by the library, so that
    every malformed request is refused the same way. A request that repeats one of
    these three headers is refused: which copies were signed together is ambiguous.

    Attributes:
        secrets: the hook's secret, ``v1,whsec_<base64>`` as Supabase's dashboard
            shows it (or ``whsec_<base64>``), or several during a rotation.
        tolerance: seconds a timestamp may lie from the clock, either way.
        clock: returns the current Unix time (default ``time.time``).

    Raises:
        InvalidInputError: no secret, or one that is not of that form.
    """

    secrets: tuple[str, ...] = attrs.field(converter=_to_secrets, repr=False)
    tolerance: int = DEFAULT_TOLERANCE
    clock: Callable[[], float] = attrs.field(default=time.time, repr=False)
    _signers: tuple[Webhook, ...] = attrs.field(
        init=False, repr=False, eq=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        if type(self.tolerance) is not int or self.tolerance < 0:
            raise InvalidInputError(
                f"tolerance must be non-negative whole seconds, got {self.tolerance!r}"
            )
        signers = tuple(Webhook(_secret_key(s)) for s in self.secrets)
        object.__setattr__(self, "_signers", signers)

    def verify(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
    ) -> None:
        """Return if the request is signed by one of the secrets.

        Args:
            headers: the request's headers, names in any case: a mapping, or
                ``(name, value)`` pairs as received, so that a repeated header is
                seen (a Starlette ``Headers`` is a mapping that keeps them).
            body: the request's body, exactly as received.

        Raises:
            WebhookSignatureError: a header is missing, repeated or malformed, the
                timestamp is out of tolerance, or no signature matches; the message
                says which, for the logs.
        """
        named = _webhook_headers(headers)
        message_id = named.get("webhook-id", "")
        stamp = named.get("webhook-timestamp", "")
        signatures = named.get("webhook-signature", "")
        if not (message_id and stamp and signatures):
            raise WebhookSignatureError(
                "the request lacks webhook-id, webhook-timestamp or webhook-signature"
            )
        if _MESSAGE_ID.fullmatch(message_id) is None:
            raise WebhookSignatureError("the webhook-id header is malformed")
        if _TIMESTAMP.fullmatch(stamp) is None:
            raise WebhookSignatureError(
                "the webhook-timestamp header is not whole Unix seconds"
            )
        if abs(self.clock() - int(stamp)) > self.tolerance:
            raise WebhookSignatureError(
                f"the webhook-timestamp is more than {self.tolerance} s from the "
                "server's clock"
            )
        if len(signatures) > _MAX_SIGNATURE_HEADER:
            raise WebhookSignatureError("the webhook-signature header is too long")
        given = [
            decoded
            for version, sig in _SIGNATURE.findall(signatures)
            if version == "v1" and (decoded := _base64(sig)) is not None
        ]
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookSignatureError("the body is not UTF-8") from None
        when = datetime.fromtimestamp(int(stamp), UTC)
        for signer in self._signers:
            expected = base64.b64decode(
                signer.sign(message_id, when, text).partition(",")[2]
            )
            if any(hmac.compare_digest(expected, sig) for sig in given):
                return
        raise WebhookSignatureError("no v1 signature of the request matches a secret")


# -- served as ASGI ---------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@attrs.frozen
class AccessTokenHook:
    """The Custom Access Token hook as an ASGI application: a signed ``POST`` of the
    hook's JSON in, ``{"claims": ...}`` out with ``Content-Type: application/json``.

    A request whose signature does not pass (a repeated ``webhook-id``,
    ``webhook-timestamp`` or ``webhook-signature`` header included) is answered
    ``401`` and never reaches the policy. A request that passes but cannot be
    served (malformed JSON, a body over ``body_limit``, a malformed ``amr``) is
    answered in Supabase's hook error shape with status 200, which Supabase reads
    (any 4xx would reach the user as a 500). With ``store``, the session's claims
    are read from it (one round trip), for a hook that must see claims written
    since the token was asked for.

    Attributes:
        verifier: the signature check.
        policy: what the claims are worth; default ``Policy.supabase()``.
        style: the ``amr`` style written; see :func:`customize_access_token`.
        oidc_claims: as for :func:`customize_access_token`.
        supabase_amr_claim: as for :func:`customize_access_token`.
        store: read the session's claims from it instead of the input's ``amr``.
        body_limit: the largest body read, in bytes.
        clock: returns the current Unix time, the instant of the judgement
            (default ``time.time``).
    """

    verifier: WebhookVerifier
    policy: Policy = attrs.field(factory=Policy.supabase)
    style: AmrStyle = attrs.field(default=AmrStyle.SUPABASE, converter=to_style)
    oidc_claims: bool = False
    supabase_amr_claim: str | None = None
    store: AsyncClaimStore | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    clock: Callable[[], float] = attrs.field(default=time.time, repr=False)

    async def answer(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        """The status and JSON body answering one ``POST``, the ASGI application's
        answer. ``headers`` are as :meth:`WebhookVerifier.verify` takes them: give
        the ``(name, value)`` pairs as received, so that a repeated header is
        refused."""
        if len(body) > self.body_limit:
            return 200, _json(hook_error("the hook request is too large", 413))
        try:
            self.verifier.verify(headers, body)
        except WebhookSignatureError:
            return 401, _json({"error": "invalid webhook signature"})
        try:
            hook_input = json.loads(body)
        except ValueError:
            return 200, _json(hook_error("the hook request is not JSON", 400))
        try:
            claims = None
            if self.store is not None:
                session = _input_claims(hook_input).get("session_id")
                claims = await self.store.claims(str(session))
            answer = customize_access_token(
                hook_input,
                policy=self.policy,
                style=self.style,
                oidc_claims=self.oidc_claims,
                supabase_amr_claim=self.supabase_amr_claim,
                claims=claims,
                now=self.clock(),
            )
        except (HookRequestError, AmrParseError, InvalidInputError) as exc:
            return 200, _json(hook_error(str(exc), 400))
        return 200, _json(answer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to do
        if scope["method"] != "POST":
            await _respond(send, 405, _json({"error": "POST the hook request"}))
            return
        body = await _body(receive, self.body_limit)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", [])
        ]
        status, payload = await self.answer(headers, body)
        await _respond(send, status, payload)


async def _body(receive: Receive, limit: int) -> bytes:
    """The request body, read up to one byte past ``limit`` (the rest is not read:
    a body that long is refused)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
