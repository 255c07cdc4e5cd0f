"""FastAPI (and Starlette) integration: guard a route with a
:class:`~mfa_amr.Requirement`, answer a token that proves too little with an RFC 9470
step-up challenge, and open the claims store in the application's lifespan.

- :func:`requires` makes a dependency of a requirement. It takes the verified token
  payload from a dependency of the application (mfa-amr never verifies a signature:
  the application does, with PyJWT, joserfc or its gateway) and returns the token's
  :class:`~mfa_amr.Evaluation`, or raises :class:`~mfa_amr.StepUpRequired`. Given a
  ``store``, it also judges the session's current claims (the online check).
- :func:`add_exception_handlers` answers :class:`~mfa_amr.StepUpRequired` with 401
  and its ``WWW-Authenticate`` challenge, and a malformed token
  (:class:`~mfa_amr.exceptions.AmrParseError`, :class:`InvalidToken`) with 401
  ``error="invalid_token"``, each with a JSON body of ``error`` and
  ``error_description``.
- :func:`postgres_lifespan` opens an ``AsyncPostgresClaimStore`` when the
  application starts and closes it when it stops; :func:`claim_store` is the
  dependency that hands it to a route.
- :func:`access_token_hook_router` serves Supabase's Custom Access Token hook
  (:class:`~mfa_amr.supabase.AccessTokenHook`) from a router.

Needs the ``fastapi`` extra: ``pip install 'mfa-amr[fastapi]'``;
:func:`postgres_lifespan` also needs the ``postgres`` extra.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias, cast

# Without the fastapi extra, say how to install it; any other import error (a broken
# installation) is left as it was raised.
try:
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import JSONResponse
    from starlette.applications import Starlette
except ImportError as exc:
    missing = (exc.name or "").partition(".")[0]
    if missing not in ("fastapi", "starlette", "pydantic"):
        raise
    raise ImportError(
        f"mfa_amr.fastapi needs {missing}, which is not installed: install the "
        "fastapi extra with pip install 'mfa-amr[fastapi]'",
        name=exc.name,
    ) from exc

from mfa_amr._challenge import StepUpRequired
from mfa_amr._errors import AmrParseError, InvalidInputError
from mfa_amr._policy import Policy
from mfa_amr._verify import Evaluation, Requirement
from mfa_amr.stores import AsyncClaimStore

if TYPE_CHECKING:  # the supabase extra is only needed to build a hook
    from mfa_amr.supabase import AccessTokenHook

# Only postgres_lifespan needs the postgres extra: without it, the rest works and
# postgres_lifespan says what to install.
try:
    from mfa_amr.stores.postgres import AsyncPostgresClaimStore
except ImportError as exc:
    _POSTGRES_MISSING: ImportError | None = exc
else:
    _POSTGRES_MISSING = None

__all__ = [
    "STORE_STATE_KEY",
    "InvalidToken",
    "Lifespan",
    "PayloadDependency",
    "StoreDependency",
    "access_token_hook_router",
    "add_exception_handlers",
    "claim_store",
    "postgres_lifespan",
    "requires",
]

STORE_STATE_KEY: Final = "mfa_amr_claim_store"
"""The key of the claims store in the lifespan state that :func:`postgres_lifespan`
yields (``request.state.mfa_amr_claim_store``), where :func:`claim_store` reads it."""

PayloadDependency: TypeAlias = Callable[
    ..., Mapping[str, object] | Awaitable[Mapping[str, object]]
]
"""A dependency of the application that returns the decoded, verified token payload
(a plain function or a coroutine function; FastAPI resolves its own parameters)."""

StoreDependency: TypeAlias = Callable[..., AsyncClaimStore | Awaitable[AsyncClaimStore]]
"""A dependency that returns the claims store, such as :func:`claim_store`."""

Lifespan: TypeAlias = Callable[
    [Starlette], AbstractAsyncContextManager[dict[str, AsyncClaimStore]]
]
"""What :func:`postgres_lifespan` returns: a lifespan for ``FastAPI(lifespan=...)``
that yields the lifespan state ``{STORE_STATE_KEY: store}``."""

_INVALID_TOKEN: Final = "invalid_token"
_INVALID_TOKEN_HEADER: Final = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_UNREADABLE: Final = "The access token's authentication claims cannot be read"
_log = logging.getLogger(__name__)


class InvalidToken(HTTPException):
    """The request's access token is not one this API accepts (RFC 6750
    ``invalid_token``): expired, badly signed, malformed, or its session has ended.

    Raise it from the dependency that verifies the token; :func:`requires` raises it
    when the online check finds the session signed out. The handlers of
    :func:`add_exception_handlers` answer it with 401, ``WWW-Authenticate: Bearer
    error="invalid_token"`` and the JSON body ``{"error": "invalid_token",
    "error_description": description}``. It is a FastAPI ``HTTPException``, so an
    application without those handlers still answers 401 with the header.

    Args:
        description: why, for the client and your logs (the response carries it).

    Attributes:
        error: always ``"invalid_token"``.
        description: as given.
    """

    error: Final = _INVALID_TOKEN

    def __init__(self, description: str = "The access token is invalid") -> None:
        super().__init__(401, detail=description, headers=dict(_INVALID_TOKEN_HEADER))
        self.description = description


# -- the dependency -------------------------------------------------------------------


def requires(
    requirement: Requirement,
    /,
    *,
    payload: PayloadDependency,
    store: StoreDependency | None = None,
) -> Callable[..., Awaitable[Evaluation]]:
    """A dependency that lets a request through only if its token meets
    ``requirement``, and returns the token's :class:`~mfa_amr.Evaluation`.

    Build it once, where the routes are defined, and use it as
    ``Annotated[Evaluation, Depends(requires(policy.requirement(aal="aal2"),
    payload=verified_payload))]``. A route that also needs the payload (its ``sub``)
    depends on ``payload`` too: FastAPI calls a dependency once per request, so the
    token is verified once.

    The online check (``store`` given) also reads the session's current claims
    (``session_id`` from the token) and judges those by the same requirement, so a
    factor removed or a session signed out stops working at once, not at the
    token's ``exp``. It only ever refuses more than the token alone: the token is
    judged first, and a token that fails costs no round trip. It costs one
    ``claims`` call per request (one indexed ``SELECT`` on PostgreSQL).

    Args:
        requirement: what the route needs, from
            :meth:`Policy.requirement <mfa_amr.Policy.requirement>`.
        payload: the application's dependency returning the decoded, verified token
            payload; it raises :class:`InvalidToken` (or any HTTP error) for a
            token it refuses.
        store: for the online check, a dependency returning the
            :class:`~mfa_amr.stores.AsyncClaimStore` (such as :func:`claim_store`).

    Returns:
        The dependency. It returns the token's :class:`~mfa_amr.Evaluation`; with
        the online check, the Evaluation of the session's current claims (in the
        Supabase shape, with ``acr`` and ``auth_time``).

    Raises:
        InvalidInputError: ``requirement`` is not a :class:`~mfa_amr.Requirement`,
            ``payload`` or ``store`` is not callable, or the online check
            is asked of a requirement whose policy is not a :class:`~mfa_amr.Policy`.

    The dependency raises :class:`~mfa_amr.StepUpRequired` when the token (or, with
    the online check, the session) falls short,
    :class:`~mfa_amr.exceptions.AmrParseError` when the payload's claims are
    malformed, and :class:`InvalidToken` when the online check finds no
    ``session_id`` in the token or no claim left in the session (signed out).
    """
    if not isinstance(requirement, Requirement):
        raise InvalidInputError(
            "requires() takes a Requirement, such as "
            f"policy.requirement(aal='aal2'); got {type(requirement).__name__}"
        )
    if not callable(payload):
        raise _not_a_dependency("payload", payload)
    if store is not None and not callable(store):
        raise _not_a_dependency("store", store)
    if store is not None and not isinstance(requirement.policy, Policy):
        raise InvalidInputError(
            "the online check renders the session's claims with the requirement's "
            "policy, which must be a Policy"
        )
    return _Guard(requirement, payload, store)


def _not_a_dependency(name: str, value: object) -> InvalidInputError:
    return InvalidInputError(
        f"{name} must be a callable (a dependency), got {type(value).__name__}"
    )


class _Guard:
    """The dependency :func:`requires` returns. FastAPI reads its parameters from
    ``__signature__``: the application's payload dependency, and the store's."""

    def __init__(
        self,
        requirement: Requirement,
        payload: PayloadDependency,
        store: StoreDependency | None,
    ) -> None:
        self._requirement = requirement
        self._payload = payload
        self._store = store
        keyword = inspect.Parameter.KEYWORD_ONLY
        parameters = [
            inspect.Parameter(
                "payload",
                keyword,
                annotation=Annotated[Mapping[str, object], Depends(payload)],
            )
        ]
        if store is not None:
            parameters.append(
                inspect.Parameter(
                    "store", keyword, annotation=Annotated[Any, Depends(store)]
                )
            )
        self.__signature__ = inspect.Signature(parameters)

    def __repr__(self) -> str:
        online = "" if self._store is None else f", store={self._store!r}"
        return f"requires({self._requirement!r}, payload={self._payload!r}{online})"

    async def __call__(
        self, *, payload: Mapping[str, object], store: AsyncClaimStore | None = None
    ) -> Evaluation:
        if store is None:
            return self._requirement.check(payload)
        at = int(time.time())  # one instant for both judgements
        self._requirement.check(payload, now=at)
        return await self._check_session(payload, store, at)

    async def _check_session(
        self,
        payload: Mapping[str, object],
        store: AsyncClaimStore,
        at: int,
    ) -> Evaluation:
        """Judge the session's current claims, as a token issued now would carry
        them."""
        session_id = payload.get("session_id")
        try:
            sid = uuid.UUID(session_id) if isinstance(session_id, str) else None
        except ValueError:
            sid = None
        if sid is None:
            raise InvalidToken(
                "The access token names no session (session_id), which this API "
                "checks against the session's current sign-in"
            )
        claims = await store.claims(sid)
        if not claims:
            raise InvalidToken("The session has ended: sign in again")
        policy = cast("Policy", self._requirement.policy)  # checked by requires()
        current = policy.token_claims(sid, claims, oidc_claims=True, now=at)
        try:
            return self._requirement.check(current, now=at)
        except StepUpRequired as exc:
            raise StepUpRequired(
                f"{exc.description} (for a token issued now: the session changed "
                "after this token was issued)",
                acr_values=exc.acr_values,
                max_age=exc.max_age,
            ) from None


# -- the answers ----------------------------------------------------------------------


def _error(
    error: str, description: str, headers: Mapping[str, str] | None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=401,
        headers=headers,
    )


async def _on_step_up(request: Request, exc: Exception) -> JSONResponse:
    step_up = cast("StepUpRequired", exc)  # Starlette dispatches by class
    return _error(
        step_up.error,
        step_up.description,
        {"WWW-Authenticate": step_up.www_authenticate()},
    )


async def _on_unreadable(request: Request, exc: Exception) -> JSONResponse:
    # A verified token with unreadable claims means the issuer writes bad tokens:
    # worth a warning. The details describe the token, so they stay in the log.
    _log.warning("%s %s: %s: %s", request.method, request.url.path, _UNREADABLE, exc)
    return _error(_INVALID_TOKEN, _UNREADABLE, _INVALID_TOKEN_HEADER)


async def _on_invalid_token(request: Request, exc: Exception) -> JSONResponse:
    invalid = cast("InvalidToken", exc)
    return _error(invalid.error, invalid.description, _INVALID_TOKEN_HEADER)


def add_exception_handlers(app: Starlette) -> None:
    """Answer mfa-amr's refusals on every route of ``app`` (a FastAPI or Starlette
    application), each with 401 and a JSON body ``{"error": ...,
    "error_description": ...}``:

    - :class:`~mfa_amr.StepUpRequired`: ``WWW-Authenticate`` is the exception's RFC
      9470 challenge (``Bearer error="insufficient_user_authentication",
      error_description="...", acr_values="...", max_age=N``), the body its
      ``error`` and ``description``.
    - :class:`~mfa_amr.exceptions.AmrParseError`: ``WWW-Authenticate: Bearer
      error="invalid_token"``, a fixed description; what was malformed is logged as
      a warning on the ``mfa_amr.fastapi`` logger (signing in again will not fix a
      token its issuer wrote wrong).
    - :class:`InvalidToken`: ``WWW-Authenticate: Bearer error="invalid_token"`` and
      its description.
    """
    app.add_exception_handler(StepUpRequired, _on_step_up)
    app.add_exception_handler(AmrParseError, _on_unreadable)
    app.add_exception_handler(InvalidToken, _on_invalid_token)


# -- the store ------------------------------------------------------------------------


def postgres_lifespan(
    conninfo: str = "", *, create_schema: bool = False, **options: Any
) -> Lifespan:
    """A lifespan that opens an ``AsyncPostgresClaimStore`` (a pool of its own, in
    the server's event loop) when the application starts, and closes it when it
    stops.

    ``app = FastAPI(lifespan=postgres_lifespan(os.environ["DATABASE_URL"]))``; routes
    take the store from :func:`claim_store`. The store is in the lifespan state under
    :data:`STORE_STATE_KEY`. A lifespan of your own enters this one and yields its
    state beside yours (``async with postgres_lifespan(dsn)(app) as state: yield
    {**state, ...}``).

    Args:
        conninfo: a libpq connection string or URI.
        create_schema: create the schema and the table at startup if they do not
            exist, for a new database. Supabase Auth's database has them: leave it
            ``False`` there (its role need not have the privilege).
        **options: passed to ``AsyncPostgresClaimStore.connect``: the store's
            ``schema``, ``table``, ``clock`` and ``policy``, and the pool's options
            (``min_size``, ``max_size``, ``timeout``, ``kwargs``, ...).

    Raises:
        ImportError: the ``postgres`` extra is not installed.
    """
    if _POSTGRES_MISSING is not None:
        raise ImportError(
            f"postgres_lifespan cannot open a store: {_POSTGRES_MISSING}"
        ) from _POSTGRES_MISSING

    @asynccontextmanager
    async def lifespan(
        app: Starlette,
    ) -> AsyncGenerator[dict[str, AsyncClaimStore], None]:
        async with await AsyncPostgresClaimStore.connect(conninfo, **options) as store:
            if create_schema:
                await store.create_schema()
            yield {STORE_STATE_KEY: store}

    return lifespan


async def claim_store(request: Request) -> AsyncClaimStore:
    """The dependency that returns the claims store :func:`postgres_lifespan`
    opened: ``Annotated[AsyncClaimStore, Depends(claim_store)]``.

    Tests swap a store in with ``app.dependency_overrides[claim_store] = lambda:
    AsyncInMemoryClaimStore()``, and then need no lifespan and no database.

    Raises:
        RuntimeError: the application has no claims store in its lifespan state
            (it was not created with :func:`postgres_lifespan`, or it is served
            without running its lifespan).
    """
    store = getattr(request.state, STORE_STATE_KEY, None)
    if store is None:
        raise RuntimeError(
            "no claims store in the lifespan state: create the application with "
            "FastAPI(lifespan=postgres_lifespan(dsn)), or override the dependency "
            "(app.dependency_overrides[claim_store] = lambda: store)"
        )
    return cast("AsyncClaimStore", store)


# -- Supabase's Custom Access Token hook ------------------------------------------------


def access_token_hook_router(
    hook: AccessTokenHook, /, *, path: str = "/supabase/access-token"
) -> APIRouter:
    """A router serving Supabase's Custom Access Token hook at ``path``: the route's
    application is the ASGI application :class:`~mfa_amr.supabase.AccessTokenHook`
    itself, so it answers exactly as ``app.mount(path, hook)`` does (401 for a
    request whose signature does not pass, a repeated ``webhook-*`` header
    included; Supabase's hook error shape for one it cannot serve; ``{"claims":
    ...}`` otherwise; 405 for anything but ``POST``), under
    ``include_router(..., prefix=...)`` too. It is left out of the OpenAPI schema.
    Needs the ``supabase`` extra for the hook.

    Example::

        hook = AccessTokenHook(WebhookVerifier(os.environ["HOOK_SECRET"]))
        app.include_router(access_token_hook_router(hook))
    """
    router = APIRouter()
    # Starlette serves an endpoint that is not a function as an ASGI application,
    # as it is; FastAPI's annotation only names request functions. No methods: the
    # hook answers every one, 405 included, as it does when mounted.
    router.add_route(path, hook, include_in_schema=False)  # type: ignore[arg-type]
    return router
