"""Every public name the package had before the restructure still imports from the
same place, as the same kind of thing, and the light imports stay light."""

from __future__ import annotations

import enum
import importlib
import inspect
import subprocess
import sys
import types

import pytest

# The public names of 0.1.0, by module: what users import today. New names may be
# added; none of these may go.
PUBLIC: dict[str, dict[str, str]] = {
    "mfa_amr": {
        "AAL": "enum",
        "AMRClaim": "class",
        "AMREntry": "class",
        "AmrStyle": "enum",
        "Assessment": "class",
        "AsyncInMemoryClaimStore": "class",
        "AuthenticationMethod": "enum",
        "Evaluation": "class",
        "Factor": "enum",
        "InMemoryClaimStore": "class",
        "LevelRule": "enum",
        "MethodSpec": "class",
        "ParsedMethod": "class",
        "Policy": "class",
        "StepUpChallenge": "class",
        "StepUpRequired": "exception",
        "exceptions": "module",
        "parse_amr": "function",
        "rfc8176": "module",
    },
    "mfa_amr.exceptions": dict.fromkeys(
        (
            "AmrParseError",
            "ChallengeParseError",
            "InvalidAALError",
            "InvalidClaimError",
            "InvalidInputError",
            "InvalidMethodError",
            "MfaAmrError",
            "SessionNotFoundError",
            "StepUpRequired",
            "StoreError",
            "StoreUnavailableError",
            "UnrecordableMethodError",
        ),
        "exception",
    ),
    "mfa_amr.stores": {
        "AsyncClaimStore": "class",
        "ClaimStore": "class",
        "Clock": "alias",
        "MethodLike": "alias",
        "RecordItem": "alias",
        "SessionIdLike": "alias",
    },
    "mfa_amr.stores.postgres": {
        "DEFAULT_SCHEMA": "str",
        "DEFAULT_TABLE": "str",
        "AsyncPostgresClaimStore": "class",
        "PostgresClaimStore": "class",
        "schema_sql": "function",
    },
    "mfa_amr.testing": {
        "START": "datetime",
        "AsyncRunner": "class",
        "BlockingClaimStore": "class",
        "ClaimStoreContract": "class",
        "ClaimStoreMachine": "class",
        "FakeClock": "class",
    },
}

# Names added since 0.1.0 that the docs point users to.
ADDED: dict[str, tuple[str, ...]] = {
    "mfa_amr": (
        "DEFAULT_CATALOG",
        "DEFAULT_MAX_ENTRIES",
        "DEFAULT_SKEW",
        "MAX_TIMESTAMP",
        "METHOD_MAX_LENGTH",
        "Requirement",
    ),
    "mfa_amr.exceptions": (
        "HookRequestError",
        "RevocationRefusedError",
        "StoreConfigurationError",
        "TableNotFoundError",
        "WebhookSignatureError",
        "WriteDiscardedError",
    ),
    "mfa_amr.fastapi": (
        "InvalidToken",
        "access_token_hook_router",
        "add_exception_handlers",
        "claim_store",
        "postgres_lifespan",
        "requires",
    ),
    "mfa_amr.supabase": (
        "AccessTokenHook",
        "WebhookVerifier",
        "customize_access_token",
        "hook_error",
    ),
}


def _kind(value: object) -> str:
    if isinstance(value, types.ModuleType):
        return "module"
    if isinstance(value, type) and issubclass(value, BaseException):
        return "exception"
    if isinstance(value, type) and issubclass(value, enum.Enum):
        return "enum"
    if isinstance(value, type):
        return "class"
    if inspect.isfunction(value):
        return "function"
    return type(value).__name__


def _cases() -> list[tuple[str, str, str]]:
    return [
        (module, name, kind)
        for module, names in PUBLIC.items()
        for name, kind in names.items()
    ]


class TestPublicNames:
    @pytest.mark.parametrize(("module", "name", "kind"), _cases())
    def test_still_imports_as_the_same_kind(
        self, module: str, name: str, kind: str
    ) -> None:
        """Each public name of 0.1.0 imports from its module and is listed in its
        __all__, as the same kind of object."""
        mod = importlib.import_module(module)
        assert name in mod.__all__
        value = getattr(mod, name)
        if kind == "alias":
            assert value is not None
        else:
            assert kind == _kind(value)

    @pytest.mark.parametrize(
        ("module", "name"),
        [(module, name) for module, names in ADDED.items() for name in names],
    )
    def test_names_the_docs_point_to_are_public(self, module: str, name: str) -> None:
        """What a doc page tells a user to import is a public name."""
        assert name in importlib.import_module(module).__all__

    def test_every_all_name_exists(self) -> None:
        """Every name in a public module's __all__ is defined there."""
        for module in [*PUBLIC, *ADDED]:
            mod = importlib.import_module(module)
            for name in mod.__all__:
                assert hasattr(mod, name), f"{module}.{name}"

    def test_one_class_behind_each_name(self) -> None:
        """A class exported in two places is the same object in both."""
        import mfa_amr
        from mfa_amr import exceptions

        assert mfa_amr.StepUpRequired is exceptions.StepUpRequired
        for name in exceptions.__all__:
            assert issubclass(getattr(exceptions, name), exceptions.MfaAmrError)

    def test_str_enums_equal_their_strings(self) -> None:
        """The enums are str enums: members equal the strings a token holds."""
        from mfa_amr import AAL, AmrStyle, AuthenticationMethod, Factor, LevelRule

        for enum_class in (AAL, AmrStyle, AuthenticationMethod, Factor, LevelRule):
            for member in enum_class:
                assert member.value == member
                assert member.value == str(member)


class TestLightImports:
    def test_import_mfa_amr_pulls_in_no_test_or_driver_package(self) -> None:
        """`import mfa_amr` loads neither pytest, Hypothesis nor psycopg."""
        code = (
            "import sys, mfa_amr\n"
            "heavy = {'pytest', 'hypothesis', 'psycopg', 'psycopg_pool'}\n"
            "print(sorted(heavy & set(sys.modules)))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "[]" == out.stdout.strip()
