"""The part of pjsip.conf the simulator needs: which endpoints exist, the context their
calls run in, and whether an AOR has a contact (a seat that can be rung).

res_pjsip's sorcery config allows several sections with one name (`[1001]` as endpoint
and as aor) and templates (`[seat](!)`, `[1001](seat)`); both are handled. Everything
SIP-specific (transports, codecs, identify) is read past.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbxsim.dialplan import ConfLine, SectionHeader, read_config


@dataclass(frozen=True, slots=True)
class PjsipEndpoint:
    name: str
    context: str
    aors: tuple[str, ...]
    #: an AOR of this endpoint has a static contact: it can be called
    reachable: bool


def load_pjsip_conf(path: str | Path) -> list[PjsipEndpoint]:
    sections: list[tuple[str, dict[str, str]]] = []
    templates: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for item in read_config(path):
        if isinstance(item, SectionHeader):
            current = {}
            for option in item.options:
                if option != "!" and option in templates:
                    current.update(templates[option])
            if "!" in item.options:
                templates[item.name] = current
            else:
                sections.append((item.name, current))
        elif isinstance(item, ConfLine) and current is not None:
            current[item.name.strip()] = item.value.strip()
    contacts = {
        name for name, opts in sections if opts.get("type") == "aor" and opts.get("contact")
    }
    endpoints: list[PjsipEndpoint] = []
    for name, opts in sections:
        if opts.get("type") != "endpoint":
            continue
        aors = tuple(a.strip() for a in opts.get("aors", "").split(",") if a.strip())
        endpoints.append(
            PjsipEndpoint(
                name,
                opts.get("context", "default"),
                aors,
                any(a in contacts for a in aors),
            )
        )
    return endpoints
