"""A dataset described for machines and for citing: schema.org JSON-LD, FAIR Signposting, citations.

One function per output format, each from the same ``DatasetPage``; the
URLs of the node are passed in, so every format names the same landing
page, metadata and file addresses.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from pancommons.catalogue.landing import DatasetPage

SPDX = "https://spdx.org/licenses/{}"
ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


@dataclass(frozen=True)
class Addresses:
    """Where this node serves a dataset's page, its metadata and its files."""

    landing: str
    metadata: str  # the PaNOSC record (JSON)
    files: dict[int, str]  # file id → download URL
    archive: str | None = None  # all files as one ZIP


def creators(page: DatasetPage) -> list[dict]:
    """The people of the dataset's proposals, principal investigator first; no e-mail addresses."""
    people: dict[str, dict] = {}
    for proposal in page.proposals:
        for member in sorted(proposal.get("members") or [], key=lambda m: (m.get("role") != "principal_investigator",)):
            person = member.get("person") or {}
            name = person.get("fullName")
            if not name:
                continue
            entry = people.setdefault(name, {"name": name, "orcid": _orcid(person.get("orcid")), "roles": set(),
                                             "affiliation": (member.get("affiliation") or {}).get("name")})
            if member.get("role"):
                entry["roles"].add(member["role"])
    return list(people.values())


def schema_org(page: DatasetPage, at: Addresses, catalogue_name: str, catalogue_url: str) -> dict[str, Any]:
    record = page.dataset
    description = next((p.get("summary") for p in page.proposals if p.get("summary")), None)
    techniques = record.get("techniques") or []
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": at.landing,
        "url": at.landing,
        "name": record["title"],
        "description": description or f"{record.get('kind', 'raw')} data: {record['title']}",
        "identifier": record["pid"],
        "dateCreated": record.get("creationDate"),
        "isAccessibleForFree": True,
        "creator": [_person(person) for person in creators(page)],
        "publisher": {"@type": "Organization", "name": record.get("facility") or catalogue_name},
        "includedInDataCatalog": {"@type": "DataCatalog", "name": catalogue_name, "url": catalogue_url},
        "measurementTechnique": [
            {"@type": "DefinedTerm", "name": technique["name"], **({"url": technique["panetId"], "termCode": technique["panetId"]}
                                                                  if technique.get("panetId") else {})}
            for technique in techniques
        ],
        "variableMeasured": [
            {"@type": "PropertyValue", "name": parameter["name"], "value": parameter.get("value"),
             **({"unitText": parameter["unit"]} if parameter.get("unit") else {})}
            for parameter in record.get("parameters") or []
        ],
        "distribution": [
            {"@type": "DataDownload", "name": file["name"], "contentUrl": at.files[file["id"]],
             "contentSize": f"{file['size']} B", "encodingFormat": media_type(file["name"])}
            for file in page.files if file["id"] in at.files
        ],
        "keywords": sorted({keyword for p in page.proposals for keyword in p.get("keywords") or []}),
    }
    if record.get("license"):
        document["license"] = SPDX.format(record["license"])
    if not page.public and page.embargo_until:
        document["isAccessibleForFree"] = False
        document["datePublished"] = page.embargo_until
    if record.get("instrument"):
        document["instrument"] = {"@type": "Thing", "name": record["instrument"]["name"]}  # schema.org pending term
    return {key: value for key, value in document.items() if value not in (None, [], "")}


def signposting(page: DatasetPage, at: Addresses) -> str:
    """The Link header of a landing page (FAIR Signposting level 1)."""
    links = [(at.landing, "cite-as", None), (at.metadata, "describedby", "application/json"),
             ("https://schema.org/Dataset", "type", None), ("https://schema.org/AboutPage", "type", None)]
    if page.dataset.get("license"):
        links.append((SPDX.format(page.dataset["license"]), "license", None))
    for person in creators(page):
        if person["orcid"]:
            links.append((person["orcid"], "author", None))
    for file in page.files:
        if file["id"] in at.files:
            links.append((at.files[file["id"]], "item", media_type(file["name"])))
    return ", ".join(f'<{url}>; rel="{rel}"' + (f'; type="{kind}"' if kind else "") for url, rel, kind in links)


def citation(page: DatasetPage, at: Addresses) -> str:
    record = page.dataset
    names = [person["name"] for person in creators(page)] or [record.get("facility") or "Unknown"]
    authors = ", ".join(names[:10]) + (" et al." if len(names) > 10 else "")
    year = (record.get("creationDate") or "")[:4] or "n.d."
    return f"{authors} ({year}). {record['title']}. {record.get('facility') or ''} [Dataset]. {at.landing}".replace(" . ", " ")


def bibtex(page: DatasetPage, at: Addresses) -> str:
    record = page.dataset
    key = re.sub(r"[^A-Za-z0-9]+", "_", record["pid"]).strip("_")
    names = " and ".join(person["name"] for person in creators(page)) or (record.get("facility") or "Unknown")
    fields = {
        "title": record["title"],
        "author": names,
        "year": (record.get("creationDate") or "")[:4],
        "publisher": record.get("facility") or "",
        "howpublished": at.landing,
        "note": f"Dataset {record['pid']}",
    }
    body = ",\n".join(f"  {name} = {{{_bibtex_escape(value)}}}" for name, value in fields.items() if value)
    return f"@misc{{{key},\n{body}\n}}"


def _person(person: dict) -> dict:
    described = {"@type": "Person", "name": person["name"]}
    if person["orcid"]:
        described["@id"] = person["orcid"]
        described["identifier"] = person["orcid"]
    if person["affiliation"]:
        described["affiliation"] = {"@type": "Organization", "name": person["affiliation"]}
    return described


def _orcid(value: str | None) -> str | None:
    match = ORCID.match(value or "")
    return f"https://orcid.org/{match.group(1)}" if match else None


def media_type(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".nxs", ".nx5", ".h5", ".hdf5", ".hdf", ".he5", ".nexus")):
        return "application/x-hdf5"
    return "application/octet-stream"


# hashlib's names → RFC 9530's registered digest algorithms (md5 and sha are deprecated there, still understood)
DIGEST_NAMES = {"sha256": "sha-256", "sha512": "sha-512", "md5": "md5", "sha1": "sha"}


def repr_digest(checksum: str, algorithm: str) -> str | None:
    """The ``Repr-Digest`` field of a file with this catalogued hex checksum, or None for a file
    catalogued without one.  An algorithm RFC 9530 has no name for (sha3_256, blake2b …) goes under
    its hashlib name, a valid field key that a client knowing it can check and others ignore."""
    algorithm = algorithm.lower()
    name = DIGEST_NAMES.get(algorithm, algorithm)
    if not checksum or not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
        return None
    try:
        return f"{name}=:{base64.b64encode(bytes.fromhex(checksum)).decode()}:"
    except ValueError:
        return None


def _bibtex_escape(value: str) -> str:
    return re.sub(r"([{}\\&%$#_])", r"\\\1", str(value))
