"""`callcenter asterisk-conf render`: the Asterisk configuration this service expects.

Rendered, not hand-kept, because most of it is data the service owns: the queues of
the legacy directory and of the IVR flow, the numbers agents may transfer to (the units'
lines, emergency services), one PJSIP endpoint per seat, and the AMI user the service
logs in as. Templates live in asterisk-conf/templates/; placeholders are `@@NAME@@`
because `${...}` is the dialplan's own syntax. Secrets come from the settings (that is,
the environment) and are never written to the repo.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from agi.ivr.catalog import load_catalog
from agi.ivr.model import Flow, load_flow_file
from agi.ivr.store import FlowStore
from callcenter import migrate
from callcenter.config import Settings
from callcenter.db import create_engine, session_factory
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.queues import QueueCatalog, asterisk_queue
from callcenter.legacy.repository import LegacyRepository
from callcenter.private_files import write_file
from callcenter.records.kpi import SL_SECONDS

TEMPLATES = Path(__file__).resolve().parent.parent / "asterisk-conf" / "templates"
EMERGENCY = {"110": "police", "119": "fire", "120": "ambulance", "122": "traffic accident"}
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
_EXTENSION = re.compile(r"[0-9]{2,10}")
_SAFE_VALUE = re.compile(r"[^\r\n;]*")
_UNSAFE_IN_COMMENT = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class RenderError(ValueError):
    """Inputs that would produce a configuration Asterisk (or a caller) would suffer from."""


#: Files that hold a secret: readable by owner and group only.
SECRET_FILES = frozenset(
    {"manager.conf", "pjsip.conf", "cdr_pgsql.conf", "cel_pgsql.conf", "res_pgsql.conf"}
)
SECRET_FILE_MODE = 0o640
PLAIN_FILE_MODE = 0o644


@dataclass(frozen=True)
class LedgerDb:
    """The PostgreSQL database Asterisk writes its own ledger into (CDR, CEL, queue_log,
    in schema `asterisk`), as Asterisk reaches it: the service's database unless the
    operator gives another address or a role of its own."""

    host: str
    port: int
    dbname: str
    user: str
    password: str | None = None


def ledger_db(url: str) -> LedgerDb | None:
    """The ledger's database from an SQLAlchemy URL; None for SQLite, which Asterisk
    cannot write into (the embedded default: only the bundled simulator keeps a ledger
    there)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise RenderError("ledger database: not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return None
    if backend != "postgresql":
        raise RenderError(f"ledger database: Asterisk writes PostgreSQL only, not {backend}")
    if not parsed.database or not parsed.username:
        raise RenderError("ledger database: the URL needs a user and a database name")
    return LedgerDb(
        host=parsed.host or "localhost",
        port=parsed.port or 5432,
        dbname=parsed.database,
        user=parsed.username,
        password=parsed.password if isinstance(parsed.password, str) else None,
    )


def _ledger_files(db: LedgerDb) -> dict[str, str]:
    """cdr_pgsql, cel_pgsql and res_pgsql (for queue_log) with one connection each, and
    the UTC settings: the service treats every ledger time as UTC."""

    def connection(keys: tuple[str, str, str, str, str]) -> str:
        values = (db.host, str(db.port), db.dbname, db.user, db.password)
        return "\n".join(
            f"{key} = {_value('ledger ' + key, value)}"
            for key, value in zip(keys, values, strict=True)
            if value is not None
        )

    modules = ("hostname", "port", "dbname", "user", "password")
    realtime = ("dbhost", "dbport", "dbname", "dbuser", "dbpass")
    return {
        "cdr_pgsql.conf": _fill(
            _template("cdr_pgsql.conf.in"), {"CONNECTION": connection(modules)}
        ),
        "cel_pgsql.conf": _fill(
            _template("cel_pgsql.conf.in"), {"CONNECTION": connection(modules)}
        ),
        "res_pgsql.conf": _fill(
            _template("res_pgsql.conf.in"), {"CONNECTION": connection(realtime)}
        ),
        "extconfig.conf": _template("extconfig.conf.in"),
        "logger.conf": _template("logger.conf.in"),
    }


@dataclass(frozen=True)
class ConfInputs:
    agi_url: str
    default_queue: str
    queues: tuple[str, ...]
    #: number → what it is (unit or emergency service), for the transfer whitelist
    transfer_targets: Mapping[str, str]
    seats: tuple[str, ...]
    trunk_host: str
    ami_user: str
    ami_secret: str
    ami_permits: tuple[str, ...] = ("127.0.0.1",)
    ami_port: int = 5038
    ami_bind: str = "127.0.0.1"
    sip_bind: str = "0.0.0.0:5060"
    sip_secret: str | None = None
    max_wait_s: int = 1800
    #: each queue's section (strategy, wrap-up) comes from its catalogue row
    catalog: QueueCatalog = field(default_factory=QueueCatalog.default)
    #: where Asterisk writes its own ledger; None: no ledger files (SQLite)
    ledger: LedgerDb | None = None


def _template(name: str) -> str:
    path = TEMPLATES / name
    if not path.is_file():
        raise RenderError(f"template {path} not found (run from a checkout of the repo)")
    return path.read_text(encoding="utf-8")


def _fill(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise RenderError(f"template placeholder @@{key}@@ has no value")
        return values[key]

    return _PLACEHOLDER.sub(one, text)


def _value(name: str, value: str) -> str:
    """A config value must stay on its line and not start a comment."""
    if not _SAFE_VALUE.fullmatch(value):
        raise RenderError(f"{name}: {value!r} contains a line break or ';'")
    return value


def _comment(text: str) -> str:
    """A label in a comment, kept on its line: an old directory row (import refuses
    these characters now) must not stop the configuration of every other one."""
    return _UNSAFE_IN_COMMENT.sub(" ", text)


def seat_password(sip_secret: str, extension: str) -> str:
    """Per-seat SIP password, derived so that nothing but one secret has to be kept."""
    digest = hmac.new(sip_secret.encode(), f"seat:{extension}".encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def parse_seats(spec: str) -> tuple[str, ...]:
    """`1001-1060,2001` → the extensions; RenderError on a malformed part."""
    seats: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        first, _, last = part.partition("-")
        if not _EXTENSION.fullmatch(first) or (last and not _EXTENSION.fullmatch(last)):
            raise RenderError(f"seats: {part!r} is not an extension or a range a-b")
        if not last:
            seats.append(first)
            continue
        if len(first) != len(last) or int(last) < int(first) or int(last) - int(first) > 5000:
            raise RenderError(f"seats: range {part!r} is not ascending (max 5000 seats)")
        seats.extend(str(n).zfill(len(first)) for n in range(int(first), int(last) + 1))
    if len(set(seats)) != len(seats):
        raise RenderError("seats: an extension is listed twice")
    return tuple(seats)


def transfer_targets(
    legacy: Iterable[tuple[str, str | None, str]], flow: Flow | None
) -> dict[str, str]:
    """Numbers agents may transfer to: emergency services, the flow's transfer numbers
    and each legacy number's `transfer_to` (dock/retain), labelled for the comment."""
    targets = dict(EMERGENCY)
    if flow is not None:
        for number in flow.transfer_numbers():
            targets.setdefault(number, "IVR transfer")
    for _number, transfer_to, unit in legacy:
        if transfer_to:
            targets.setdefault(transfer_to, unit)
    return targets


def _queue_sections(inputs: ConfInputs) -> str:
    """One queues.conf section per queue, with its catalogue row's strategy and wrap-up;
    `servicelevel` is the city's SL15 threshold (callcenter/records/kpi.py) on every
    queue, so app_queue's own service-level figure measures what the city assesses."""
    template = _template("queue.in")
    sections = []
    for name in sorted(inputs.queues):
        row = inputs.catalog.by_asterisk(name)
        if row is None:
            raise RenderError(
                f"queue {name} is not in the queue catalogue: add it with "
                f"`callcenter queues add {name.removeprefix('hotline-')} ...`"
            )
        values = {
            "NAME": name,
            "STRATEGY": row.strategy,
            "WRAPUP": str(row.wrapup_s),
            "SERVICELEVEL": str(SL_SECONDS),
        }
        sections.append(_fill(template, values))
    return "\n".join(sections)


def render(inputs: ConfInputs) -> dict[str, str]:
    """File name → text of every file Asterisk needs from us."""
    if inputs.default_queue not in inputs.queues:
        raise RenderError(f"default queue {inputs.default_queue} is not among the queues")
    for queue in inputs.queues:
        if not re.fullmatch(r"hotline-[a-z0-9][a-z0-9-]{0,38}", queue):
            raise RenderError(f"queue name {queue!r} is not an Asterisk hotline-* name")
    if inputs.seats and not inputs.sip_secret:
        raise RenderError("seats need CALLCENTER_SIP_SECRET (their passwords derive from it)")
    if not inputs.ami_secret:
        raise RenderError("the AMI user needs a secret (first node of CALLCENTER_AMI_NODES)")
    targets = "\n".join(
        f"exten => {number},1,Dial(PJSIP/${{EXTEN}}@trunk,60)   ; {_comment(label)}"
        for number, label in sorted(inputs.transfer_targets.items())
        if number.isdigit()
    )
    seat_extens = "\n".join(
        f"exten => {ext},1,Dial(PJSIP/{ext},30)\n same => n,Hangup()" for ext in inputs.seats
    )
    extensions = _fill(
        _template("extensions.conf.in"),
        {
            "AGI_URL": _value("agi url", inputs.agi_url),
            "DEFAULT_QUEUE": inputs.default_queue,
            "MAX_WAIT": str(inputs.max_wait_s),
            "TRANSFER_TARGETS": targets,
            "SEAT_EXTENSIONS": seat_extens or "; (no seats configured)",
        },
    )
    queues = _fill(_template("queues.conf.in"), {"QUEUES": _queue_sections(inputs)})
    manager = _fill(
        _template("manager.conf.in"),
        {
            "AMI_PORT": str(inputs.ami_port),
            "AMI_BIND": _value("ami bind", inputs.ami_bind),
            "AMI_USER": _value("ami user", inputs.ami_user),
            "AMI_SECRET": _value("ami secret", inputs.ami_secret),
            "AMI_PERMITS": "\n".join(
                f"permit = {_value('permit', p)}/255.255.255.255" for p in inputs.ami_permits
            ),
        },
    )
    seat_template = _template("seat.in")
    pjsip = _fill(
        _template("pjsip.conf.in"),
        {
            "SIP_BIND": _value("sip bind", inputs.sip_bind),
            "TRUNK_HOST": _value("trunk host", inputs.trunk_host),
            "SEATS": "\n".join(
                _fill(
                    seat_template,
                    {"EXT": ext, "PASSWORD": seat_password(inputs.sip_secret or "", ext)},
                )
                for ext in inputs.seats
            ),
        },
    )
    files = {
        "extensions.conf": extensions,
        "queues.conf": queues,
        "manager.conf": manager,
        "pjsip.conf": pjsip,
        "cdr.conf": _template("cdr.conf.in"),
        "cdr_manager.conf": _template("cdr_manager.conf.in"),
        "cel.conf": _template("cel.conf.in"),
    }
    if inputs.ledger is not None:
        files.update(_ledger_files(inputs.ledger))
    return files


def write(out: Path, files: Mapping[str, str]) -> list[Path]:
    """Write the files; the ones holding secrets readable by owner and group (Asterisk's)
    only, from the moment they exist (each file is written whole under a temporary
    name with its final mode, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(files.items()):
        path = out / name
        write_file(path, text, SECRET_FILE_MODE if name in SECRET_FILES else PLAIN_FILE_MODE)
        written.append(path)
    return written


async def gather(
    settings: Settings,
    *,
    seats: tuple[str, ...],
    trunk_host: str,
    agi_url: str | None = None,
    ami_permits: tuple[str, ...] = ("127.0.0.1",),
    ledger_url: str | None = None,
) -> ConfInputs:
    """Everything `render` needs, from the database (legacy directory, IVR flow
    override) and the settings (addresses, secrets). The ledger goes into the service's
    own database unless `ledger_url` names it as Asterisk reaches it."""
    ledger = ledger_db(ledger_url or settings.database_url)
    if agi_url is None:
        if settings.agi_host in ("0.0.0.0", "::", ""):
            raise RenderError(
                f"CALLCENTER_AGI_HOST={settings.agi_host!r} is a wildcard: give --agi-url "
                "with the address Asterisk should connect to"
            )
        agi_url = f"agi://{settings.agi_host}:{settings.agi_port}"
    node = settings.ami_nodes[0]
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        records = await LegacyRepository(sessions, lambda: datetime.now(UTC)).records()
        queue_catalog = await CatalogStore(sessions, lambda: datetime.now(UTC)).load()
        catalog = load_catalog()
        store = FlowStore(
            catalog,
            sessions,
            lambda: datetime.now(UTC),
            load_flow_file(catalog, settings.ivr_flow_file, queues=queue_catalog),
            queues=lambda: queue_catalog,
        )
        flow = await store.reload()
    finally:
        await engine.dispose()
    used = {asterisk_queue(r.queue) for r in records} | flow.queues()
    missing = sorted(used - queue_catalog.asterisk_names)
    if missing:
        raise RenderError(
            f"the directory or the IVR flow uses queues the catalogue lacks: {', '.join(missing)}"
        )
    queues = tuple(sorted(queue_catalog.asterisk_names))
    legacy = ((r.number, r.transfer_to, f"{r.unit_code} {r.unit}") for r in records)
    return ConfInputs(
        agi_url=agi_url,
        default_queue=flow.general_queue,
        queues=tuple(sorted(queues)),
        transfer_targets=transfer_targets(legacy, flow),
        seats=seats,
        trunk_host=trunk_host,
        ami_user=node.username,
        ami_secret=node.secret.get_secret_value() if node.secret is not None else "",
        ami_permits=ami_permits,
        ami_port=node.port,
        sip_secret=settings.sip_secret.get_secret_value() if settings.sip_secret else None,
        ledger=ledger,
        catalog=queue_catalog,
    )


def default_extensions() -> str:
    """The dialplan with the embedded defaults: agi://127.0.0.1:4573, the emergency
    services as the only transfer targets, no seats. It is committed as
    asterisk-conf/extensions.conf, which the bundled simulator reads (`serve --demo`)."""
    inputs = ConfInputs(
        agi_url="agi://127.0.0.1:4573",
        default_queue="hotline-general",
        queues=("hotline-general",),
        transfer_targets=dict(EMERGENCY),
        seats=(),
        trunk_host="127.0.0.2",
        ami_user="callcenter",
        ami_secret="unused",
    )
    return render(inputs)["extensions.conf"]
