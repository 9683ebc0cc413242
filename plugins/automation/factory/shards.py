"""Which workflow DAG file holds which workflow: the stable shard of a key, and the shard a file stands for.

Invariant: under one count (`[automation] dag_shards`), every key belongs to exactly one shard, `shard_of(key,
count)`, the same in every process and Python version (an MD5 of the key's UTF-8 bytes, not Python's salted
`hash`); shard `i` is the DAG file named `shard_file_name(i)`, and a file's shard is read back from its name by
`shard_of_file` (every copy has the same body, so `automation init` writes byte-identical files). A file whose
name carries no shard number (the repository's `automation_workflows.py`, a copy under another name) is shard 0;
a file whose shard is not below the count builds nothing, so files left over from a larger count never hold a
DAG another file holds too.
"""

from __future__ import annotations

import hashlib
import os
import re

#: The workflow DAG file of shard 0 (the repository's dags/ holds it); shard i > 0 is `automation_workflows_<i>.py`.
BASE_NAME = "automation_workflows"
_SHARD_NAME = re.compile(rf"{BASE_NAME}_([0-9]{{1,3}})\.py")


def shard_of(key: str, count: int) -> int:
    """The shard (0 .. count-1) of workflow `key` when there are `count` DAG files."""
    if count <= 1:
        return 0
    digest = hashlib.md5(key.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_file_name(index: int) -> str:
    """The DAG file name of shard `index`."""
    return f"{BASE_NAME}.py" if index == 0 else f"{BASE_NAME}_{index}.py"


def shard_file_names(count: int) -> list[str]:
    return [shard_file_name(index) for index in range(count)]


def shard_of_file(path: str) -> int:
    """The shard a workflow DAG file stands for, from its name (0 when the name has no shard number)."""
    match = _SHARD_NAME.fullmatch(os.path.basename(path))
    return int(match.group(1)) if match else 0
