"""`callcenter asterisk-conf render`: the Asterisk configuration this service expects.

Rendered, not hand-kept, because most of it is data the service owns: the queues of
the legacy directory and of the IVR flow, the numbers agents may transfer to (the units'
lines, emergency services), the provisioned seats (one PJSIP endpoint per PJSIP seat,
on the node the seat belongs to), the AMI user the service logs in as, and where calls
are recorded. One configuration per AMI node: each Asterisk gets its own seats and its
own manager.conf. Templates live in asterisk-conf/templates/; placeholders are
`@@NAME@@` because `${...}` is the dialplan's own syntax. Secrets come from the settings
(that is, the environment) and are never written to the repo.

Everything wrong with the settings, the options and the seats is collected and reported
at once (`RenderProblems`), so an operator fixes them in one go, not one run each.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine

from agi.ivr.catalog import load_catalog
from agi.ivr.model import Flow, load_flow_file
from agi.ivr.store import FlowStore
from callcenter.clock import DEFAULT_TIMEZONE
from callcenter.config import AmiNode, Settings, is_loopback
from callcenter.db import session_factory
from callcenter.from110 import From110
from callcenter.legacy.catalog_store import CatalogStore
from callcenter.legacy.queues import QueueCatalog, asterisk_queue
from callcenter.legacy.repository import LegacyRepository
from callcenter.private_files import write_file
from callcenter.records.kpi import SL_SECONDS
from callcenter.transfers.targets import EMERGENCY, transfer_whitelist
from queues.repository import SeatRepository

TEMPLATES = Path(__file__).resolve().parent.parent / "asterisk-conf" / "templates"
_PLACEHOLDER = re.compile(r"@@([A-Z0-9_]+)@@")
_EXTENSION = re.compile(r"[0-9]{2,10}")
#: what a seat's interface may hold in `Dial(...)`: no argument separator, no comment
_INTERFACE = re.compile(r"[A-Za-z0-9]+/[A-Za-z0-9_.@/+:-]{1,100}")
_ENDPOINT = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
#: formats Asterisk writes (app_queue's monitor-format is at most 7 characters)
RECORDING_FORMATS = ("wav", "wav16", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "g722")
_RECORDING_DIR = re.compile(r"/[A-Za-z0-9_./-]*")
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
class SeatConf:
    """A provisioned seat as Asterisk needs it: its extension and what Asterisk dials."""

    extension: str
    interface: str

    @property
    def endpoint(self) -> str | None:
        """The PJSIP endpoint the interface dials; None for another technology (a
        `Local/1001@agents/n` seat rings whatever that context dials: no endpoint)."""
        tech, _, resource = self.interface.partition("/")
        return resource if tech.upper() == "PJSIP" else None

    def dialable(self) -> bool:
        """The extension and interface can go into the dialplan and pjsip.conf as they
        are: `Dial(<interface>,30)` with no argument separator or comment in it, and a
        PJSIP endpoint name that can be a section name."""
        endpoint = self.endpoint
        return (
            _EXTENSION.fullmatch(self.extension) is not None
            and _INTERFACE.fullmatch(self.interface) is not None
            and (endpoint is None or _ENDPOINT.fullmatch(endpoint) is not None)
        )


@dataclass(frozen=True)
class Recording:
    """Calls recorded by app_queue when an agent answers (queues.conf `monitor-format`,
    file name from the caller's MONITOR_FILENAME: app_queue.c setup_mixmonitor starts
    MixMonitor with option `b`, bridged audio only, and MixMonitor sets
    MIXMONITOR_FILENAME, which the call record keeps). One file per call, named by its
    Linkedid, in a folder per city day: `<pbx_dir>/Y/m/d/<Linkedid>.<format>`."""

    format: str = "wav"
    pbx_dir: str = "/var/spool/asterisk/monitor/hotline"
    timezone: str = DEFAULT_TIMEZONE

    def monitor_filename(self) -> str:
        """MONITOR_FILENAME as the dialplan sets it (app_queue adds `.<format>`)."""
        day = f"${{STRFTIME(${{EPOCH}},{self.timezone},%Y/%m/%d)}}"
        return f"{self.pbx_dir.rstrip('/')}/{day}/${{CHANNEL(linkedid)}}"


@dataclass(frozen=True)
class ConfInputs:
    """What one Asterisk node's configuration is rendered from."""

    agi_url: str
    default_queue: str
    queues: tuple[str, ...]
    #: number → what it is (unit or emergency service), for the transfer whitelist
    transfer_targets: Mapping[str, str]
    #: this node's seats
    seats: tuple[SeatConf, ...]
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
    #: None: calls are not recorded (no MixMonitor; records keep an empty recording)
    recording: Recording | None = None
    #: which inbound calls are the 110 platform's hand-overs (none by default)
    from_110: From110 = field(default_factory=From110)


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


def seat_password(sip_secret: str, endpoint: str) -> str:
    """Per-seat SIP password, derived so that nothing but one secret has to be kept."""
    digest = hmac.new(sip_secret.encode(), f"seat:{endpoint}".encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def _permit_lines(permits: Sequence[str]) -> str:
    """manager.conf permit lines after the template's deny-all for both families (an
    IPv4 rule never applies to an IPv6 client, and a client no rule matches is let in:
    acl.c ast_apply_ha): IPv4 with a dotted netmask as manager.conf.sample writes them,
    IPv6 with a prefix length."""
    lines: list[str] = []
    for permit in permits:
        try:
            network = ipaddress.ip_network(permit, strict=False)
        except ValueError as exc:
            raise RenderError(f"AMI permit {permit!r} is not an address or a network") from exc
        mask = network.netmask if network.version == 4 else network.prefixlen
        lines.append(f"permit = {network.network_address}/{mask}")
    return "\n".join(lines)


def _recording_line(recording: Recording | None) -> str:
    if recording is None:
        return "; calls are not recorded"
    return f" same => n,Set(MONITOR_FILENAME={recording.monitor_filename()})"


def transfer_targets(
    legacy: Iterable[tuple[str, str | None, str]], flow: Flow | None
) -> dict[str, str]:
    """Numbers agents may transfer to (callcenter.transfers.targets, the one
    whitelist), labelled for the comment."""
    numbers = flow.transfer_numbers() if flow is not None else ()
    return {n: t.name for n, t in transfer_whitelist(legacy, numbers).items()}


def _queue_sections(inputs: ConfInputs) -> str:
    """One queues.conf section per queue, with its catalogue row's strategy and wrap-up;
    `servicelevel` is the city's SL15 threshold (callcenter/records/kpi.py) on every
    queue, so app_queue's own service-level figure measures what the city assesses."""
    template = _template("queue.in") + (
        f"monitor-format = {inputs.recording.format}\n" if inputs.recording else ""
    )
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
    endpoints = [(seat, seat.endpoint) for seat in inputs.seats if seat.endpoint is not None]
    if endpoints and not inputs.sip_secret:
        raise RenderError("seats need CALLCENTER_SIP_SECRET (their passwords derive from it)")
    for seat in inputs.seats:
        if not seat.dialable():
            raise RenderError(f"seat {seat.extension}: cannot dial {seat.interface!r}")
    if not inputs.ami_secret:
        raise RenderError("the AMI user needs a secret (CALLCENTER_AMI_NODES)")
    # a caller an agent blind-transferred (it carries HOTLINE_QUEUE; a seat dialling out
    # and Atxfer's Local channels do not) goes back to its queue if nobody answers
    targets = "\n".join(
        f"exten => {number},1,Dial(PJSIP/${{EXTEN}}@trunk,60)   ; {_comment(label)}\n"
        ' same => n,GotoIf($["${DIALSTATUS}" != "ANSWER" & "${HOTLINE_QUEUE}" != ""]'
        "?hotline-queue,s,1)"
        for number, label in sorted(inputs.transfer_targets.items())
        if number.isdigit()
    )
    seat_extens = "\n".join(
        f"exten => {seat.extension},1,Dial({seat.interface},30)\n same => n,Hangup()"
        for seat in inputs.seats
    )
    extensions = _fill(
        _template("extensions.conf.in"),
        {
            "AGI_URL": _value("agi url", inputs.agi_url),
            "DEFAULT_QUEUE": inputs.default_queue,
            "MAX_WAIT": str(inputs.max_wait_s),
            "TRANSFER_TARGETS": targets,
            "SEAT_EXTENSIONS": seat_extens or "; (no seats configured)",
            "RECORDING": _recording_line(inputs.recording),
            "FROM_110": inputs.from_110.dialplan_lines(),
            "FROM_110_PRIORITY": str(inputs.from_110.priority),
        },
    )
    queues = _fill(_template("queues.conf.in"), {"QUEUES": _queue_sections(inputs)})
    try:
        ipaddress.ip_address(inputs.ami_bind)
    except ValueError as exc:
        raise RenderError(f"AMI bindaddr {inputs.ami_bind!r} is not an IP address") from exc
    manager = _fill(
        _template("manager.conf.in"),
        {
            "AMI_PORT": str(inputs.ami_port),
            "AMI_BIND": _value("ami bind", inputs.ami_bind),
            "AMI_USER": _value("ami user", inputs.ami_user),
            "AMI_SECRET": _value("ami secret", inputs.ami_secret),
            "AMI_PERMITS": _permit_lines(inputs.ami_permits),
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
                    {
                        "ENDPOINT": endpoint,
                        "EXT": seat.extension,
                        "PASSWORD": seat_password(inputs.sip_secret or "", endpoint),
                    },
                )
                for seat, endpoint in endpoints
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
        # transfers and three-party calls (callcenter/transfers/service.py)
        "features.conf": _template("features.conf.in"),
        "confbridge.conf": _template("confbridge.conf.in"),
        "indications.conf": _template("indications.conf.in"),
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


ProblemKind = Literal["configuration", "data"]


@dataclass(frozen=True)
class Problem:
    """One reason not to render. `configuration`: the settings or options (exit 2);
    `data`: what the database holds (exit 1)."""

    kind: ProblemKind
    message: str


class RenderProblems(Exception):
    """Every problem found, reported together."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)

    @property
    def configuration(self) -> bool:
        return any(p.kind == "configuration" for p in self.problems)


@dataclass(frozen=True)
class RenderOptions:
    """The command line's overrides of the settings."""

    trunk_host: str = "127.0.0.2"
    #: agi://HOST:PORT Asterisk connects to (default: CALLCENTER_AGI_HOST/PORT)
    agi_url: str | None = None
    #: manager.conf bindaddr of every node (default: settings, then the node's host)
    ami_bind: str | None = None
    #: manager.conf permits of every node (default: settings, then the service's address)
    ami_permits: tuple[str, ...] = ()
    #: the ledger's database as Asterisk reaches it (default: the service's)
    ledger_url: str | None = None


@dataclass(frozen=True)
class ProvisionedSeat:
    extension: str
    interface: str
    node: str


@dataclass(frozen=True)
class DatabaseContent:
    """What the configuration takes from the database."""

    seats: tuple[ProvisionedSeat, ...]
    queues: tuple[str, ...]
    default_queue: str
    transfer_targets: Mapping[str, str]
    catalog: QueueCatalog = field(default_factory=QueueCatalog.default)


async def read_database(engine: AsyncEngine, settings: Settings) -> DatabaseContent:
    """Seats (one query for all of them), the legacy directory and the IVR flow
    override, from a database already checked to be migrated."""
    sessions = session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    seats = await SeatRepository(sessions, clock).seats()
    records = await LegacyRepository(sessions, clock).records()
    queue_catalog = await CatalogStore(sessions, clock).load()
    catalog = load_catalog()
    store = FlowStore(
        catalog,
        sessions,
        clock,
        load_flow_file(catalog, settings.ivr_flow_file, queues=queue_catalog),
        queues=lambda: queue_catalog,
    )
    flow = await store.reload()
    used = {asterisk_queue(r.queue) for r in records} | flow.queues()
    missing = sorted(used - queue_catalog.asterisk_names)
    if missing:
        raise RenderError(
            f"the directory or the IVR flow uses queues the catalogue lacks: {', '.join(missing)}"
        )
    queues = queue_catalog.asterisk_names
    legacy = ((r.number, r.transfer_to, f"{r.unit_code} {r.unit}") for r in records)
    return DatabaseContent(
        seats=tuple(ProvisionedSeat(s.extension, s.interface, s.node) for s in seats),
        queues=tuple(sorted(queues)),
        default_queue=flow.general_queue,
        transfer_targets=transfer_targets(legacy, flow),
        catalog=queue_catalog,
    )


@dataclass(frozen=True)
class AmiAccess:
    """How the service reaches one node's AMI, and what manager.conf must allow."""

    node: str
    host: str
    port: int
    bindaddr: str
    permits: tuple[str, ...]
    #: the address the service connects from, as far as the settings tell
    service_address: str | None

    def needs(self) -> str:
        source = self.service_address or "this service's address"
        return (
            f"{self.node}: the service logs in to AMI at {self.host}:{self.port} from "
            f"{source}, so manager.conf binds {self.bindaddr} (reachable from there) "
            f"and permits {', '.join(self.permits)} (which must include {source})"
        )


@dataclass(frozen=True)
class NodePlan:
    name: str
    inputs: ConfInputs
    access: AmiAccess


@dataclass(frozen=True)
class RenderPlan:
    """Everything to render, one configuration per AMI node, and what to tell."""

    nodes: tuple[NodePlan, ...]
    agi_url: str
    ledger: LedgerDb | None
    recording: Recording | None
    warnings: tuple[str, ...]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `value` names; `localhost` is 127.0.0.1 (as config.is_loopback)."""
    try:
        return ipaddress.ip_address("127.0.0.1" if value == "localhost" else value)
    except ValueError:
        return None


def _name_seats(extensions: Sequence[str]) -> str:
    shown = ", ".join(extensions[:8])
    more = f", … ({len(extensions)} seats)" if len(extensions) > 8 else ""
    return shown + more


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def config(self, message: str) -> None:
        self.problems.append(Problem("configuration", message))

    def data(self, message: str) -> None:
        self.problems.append(Problem("data", message))


def _agi_url(settings: Settings, options: RenderOptions, out: _Collector) -> str:
    if options.agi_url is not None:
        parts = urlsplit(options.agi_url)
        if (
            parts.scheme != "agi"
            or not parts.hostname
            or not _SAFE_VALUE.fullmatch(options.agi_url)
        ):
            out.config(f"--agi-url {options.agi_url!r}: expected agi://HOST:PORT")
        return options.agi_url
    if settings.agi_host in ("0.0.0.0", "::", ""):
        out.config(
            f"CALLCENTER_AGI_HOST={settings.agi_host!r} is a wildcard: give --agi-url "
            "with the address Asterisk should connect to"
        )
    host = f"[{settings.agi_host}]" if ":" in settings.agi_host else settings.agi_host
    return f"agi://{host}:{settings.agi_port}"


def _access(
    node: AmiNode, settings: Settings, options: RenderOptions, agi_host: str, out: _Collector
) -> AmiAccess:
    """manager.conf's bindaddr and permits for `node`: the command line, then the node's
    own settings, then CALLCENTER_AMI_BINDADDR/PERMIT, then what the service's
    connection needs: bind the address the service connects to, permit the address
    Asterisk reaches the service at (CALLCENTER_AGI_HOST: the same machine)."""
    where = f"node {node.name}"
    host_ip = _ip(node.host)
    if host_ip is not None and host_ip.is_loopback:
        service: str | None = str(host_ip)
    else:
        agi_ip = _ip(agi_host)
        usable = agi_ip is not None and not agi_ip.is_loopback and not agi_ip.is_unspecified
        service = str(agi_ip) if usable else None
    bind = options.ami_bind or node.bindaddr or settings.ami_bindaddr
    if bind is None:
        if host_ip is None:
            out.config(
                f"{where}: host {node.host!r} is a name, and manager.conf needs an IP "
                "address to bind: set CALLCENTER_AMI_BINDADDR (or the node's bindaddr)"
            )
        bind = str(host_ip) if host_ip is not None else "127.0.0.1"
    bind_ip = _ip(bind)
    if bind_ip is None:
        out.config(f"{where}: AMI bindaddr {bind!r} is not an IP address")
    elif host_ip is not None and not bind_ip.is_unspecified:
        if bind_ip.is_loopback != host_ip.is_loopback:
            out.config(
                f"{where}: manager.conf would bind {bind}, but the service connects to "
                f"{node.host}:{node.port}, which cannot reach it"
            )
        elif bind_ip != host_ip:
            out.warnings.append(
                f"{where}: manager.conf binds {bind}, the service connects to {node.host} "
                "(fine behind address translation only)"
            )
    permits = list(options.ami_permits) or node.permit or settings.ami_permit
    if not permits:
        if service is None:
            out.config(
                f"{where}: which address the service connects from is unknown "
                f"(CALLCENTER_AGI_HOST={agi_host!r} is not one): set CALLCENTER_AMI_PERMIT "
                "(or the node's permit)"
            )
        permits = [service] if service is not None else []
    networks = []
    for permit in permits:
        try:
            networks.append(ipaddress.ip_network(permit, strict=False))
        except ValueError:
            out.config(f"{where}: AMI permit {permit!r} is not an address or a network")
    if service is not None and networks:
        address = ipaddress.ip_address(service)
        if not any(address in net for net in networks if net.version == address.version):
            message = (
                f"{where}: manager.conf would permit {', '.join(permits)}, not {service}, "
                "where the service connects from"
            )
            if address.is_loopback:
                out.config(message)
            else:
                out.warnings.append(message)
    return AmiAccess(node.name, node.host, node.port, bind, tuple(permits), service)


def _recording(settings: Settings, out: _Collector) -> Recording | None:
    if not settings.recording_enabled:
        return None
    if settings.recording_format not in RECORDING_FORMATS:
        out.config(
            f"CALLCENTER_RECORDING_FORMAT={settings.recording_format!r}: one of "
            f"{', '.join(RECORDING_FORMATS)}"
        )
    directory = settings.recording_pbx_dir
    if not _RECORDING_DIR.fullmatch(directory) or ".." in directory.split("/"):
        out.config(
            f"CALLCENTER_RECORDING_PBX_DIR={directory!r}: an absolute path of letters, "
            "digits, '_', '.', '-' and '/'"
        )
    return Recording(settings.recording_format, directory.rstrip("/") or "/", settings.timezone)


def from_110_rule(settings: Settings, out: _Collector) -> From110:
    """The hand-over rule from CALLCENTER_FROM_110_* (validated there already; a
    problem left is reported with the others)."""
    try:
        return settings.from_110()
    except ValueError as exc:
        out.config(f"CALLCENTER_FROM_110_*: {exc}")
        return From110()


def plan(settings: Settings, options: RenderOptions, content: DatabaseContent) -> RenderPlan:
    """One configuration per node of CALLCENTER_AMI_NODES, with that node's seats.

    Raises RenderProblems with every problem found: secrets missing, addresses that
    are not addresses or cannot reach each other, seats on a node the settings do not
    list, seats Asterisk could not dial, no seats at all."""
    out = _Collector()
    agi_url = _agi_url(settings, options, out)
    agi_host = urlsplit(agi_url).hostname or ""
    ledger: LedgerDb | None = None
    try:
        ledger = ledger_db(options.ledger_url or settings.database_url)
    except RenderError as exc:
        out.config(str(exc))
    recording = _recording(settings, out)
    from_110 = from_110_rule(settings, out)
    if not _SAFE_VALUE.fullmatch(options.trunk_host):
        out.config(f"--trunk-host {options.trunk_host!r} contains a line break or ';'")

    by_node: dict[str, list[SeatConf]] = {n.name: [] for n in settings.ami_nodes}
    unknown: dict[str, list[str]] = {}
    undialable: list[str] = []
    for seat in content.seats:
        conf = SeatConf(seat.extension, seat.interface)
        if not conf.dialable():
            undialable.append(f"{seat.extension} ({seat.interface!r})")
        if seat.node in by_node:
            by_node[seat.node].append(conf)
        else:
            unknown.setdefault(seat.node, []).append(seat.extension)
    if not content.seats:
        out.data(
            "the database has no seats: provision them first "
            "(`callcenter seats provision --count N --node NODE`)"
        )
    for node_name, extensions in sorted(unknown.items()):
        out.config(
            f"seats {_name_seats(extensions)} are on node {node_name!r}, which "
            f"CALLCENTER_AMI_NODES does not list ({', '.join(by_node)}): add the node, "
            "or provision the seats on a listed one"
        )
    if undialable:
        out.data(
            "seats whose interface Asterisk cannot dial as written (one of PJSIP/ENDPOINT "
            f"or TECH/RESOURCE, no ',' or ';'): {_name_seats(undialable)}"
        )
    has_endpoints = any(s.endpoint for seats in by_node.values() for s in seats)
    sip_secret = settings.sip_secret.get_secret_value() if settings.sip_secret else None
    if has_endpoints and not sip_secret:
        out.config("CALLCENTER_SIP_SECRET is not set: the PJSIP seats' passwords derive from it")

    nodes: list[NodePlan] = []
    for node in settings.ami_nodes:
        where = f"node {node.name}"
        secret = node.secret.get_secret_value() if node.secret is not None else ""
        if not secret:
            out.config(f"CALLCENTER_AMI_NODES: {where} has no secret (the AMI user's)")
        elif not _SAFE_VALUE.fullmatch(secret):
            out.config(f"CALLCENTER_AMI_NODES: {where}'s secret contains a line break or ';'")
        if not _SAFE_VALUE.fullmatch(node.username) or not node.username.strip():
            out.config(f"CALLCENTER_AMI_NODES: {where}'s username cannot be a section name")
        access = _access(node, settings, options, agi_host, out)
        if not is_loopback(node.host):
            node_ip = _ip(node.host)
            peers = [ipaddress.ip_network(p, strict=False) for p in settings.agi_allowed_peers]
            if node_ip is not None and peers and not any(node_ip in net for net in peers):
                out.warnings.append(
                    f"{where} at {node.host} is not in CALLCENTER_AGI_ALLOWED_PEERS: the "
                    "service refuses its FastAGI connections (its callers get the fallback)"
                )
            if is_loopback(agi_host):
                out.config(
                    f"{where} at {node.host} cannot reach FastAGI at {agi_url} (loopback): "
                    "set CALLCENTER_AGI_HOST, or give --agi-url"
                )
            if ledger is not None and is_loopback(ledger.host):
                out.config(
                    f"{where} at {node.host} cannot reach the ledger database at "
                    f"{ledger.host} (loopback): give --ledger-db as Asterisk reaches it"
                )
        if content.seats and not by_node[node.name]:
            out.warnings.append(f"{where} has no seats: its pjsip.conf has the trunk only")
        foreign = sorted(
            {
                s.interface.rsplit("@", 1)[1].split("/")[0]
                for s in by_node[node.name]
                if s.endpoint is None and "@" in s.interface
            }
        )
        if foreign:
            out.warnings.append(
                f"{where}: seats dial Local channels into context(s) {', '.join(foreign)}, "
                "which this configuration does not define: keep them in Asterisk"
            )
        nodes.append(
            NodePlan(
                node.name,
                ConfInputs(
                    agi_url=agi_url,
                    default_queue=content.default_queue,
                    queues=content.queues,
                    transfer_targets=content.transfer_targets,
                    catalog=content.catalog,
                    seats=tuple(by_node[node.name]),
                    trunk_host=options.trunk_host,
                    ami_user=node.username,
                    ami_secret=secret,
                    ami_permits=access.permits,
                    ami_port=node.port,
                    ami_bind=access.bindaddr,
                    sip_secret=sip_secret,
                    ledger=ledger,
                    recording=recording,
                    from_110=from_110,
                ),
                access,
            )
        )
    if ledger is not None and ledger.password is None:
        out.warnings.append(
            f"the ledger database URL has no password: Asterisk connects to {ledger.host} "
            f"as {ledger.user} without one (works with trust or peer authentication only)"
        )
    if out.problems:
        raise RenderProblems(out.problems)
    return RenderPlan(tuple(nodes), agi_url, ledger, recording, tuple(out.warnings))


def render_plan(rendering: RenderPlan) -> dict[str, dict[str, str]]:
    """Node name → its files; RenderError if any node's configuration cannot be
    rendered (then nothing is written)."""
    return {node.name: render(node.inputs) for node in rendering.nodes}


def write_nodes(out: Path, files: Mapping[str, Mapping[str, str]]) -> dict[str, list[Path]]:
    """Each node's files into `out/<node>/`."""
    return {node: write(out / node, node_files) for node, node_files in files.items()}


#: the number the demo's simulated 110 platform dials (pbxsim.demo); a deployment
#: names its own in CALLCENTER_FROM_110_NUMBERS
DEMO_FROM_110 = From110(numbers=("12345110",))


def default_extensions(from_110: From110 = DEMO_FROM_110) -> str:
    """The dialplan with the embedded defaults: agi://127.0.0.1:4573, the emergency
    services as the only transfer targets, no seats, and `from_110`'s hand-over (the
    demo's number by default). With that default it is committed as
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
        from_110=from_110,
    )
    return render(inputs)["extensions.conf"]
