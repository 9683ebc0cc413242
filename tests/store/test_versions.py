from __future__ import annotations

import pytest

from automation.definitions import Status
from automation.errors import ConflictError, NotFoundError
from automation.store.repository import Repository
from automation.validation import validate_definition
from tests.helpers import workflow

pytestmark = pytest.mark.usefixtures("db")


def test_versions_list_who_and_when_oldest_first() -> None:
    repo = Repository()
    repo.create(validate_definition(workflow("a")), created_by="alice")
    repo.update(validate_definition(workflow("a", name="B")), created_by="bob", comment="rename")
    versions = repo.list_versions("a")
    assert [(v.version, v.created_by, v.comment) for v in versions] == [(1, "alice", None), (2, "bob", "rename")]
    assert versions[0].created_at is not None
    with pytest.raises(NotFoundError):
        repo.list_versions("nope")


def test_save_all_is_one_transaction() -> None:
    repo = Repository()
    repo.create(validate_definition(workflow("kept")))
    repo.create(validate_definition(workflow("gone")))
    repo.soft_delete("gone")
    saved = repo.save_all([validate_definition(workflow("new")), validate_definition(workflow("kept", name="K2"))])
    assert [(s.key, s.version, o) for s, o in saved] == [("new", 1, "created"), ("kept", 2, "updated")]
    assert repo.save_all([validate_definition(workflow("kept", name="K2"))])[0][1] == "unchanged"
    with pytest.raises(ConflictError, match="'gone'"):
        repo.save_all([validate_definition(workflow("other")), validate_definition(workflow("gone"))])
    assert not repo.exists("other")  # the first one was rolled back with the failure
    assert repo.deleted_keys(["gone", "kept", "zzz"]) == {"gone"}
    assert repo.get("kept").status == Status.ACTIVE.value
