"""`automation registry discover` and `automation registry check`, as a user runs them: a real database
behind an Airflow connection (`AIRFLOW_CONN_*`), the printed registry checked, then used by the record store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from automation.cli.main import main
from automation.local.embedded_db import EmbeddedPostgres, free_port
from automation.records.registry import DEFAULT_REGISTRY, CollectionsRegistry
from automation.records.store import RecordStore
from automation.store.db import engine

SCHEMA = """
DROP SCHEMA IF EXISTS sales CASCADE;
CREATE SCHEMA sales;
CREATE TABLE sales.customers (id serial PRIMARY KEY, name text NOT NULL, vip boolean DEFAULT false,
                              created_at timestamptz DEFAULT now(), updated_at timestamptz);
CREATE TABLE sales.invoices (id serial PRIMARY KEY, customer_id integer REFERENCES sales.customers (id),
                             total numeric(10, 2), due date, lines jsonb, pdf bytea);
CREATE TABLE sales.invoice_tags (invoice_id integer REFERENCES sales.invoices (id), tag text,
                                 PRIMARY KEY (invoice_id, tag));
CREATE VIEW sales.big_invoices AS SELECT id, total FROM sales.invoices WHERE total > 100;
"""


@pytest.fixture
def sales(pg: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    pg.create_database("discover_cli")
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", pg.url("discover_cli"))
    with engine("sales_db").begin() as conn:
        conn.execute(text(SCHEMA))
    yield "sales_db"


def _discover(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["registry", "discover", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_discover_prints_a_registry_that_checks_and_that_record_actions_can_use(
    sales: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _discover(capsys, "--conn", sales, "--schema", "sales")
    assert code == 0
    assert err == "2 collection(s) discovered, 1 left out (see the comments)\n"
    path = tmp_path / "collections.yaml"
    path.write_text(out)

    assert main(["registry", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"ok {path}: 2 collection(s) on connection(s) sales_db\n"

    registry = CollectionsRegistry.model_validate(yaml.safe_load(out))
    assert registry.collection("invoices").columns == {
        "id": "integer", "customer_id": "integer", "total": "number", "due": "date", "lines": "json"
    }  # fmt: skip
    assert registry.collection("invoices").relations["customer"].collection == "customers"
    assert registry.connection_for("invoices") == "sales_db"
    assert '  # invoice_tags: composite primary key ("invoice_id", "tag")' in out
    assert '    # column "pdf" left out: type "bytea" has no registry type' in out

    with engine(registry.connection_for("customers")).begin() as conn:
        store = RecordStore(conn, registry)
        customer = store.insert("customers", {"name": "Ada", "vip": True})
        invoice = store.insert("invoices", {"customer_id": customer["id"], "total": 12.5})
        conn.execute(text('UPDATE sales.invoices SET lines = \'[{"sku": "a"}]\''))
        assert store.get("invoices", invoice["id"])["lines"] == [{"sku": "a"}]
        assert store.get("customers", customer["id"])["vip"] is True


def test_per_collection_names_the_connection_in_each_collection(sales: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _discover(capsys, "--conn", sales, "--schema", "sales", "--table", "customers", "--per-collection")
    assert code == 0
    data = yaml.safe_load(out)
    assert data["collections"]["customers"]["connection_id"] == "sales_db"
    # merged into the demo registry, whose own connection is the automation database
    merged = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    merged["collections"].update(data["collections"])
    registry = CollectionsRegistry.model_validate(merged)
    assert registry.connection_for("customers") == "sales_db"
    assert registry.connection_for("deals") == "automation_db"
    assert registry.connection_ids() == {"automation_db", "sales_db"}


def test_discover_says_in_one_line_what_is_wrong(
    sales: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _discover(capsys, "--conn", sales, "--schema", "nope") == (
        2, "", "error: schema \"nope\" does not exist in the database of connection 'sales_db'\n"
    )  # fmt: skip
    code, out, err = _discover(capsys, "--conn", sales, "--schema", "Sales", "--table", "x;y")
    assert (code, out) == (2, "")
    assert err == (
        "error: --schema: expected a plain lowercase identifier ([a-z_][a-z0-9_]*, at most 63): the registry can "
        "only name such schemas; --table: 'x;y' is not a plain lowercase identifier\n"
    )
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_DOWN_DB", f"postgresql://u:secret@127.0.0.1:{port}/x")
    code, out, err = _discover(capsys, "--conn", "down_db", "--schema", "sales")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: cannot read the database of connection 'down_db' at 127.0.0.1:{port}/x: ")
    assert "secret" not in err and "Traceback" not in err
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_API", "https://example.com")
    assert _discover(capsys, "--conn", "http_api", "--schema", "sales")[2] == (
        "error: connection 'http_api' must be a Postgres connection (postgresql://...), got https\n"
    )


def test_check_prints_each_problem_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "collections.yaml"
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    data["collections"]["deals"]["columns"]["stage"] = "enum"
    data["collections"]["deals"]["relations"]["owner"]["collection"] = "people"
    data["collections"]["tags"]["connection_id"] = "bad id"
    path.write_text(yaml.safe_dump(data))
    assert main(["registry", "check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: collections.deals.columns.stage: Input should be 'integer', 'number', 'string', 'boolean', "
        "'datetime', 'date' or 'json'",
        f"{path}: collections.tags.connection_id: expected an Airflow connection id: letters, digits and "
        "_ - . : / # ! ( ), at most 250",
        f"2 problem(s) in {path}",
    ]
    # with the types fixed, the relation's target is checked too
    data["collections"]["deals"]["columns"]["stage"] = "string"
    del data["collections"]["tags"]["connection_id"]
    path.write_text(yaml.safe_dump(data))
    assert main(["registry", "check", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{path}: collections.deals.relations.owner.collection: 'people' is not a collection of the registry; "
        "expected one of ['activities', 'contacts', 'deals', 'invoice_lines', 'invoices', 'order_lines', 'orders', "
        "'organisations', 'tags', 'tasks', 'temp_imports', 'users']"
    )


def test_check_names_the_line_of_a_yaml_error_and_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "collections.yaml"
    path.write_text("connection_id: x\ncollections:\n  deals: [\n")
    assert main(["registry", "check", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"{path}:4:1: not valid YAML: ")
    assert main(["registry", "check", str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'nope.yaml'}: cannot read the collections registry: No such file or directory\n"
    )


def test_check_without_a_file_checks_the_registry_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "check"]) == 0
    assert capsys.readouterr().out == f"ok {DEFAULT_REGISTRY}: 12 collection(s) on connection(s) automation_db\n"
    configured = tmp_path / "mine.yaml"
    configured.write_text("collections: {users: {table: crm.users, columns: {id: integer}}}\n")
    monkeypatch.setenv("AIRFLOW__AUTOMATION__COLLECTIONS_FILE", str(configured))
    assert main(["registry", "check"]) == 0
    assert capsys.readouterr().out == f"ok {configured}: 1 collection(s) on connection(s) automation_db\n"


def test_check_database_finds_the_demo_registry_matches_the_demo_crm(
    migrated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "check", "--database"]) == 0
    assert capsys.readouterr().out == (
        f"ok {DEFAULT_REGISTRY}: 12 collection(s) on connection(s) automation_db; the database(s) match\n"
    )


def test_check_database_says_where_the_registry_and_its_databases_disagree(
    sales: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "collections.yaml"
    registry = {
        "connection_id": sales,
        "collections": {
            "customers": {"table": "sales.customers", "primary_key": "name",
                          "columns": {"id": "number", "name": "string", "vip": "string", "email": "string"}},
            "invoices": {"table": "sales.invoices", "columns": {"id": "integer", "pdf": "string"}},
            "refunds": {"table": "sales.refunds", "columns": {"id": "integer"}},
            "tags": {"table": "sales.invoice_tags", "primary_key": "tag", "columns": {"tag": "string"}},
            "deals": {"table": "crm.deals", "columns": {"id": "integer"}},
            "big_invoices": {"table": "sales.big_invoices", "columns": {"id": "integer", "total": "number"}},
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(registry))
    assert main(["registry", "check", str(path), "--database"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: collections.deals.table: schema \"crm\" does not exist in the database of connection 'sales_db'",
        f"{path}: collections.customers.columns.email: sales.customers has no column 'email'; its columns: "
        "['created_at', 'id', 'name', 'updated_at', 'vip']",
        f"{path}: collections.customers.columns.vip: sales.customers.vip is boolean: its registry type is "
        "'boolean', not 'string'",
        f"{path}: collections.customers.primary_key: sales.customers's primary key is 'id', not 'name'",
        f"{path}: collections.invoices.columns.pdf: sales.invoices.pdf is bytea, which has no registry type",
        f"{path}: collections.refunds.table: no table sales.refunds in the database of connection 'sales_db'",
        f"6 difference(s) between {path} and its database(s)",
    ]
    # a composite key: the registry's choice of one of its columns stands; `id` read as a number is fine;
    # a view (read through its columns) is there


def test_check_database_on_an_unreachable_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_DOWN_DB", f"postgresql://u:secret@127.0.0.1:{port}/x")
    path = tmp_path / "collections.yaml"
    path.write_text("connection_id: down_db\ncollections: {users: {table: crm.users, columns: {id: integer}}}\n")
    assert main(["registry", "check", str(path), "--database"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read the database of connection 'down_db' at 127.0.0.1:{port}/x: ")
    assert len(err.splitlines()) == 1 and "secret" not in err


@pytest.mark.usefixtures("airflow_db")
def test_discover_through_a_connection_stored_in_airflow(
    sales: str, pg: EmbeddedPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """No `AIRFLOW_CONN_*`: the connection `airflow connections add` stored in Airflow's metadata database."""
    from airflow.models.connection import Connection

    from automation.airflow_adapter.db import airflow_session

    with airflow_session() as session:
        session.query(Connection).filter(Connection.conn_id == "sales_stored").delete()
        session.add(Connection(conn_id="sales_stored", uri=pg.url("discover_cli")))
    try:
        code, out, _ = _discover(capsys, "--conn", "sales_stored", "--schema", "sales", "--table", "customers")
        assert code == 0
        registry = CollectionsRegistry.model_validate(yaml.safe_load(out))
        assert (registry.connection_id, sorted(registry.collections)) == ("sales_stored", ["customers"])
    finally:
        with airflow_session() as session:
            session.query(Connection).filter(Connection.conn_id == "sales_stored").delete()
