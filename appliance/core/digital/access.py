"""Who may see a digitised document: one pure rule every route asks (viewer, IIIF,
download, search hits), so every front end says no alike.

- public: anyone;
- patrons: anyone logged in (a patron of the OPAC, or staff);
- onsite: anyone on the library's own network, or staff;
- staff: staff;
- restricted: staff of the document's library, on its own network. Such a document
  never leaves that library (events.LOCAL_SUFFIX): no other node holds it.
Downloads: where seeing is allowed, the document lets it, and it is not restricted."""

import ipaddress
from dataclasses import dataclass

LEVELS = ("public", "patrons", "onsite", "staff", "restricted")
STAFF_ROLES = ("librarian", "branch_admin", "hub_admin")
DEFAULT_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Viewer:
    role: str | None  # None: anonymous; "patron"; a staff role
    library: str | None = None  # a staff account's library
    onsite: bool = False

    @property
    def staff(self):
        return self.role in STAFF_ROLES


def may_view(access, document_library, viewer):
    if access == "public":
        return True
    if access == "patrons":
        return viewer.role == "patron" or viewer.staff
    if access == "onsite":
        return viewer.onsite or viewer.staff
    if access == "staff":
        return viewer.staff
    if access == "restricted":
        return viewer.staff and viewer.onsite and viewer.library == document_library
    return False  # an unknown level shows nothing


def may_download(access, document_library, downloadable, viewer):
    return bool(downloadable) and access != "restricted" and may_view(
        access, document_library, viewer)


def logged(access):
    """Views of these are written in the audit log."""
    return access in ("staff", "restricted")


def is_onsite(address, networks=None):
    """Whether a client address is on the library's own network (settings.json
    `digital.onsite_networks`, CIDR blocks; loopback when none are set)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    for block in networks or DEFAULT_NETWORKS:
        try:
            if ip in ipaddress.ip_network(block, strict=False):
                return True
        except ValueError:
            continue
    return False
