"""dlt's DuckDB destination, loading JSON Lines with the columns dlt's schema already knows.

dlt loads a JSON Lines file into DuckDB with ``read_json(file)``, which guesses the columns and
their types from the file's first 20,480 rows. That cost and that guess are both avoidable: dlt
has just written the file from its own schema.

* The guess fails a load: a key first seen after those rows (a field the service adds shows up
  on the bookings updated last, the end of a walk) is an "unknown key" to DuckDB 2.0, which
  stops the load, and DuckDB 1.5 drops its values without a word
  (tests/test_sync.py::test_a_field_first_seen_past_duckdbs_sample_is_loaded).
* Reading with the columns given takes a third of the time: 0.08-0.13 s instead of 0.23-0.30 s
  for the 10,000 rows of ``bookings`` (benchmarks/sync.py, limit lifted; DuckDB alone on the
  normalized file), and about as much again for the two child tables.

Everything else is dlt's: the same client, SQL, merge and state. The pipeline state records the
destination as dlt's ``duckdb``, so the pipeline also opens with dlt alone.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from dlt.common.configuration import configspec
from dlt.common.destination.client import LoadJob
from dlt.common.destination.reference import DestinationReference
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.destinations import duckdb as dlt_duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbClientConfiguration, DuckDbCredentials
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

__all__ = ["duckdb"]

# dlt's types whose JSON form, as dlt writes it, read_json reads into the column's type as they
# are. A table with any other (binary as base64 text, decimals as strings...) keeps dlt's load.
_READ_AS_WRITTEN = {"text", "bigint", "double", "bool", "timestamp", "date", "json"}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _JsonLinesCopyJob(DuckDbCopyJob):
    def run(self) -> None:
        client = self._job_client
        assert isinstance(client, DuckDbClient)
        table = self._load_table
        mapper = client.type_mapper
        columns = ", ".join(
            f"{_literal(name)}: {_literal(mapper.to_destination_type(column, table))}"
            for name, column in table["columns"].items()
            if "data_type" in column
        )
        sql = client.sql_client
        sql.execute_sql(
            f"INSERT INTO {sql.make_qualified_table_name(self.load_table_name)} BY NAME "
            f"SELECT * FROM read_json({_literal(self._file_path)}, "
            f"format='newline_delimited', columns={{{columns}}})"
        )


class _Client(DuckDbClient):
    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        if (
            isinstance(job, DuckDbCopyJob)
            and ParsedLoadJobFileName.parse(file_path).file_format == "jsonl"
            and all(
                column.get("data_type", "text") in _READ_AS_WRITTEN
                for column in table["columns"].values()
            )
        ):
            return _JsonLinesCopyJob(file_path)
        return job


# The file of each connection handed to the destination, asked once.
_FILES: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


@configspec(init=False)
class _Credentials(DuckDbCredentials):
    """dlt's; the file of a connection handed in is asked of the connection once. dlt resolves
    a destination's credentials about 60 times in a sync (each step, each client) and asked the
    connection each time (`select path from duckdb_databases()`, 2.3 ms each: 0.14 s of a lifted
    sync of 10,000 bookings, benchmarks/sync.py; 60 queries -> 1 by cProfile)."""

    @staticmethod
    def _external_conn_database(conn: Any) -> str:
        file = _FILES.get(conn)
        if file is None:
            file = _FILES[conn] = DuckDbCredentials._external_conn_database(conn)
        return file


@configspec(init=False)
class _Configuration(DuckDbClientConfiguration):
    credentials: _Credentials = None  # type: ignore[assignment]


class duckdb(dlt_duckdb):
    """dlt's DuckDB destination; JSON Lines files are read with their columns given. (Named
    like dlt's: the destination's name is its class's, and its configuration sections say
    ``duckdb``.)"""

    spec = _Configuration

    @property
    def client_class(self) -> type[DuckDbClient]:
        return _Client

    @property
    def destination_type(self) -> str:
        return DestinationReference.normalize_type("duckdb")  # dlt's own, in the state
