"""mfa_amr.stores.postgres without the postgres extra: importing it says how to
install what is missing. Each case runs in a fresh interpreter where importing
psycopg or psycopg_pool fails as it does when the package is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Run by `python -c` with BLOCKED and ERROR defined before it: a finder that fails
# the import of BLOCKED (and its submodules) as an absent package does, or with a
# bare ImportError (no name) when ERROR is "broken"; then what importing the stores
# raised, as JSON.
PROBE = textwrap.dedent(
    """
    import json
    import sys


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name == BLOCKED or name.startswith(BLOCKED + "."):
                if ERROR == "broken":
                    raise ImportError("no pq wrapper available")
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
    import mfa_amr
    import mfa_amr.stores.memory

    try:
        import mfa_amr.stores.postgres
    except ImportError as exc:
        cause = exc.__cause__
        print(json.dumps({
            "type": type(exc).__name__,
            "message": str(exc),
            "cause": None if cause is None else [type(cause).__name__, cause.name],
        }))
    else:
        print(json.dumps(None))
    """
)


def probe(blocked: str, error: str = "missing") -> object:
    """What importing mfa_amr.stores.postgres raises when ``blocked`` fails to
    import, in a fresh interpreter."""
    code = f"BLOCKED = {blocked!r}\nERROR = {error!r}\n{PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    result: object = json.loads(done.stdout)
    return result


class TestMissingExtra:
    """Without psycopg or psycopg_pool the core still imports, and the stores
    module names the extra."""

    @pytest.mark.parametrize("blocked", ["psycopg", "psycopg_pool"])
    def test_the_import_error_says_how_to_install_the_extra(self, blocked: str) -> None:
        """An ImportError names the missing package and pip install
        'mfa-amr[postgres]', chaining the original ModuleNotFoundError."""
        assert {
            "type": "ImportError",
            "message": (
                f"mfa_amr.stores.postgres needs {blocked}, which is not installed: "
                "install the postgres extra with pip install 'mfa-amr[postgres]'"
            ),
            "cause": ["ModuleNotFoundError", blocked],
        } == probe(blocked)

    def test_another_import_error_is_left_as_it_is(self) -> None:
        """An import error that is not a missing package (psycopg without a libpq)
        goes through unchanged: installing the extra would not help."""
        assert {
            "type": "ImportError",
            "message": "no pq wrapper available",
            "cause": None,
        } == probe("psycopg", "broken")
