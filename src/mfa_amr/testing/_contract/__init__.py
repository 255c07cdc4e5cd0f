"""The contract suite: :class:`ClaimStoreContract`, composed of one group of tests
per operation of the protocol."""

from __future__ import annotations

from mfa_amr.testing._contract._neighbours import NeighbourContract
from mfa_amr.testing._contract._purge import PurgeContract
from mfa_amr.testing._contract._reads import ReadContract
from mfa_amr.testing._contract._record import RecordContract
from mfa_amr.testing._contract._record_many import RecordManyContract
from mfa_amr.testing._contract._removal import RemovalContract

__all__ = ["ClaimStoreContract"]


# pytest collects inherited tests base class first (reverse MRO): the groups are
# listed last to first so that a run reads record, record_many, reads, removal,
# purge, neighbours.
class ClaimStoreContract(
    NeighbourContract,
    PurgeContract,
    RemovalContract,
    ReadContract,
    RecordManyContract,
    RecordContract,
):
    """The behaviour every :class:`~mfa_amr.stores.ClaimStore` must have, as a pytest
    base class.

    Subclass it in a test module (the name must start with ``Test``) and override
    the ``store`` fixture; every ``test_`` method is inherited::

        class TestMyStore(ClaimStoreContract):
            @pytest.fixture
            def store(self, clock: FakeClock) -> Iterator[MyClaimStore]:
                store = MyClaimStore(dsn, clock=clock)  # the default policy
                yield store
                store.close()

    The ``clock`` fixture is a :class:`~mfa_amr.testing.FakeClock` at
    :data:`~mfa_amr.testing.START`; the store must read it whenever ``at`` is left
    out, and use ``Policy.supabase()``.

    The store fixture may keep its function scope: property tests run their
    Hypothesis examples inside one test call, against that one store, each on fresh
    session ids (sessions of earlier examples are deleted first). So an expensive
    backend is set up once per test, and a test starts from an empty store.

    Optional overrides:
        hypothesis_settings: the settings of the property tests (default: the
            current profile with ``deadline=None``).
        new_session_id: where session ids come from (default ``uuid.uuid4()``);
            a backend whose claims need an existing session row creates one here.
    """
