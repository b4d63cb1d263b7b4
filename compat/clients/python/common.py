"""Shared helpers for the Python client scenarios.

Every scenario prints `feature.detail: value` lines (see compat/run-clients.py);
values must be deterministic so the runner can compare PostgreSQL 15 and
RustyDB line by line. A failing check prints `ERROR <sqlstate or class>`.
"""
import os
import sys

HOST = os.environ.get("COMPAT_HOST", "127.0.0.1")
PORT = int(os.environ.get("COMPAT_PORT", "5432"))
USER = os.environ.get("COMPAT_USER", "compat")
PASSWORD = os.environ.get("COMPAT_PASSWORD", "compat-pw")
DB = os.environ.get("COMPAT_DB", "compat")


def out(key, value):
    print(f"{key}: {value}", flush=True)


def err(e):
    code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
    if code is None and getattr(e, "orig", None) is not None:
        code = getattr(e.orig, "sqlstate", None)
    if code:
        # The message goes to stderr (not compared: wording may differ).
        print(f"ERROR {code}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return f"ERROR {code}"
    return f"ERROR {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def check(key, fn):
    """Runs fn(); prints its value or the error it raised."""
    try:
        out(key, fn())
    except Exception as e:  # noqa: BLE001 - any failure is a result line
        out(key, err(e))


async def acheck(key, coro):
    try:
        out(key, await coro)
    except Exception as e:  # noqa: BLE001
        out(key, err(e))


TYPE_SQL = [
    # (name, cast, python value)
    ("int", "int4", None),
    ("bigint", "int8", None),
    ("numeric", "numeric", None),
    ("float", "float8", None),
    ("bool", "bool", None),
    ("text", "text", None),
    ("bytea", "bytea", None),
    ("date", "date", None),
    ("timestamptz", "timestamptz", None),
    ("interval", "interval", None),
    ("uuid", "uuid", None),
    ("json", "json", None),
    ("jsonb", "jsonb", None),
    ("int_array", "int4[]", None),
    ("text_array", "text[]", None),
]


def values():
    import datetime
    import decimal
    import uuid

    return {
        "int": -42,
        "bigint": 9007199254740993,
        "numeric": decimal.Decimal("12345.6789"),
        "float": 1.5e-3,
        "bool": True,
        "text": "héllo 'q'",
        "bytea": b"\x00\xff\x10",
        "date": datetime.date(2024, 2, 29),
        "timestamptz": datetime.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=datetime.timezone.utc),
        "interval": datetime.timedelta(days=2, hours=1, minutes=2, seconds=3, microseconds=4),
        "uuid": uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "json": {"k": True},
        "jsonb": {"a": [1, 2, None], "b": "x"},
        "int_array": [1, None, 3],
        "text_array": ["a", "b c"],
    }


def norm(v):
    """A stable text form of a Python value."""
    import datetime

    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        return v.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(v, (bytes, memoryview, bytearray)):
        return bytes(v).hex()
    return repr(v)


def main_guard(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        out("scenario.aborted", err(e))
        sys.exit(0)
