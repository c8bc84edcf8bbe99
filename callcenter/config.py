"""All configuration, in one place.

Values come, highest priority first, from `CALLCENTER_*` environment variables, then an
optional TOML file (path in `CALLCENTER_CONFIG_FILE`), then the defaults below. The
defaults are the embedded demo: a SQLite file under `./var/` and the bundled simulator
as the PBX, so a fresh clone runs with no setup. No secret has a usable default except
nothing: `serve --demo` makes up a fresh AMI secret for its simulator on every start.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from callcenter import from110
from callcenter.clock import DEFAULT_TIMEZONE, zone

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/callcenter.db"
DEMO_AMI_USER = "callcenter"


class AmiNode(BaseModel):
    """One Asterisk server reached over AMI. Several make a multi-node deployment."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = DEMO_AMI_USER
    #: required for a real Asterisk; `serve --demo` generates one for its simulator
    secret: SecretStr | None = None
    #: `asterisk-conf render`: this node's manager.conf `bindaddr` and `permit`s,
    #: overriding CALLCENTER_AMI_BINDADDR / CALLCENTER_AMI_PERMIT for this node
    bindaddr: str | None = None
    permit: list[str] | None = None


class SecretSettingError(Exception):
    """A secret setting refused: raised as is, so that no message shows its value."""


#: the events the service announces to webhooks (callcenter/webhooks/; README)
WEBHOOK_EVENTS = (
    "call.offered",
    "call.answered",
    "call.intake",
    "call.ended",
    "callback.done",
)


class WebhookSubscription(BaseModel):
    """One receiver of webhooks (the province's work-order platform): where, the HMAC
    secret its signatures are checked with, and which events it wants."""

    model_config = ConfigDict(extra="forbid")

    #: names the subscription in the deliveries table and API; the URL if not given.
    #: Renaming one starts a new subscription (pending deliveries keep the old name)
    name: str | None = Field(default=None, min_length=1, max_length=64)
    url: str = Field(max_length=255)
    secret: SecretStr
    events: list[str] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an http:// or https:// URL, got {url!r}")
        return url

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 16:
            # not a ValueError: pydantic would print the refused value, the secret
            raise SecretSettingError(
                "CALLCENTER_WEBHOOKS: a subscription's secret must be at least 16"
                " characters (it is the HMAC-SHA256 key receivers check signatures with)"
            )
        return secret

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(
                f"unknown event(s) {unknown}; this version announces {list(WEBHOOK_EVENTS)}"
            )
        return events

    @property
    def key(self) -> str:
        """The subscription's name in the deliveries table."""
        return self.name or self.url


class Settings(BaseSettings):
    """The service's settings; see README.md for the table of variables."""

    model_config = SettingsConfigDict(
        env_prefix="CALLCENTER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = DEFAULT_DATABASE_URL
    #: the city's IANA time zone: the day cut, period buckets, dates read and written
    timezone: str = DEFAULT_TIMEZONE
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    #: the largest request body: every JSON body, and the legacy CSV import's (413 beyond)
    http_max_json_bytes: int = Field(default=64 * 1024, ge=1024)
    http_max_import_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: a connection whose request line and headers have not all come in this time is closed
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    #: an idle keep-alive connection is closed after this
    http_keepalive_timeout_s: int = Field(default=5, ge=1)
    #: open HTTP connections (WebSockets included) beyond which new ones are closed at
    #: once; 0: what the open-file limit leaves after the service's own files and AGI
    http_max_connections: int = Field(default=0, ge=0)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)
    #: concurrent FastAGI sessions; beyond it new ones are refused (the dialplan queues)
    agi_max_sessions: int = Field(default=500, ge=1, le=100000)
    #: concurrent FastAGI sessions from one address (a PBX node); the rest are refused
    agi_max_sessions_per_peer: int = Field(default=200, ge=1, le=100000)
    #: PBX addresses/networks (CIDR) allowed to connect to FastAGI; required unless
    #: `agi_host` is loopback (FastAGI has no authentication: see `_agi_exposure`)
    agi_allowed_peers: list[str] = Field(default_factory=list)
    #: seconds a FastAGI connection has to send its environment (Asterisk sends it at once)
    agi_env_timeout_s: float = Field(default=5.0, gt=0, le=60)
    agi_read_timeout_s: float = Field(default=10.0, gt=0)
    #: an IVR flow file replacing agi/ivr/flows.json (a database override still wins)
    ivr_flow_file: Path | None = None
    #: seats' SIP passwords derive from it (`asterisk-conf render`); never in the repo
    sip_secret: SecretStr | None = None
    ami_nodes: list[AmiNode] = Field(default_factory=lambda: [AmiNode(name="pbx1")])
    ami_timeout_s: float = Field(default=5.0, gt=0)
    #: `asterisk-conf render`: manager.conf `bindaddr` of every node (default: the
    #: node's `host`, the address the service connects to) and the addresses or
    #: networks it `permit`s (default: the address Asterisk reaches the service at)
    ami_bindaddr: str | None = None
    ami_permit: list[str] = Field(default_factory=list)
    #: how often the live model is checked against QueueStatus (0 = never)
    audit_interval_s: float = Field(default=300.0, ge=0)
    #: how often call records are reconciled with Asterisk's ledger (cdr, cel, queue_log
    #: in schema `asterisk` of the database), also at start and after every AMI
    #: (re)connect; 0 = never. Only with a single AMI node: the ledger has no node column
    reconcile_interval_s: float = Field(default=300.0, ge=0)
    log_level: str = "INFO"
    #: reverse proxies (addresses or networks) whose X-Forwarded-For is believed for the
    #: client address (audit log, access log); empty: the socket's peer, always
    trusted_proxies: list[str] = Field(default_factory=list)
    #: the API audit log keeps rows this many days (0: forever); purged hourly by serve
    audit_retention_days: int = Field(default=400, ge=0)

    # seats and queues (queues/)
    #: what Asterisk dials for a seat; {extension} is replaced
    seat_interface_template: str = "PJSIP/{extension}"
    #: pause reason codes agents may use (shown in reports as they are written here)
    seat_pause_reasons: list[str] = Field(
        default_factory=lambda: ["break", "meal", "training", "meeting", "after-call-work"]
    )
    #: concurrent AMI actions while logging seats in (a shift start, a repair)
    seat_login_concurrency: int = Field(default=64, ge=1, le=1000)
    #: not a setting: a queue's overflow is in the queue catalogue (refused when given,
    #: so a deployment that sets it learns where it is configured)
    queue_overflow_s: dict[str, float] = Field(default_factory=dict)
    #: an abandoned caller who waited longer than this joins the callback worklist
    callback_min_wait_s: float = Field(default=5.0, ge=0)
    callback_max_attempts: int = Field(default=3, ge=1, le=20)
    callback_retry_s: float = Field(default=600.0, gt=0)
    #: how a seat's phone reaches a caller's number ({number} is replaced)
    callback_dial_template: str = "PJSIP/{number}@trunk"
    #: caller priority (HOTLINE_PRIORITY -> QUEUE_PRIO): the highest applicable rule wins
    priority_repeat_within_h: float = Field(default=24.0, ge=0)
    priority_repeat: int = Field(default=2, ge=0, le=100)
    #: caller number -> priority (elderly / disabled residents' list)
    priority_numbers: dict[str, int] = Field(default_factory=dict)
    #: unit code -> priority (a unit flagged urgent)
    priority_units: dict[str, int] = Field(default_factory=dict)
    #: calls the 110 platform hands over (callcenter/from110.py; `asterisk-conf render`
    #: writes the rule into the dialplan): the numbers it dials (DIDs) and the PJSIP
    #: endpoints its trunk arrives on, the priority they queue with (above every other
    #: rule's), and the SIP header carrying 110's reference
    from_110_numbers: list[str] = Field(default_factory=list)
    from_110_trunks: list[str] = Field(default_factory=list)
    from_110_priority: int = Field(default=from110.DEFAULT_PRIORITY, ge=0, le=100)
    from_110_header: str = from110.DEFAULT_HEADER
    # call records: finished calls are journaled here until the database has them
    records_spool_dir: Path = Path("./var/records-spool")
    records_flush_every_s: float = Field(default=0.2, gt=0, le=60)
    records_batch_size: int = Field(default=500, ge=1, le=10000)
    #: how long after a call its agent writes the intake as the call's own (not a
    #: correction), at least: the seat's wrap-up when that is longer
    intake_wrapup_s: float = Field(default=120.0, ge=0, le=86400)
    #: `callcenter records purge` deletes records older than this (0: keep forever)
    records_retention_days: int = Field(default=730, ge=0)
    #: the largest share of the legacy directory one prune may remove without --force
    #: (API: force=true); 0 asks for it on every prune that removes a number
    legacy_prune_max_share: float = Field(default=0.10, ge=0, le=1)
    # call recordings (`asterisk-conf render` renders them; `records purge` deletes them)
    #: record every call an agent answers (app_queue's MixMonitor, bridged audio only)
    recording_enabled: bool = True
    recording_format: str = "wav"
    #: where Asterisk writes the recordings: <dir>/<city date Y/m/d>/<Linkedid>.<format>
    recording_pbx_dir: str = "/var/spool/asterisk/monitor/hotline"
    #: the same directory as this service sees it (a mount); unset: `records purge`
    #: cannot delete recordings and says so
    recordings_dir: Path | None = None
    #: receivers of signed webhooks (JSON list of {name, url, secret, events})
    webhooks: list[WebhookSubscription] = Field(default_factory=list)
    #: one POST waits this long for its answer
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    #: POSTs in flight at once, per instance (each to a different call)
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    #: a delivery is retried (exponential backoff with jitter) this long, then failed
    webhook_retry_hours: float = Field(default=24.0, gt=0, le=24 * 14)

    # the embedded demo (`serve --demo`): pbxsim as the PBX, with simulated traffic
    demo_seats: int = Field(default=60, ge=1, le=5000)
    demo_calls_per_hour: float = Field(default=800.0, ge=0)
    demo_speed: float = Field(default=1.0, gt=0, le=1000)
    demo_seed: int = 12345
    legacy_csv: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "CALLCENTER_DATABASE_URL must start with sqlite+aiosqlite:// or "
                f"postgresql+asyncpg:// (got {url.split(':', 1)[0]!r})"
            )
        return url

    @field_validator("agi_allowed_peers")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"CALLCENTER_AGI_ALLOWED_PEERS: {entry!r} is not an address or a network "
                    "(e.g. 10.0.0.11 or 10.0.0.0/24)"
                ) from exc
        return entries

    @field_validator("from_110_numbers")
    @classmethod
    def _from_110_numbers(cls, numbers: list[str]) -> list[str]:
        bad = [n for n in numbers if not from110.NUMBER.fullmatch(n)]
        if bad:
            raise ValueError(
                f"CALLCENTER_FROM_110_NUMBERS: {bad} are not dialed numbers (2-20 digits)"
            )
        return numbers

    @field_validator("from_110_trunks")
    @classmethod
    def _from_110_trunks(cls, trunks: list[str]) -> list[str]:
        bad = [t for t in trunks if not from110.ENDPOINT.fullmatch(t)]
        if bad:
            raise ValueError(
                f"CALLCENTER_FROM_110_TRUNKS: {bad} are not PJSIP endpoint names "
                "(letters, digits, '_', '.', '+', '-')"
            )
        return trunks

    @field_validator("from_110_header")
    @classmethod
    def _from_110_header(cls, header: str) -> str:
        if not from110.HEADER_NAME.fullmatch(header):
            raise ValueError(
                f"CALLCENTER_FROM_110_HEADER: {header!r} is not a SIP header name "
                "(letters, digits, '_', '.', '+', '-'; e.g. X-110-Ref)"
            )
        return header

    def from_110(self) -> from110.From110:
        """The hand-over rule these settings give."""
        return from110.From110(
            numbers=tuple(self.from_110_numbers),
            trunks=tuple(self.from_110_trunks),
            priority=self.from_110_priority,
            header=self.from_110_header,
        )

    @model_validator(mode="after")
    def _agi_exposure(self) -> Settings:
        """FastAGI has no authentication: whoever reaches the port can route calls, rate
        them and ask for callbacks. Off loopback, an allow-list of the PBX addresses is
        therefore required, and the service does not start without one."""
        if not self.agi_allowed_peers and not is_loopback(self.agi_host):
            raise ValueError(
                f"CALLCENTER_AGI_HOST={self.agi_host!r} is reachable from the network, and "
                "CALLCENTER_AGI_ALLOWED_PEERS is empty: FastAGI has no authentication, so "
                "list the PBX addresses or networks allowed to connect, e.g. "
                'CALLCENTER_AGI_ALLOWED_PEERS=\'["10.0.0.11", "10.0.1.0/24"]\''
            )
        return self

    @field_validator("queue_overflow_s")
    @classmethod
    def _overflow_is_catalogue_data(cls, value: dict[str, float]) -> dict[str, float]:
        if value:
            first, seconds = next(iter(value.items()))
            raise ValueError(
                "CALLCENTER_QUEUE_OVERFLOW_S: a queue's overflow is part of the queue "
                "catalogue, shared by every instance: set it with `callcenter queues update "
                f"{first} --overflow-after {seconds:g}` and unset this variable"
            )
        return value

    @model_validator(mode="after")
    def _unique_node_names(self) -> Settings:
        names = [n.name for n in self.ami_nodes]
        if len(names) != len(set(names)):
            raise ValueError(f"CALLCENTER_AMI_NODES: node names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _unique_webhook_names(self) -> Settings:
        keys = [w.key for w in self.webhooks]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(
                f"CALLCENTER_WEBHOOKS: two subscriptions named {twice}: give each a unique"
                " name (or URL)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("CALLCENTER_CONFIG_FILE")
        if toml_path:
            if not Path(toml_path).is_file():
                raise FileNotFoundError(f"CALLCENTER_CONFIG_FILE={toml_path}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def is_loopback(host: str) -> bool:
    """`host` binds to the loopback interface only (`127.0.0.1`, `::1`, `localhost`);
    a wildcard (`0.0.0.0`, `::`, ""), another address or a name is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and TOML file) now; explicit overrides win."""
    return Settings(**overrides)
