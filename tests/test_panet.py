"""PaNET: parsing and classifying the ROBOT table, the OWL alternative, loading and caching.

The real table is read from ``../shared/data/panet/PaNET.csv`` (CC BY 4.0: the
project does not ship it) and those tests skip when it is absent; everything
else uses small tables and OWL files written here.
"""

from __future__ import annotations

import csv
import functools
import http.server
import io
import logging
import socket
import threading
from pathlib import Path

import pytest

from pancommons.panet import Ontology, OntologyError, Term, load_ontology
from pancommons.panet import source as source_module
from pancommons.panet.table import ontology_from_table

PANET = "http://purl.org/pan-science/PaNET/"
PANET_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "panet" / "PaNET.csv"


# -- the real table ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def panet_csv() -> Path:
    if not PANET_CSV.exists():
        pytest.skip(f"PaNET table {PANET_CSV} is absent (a clone without ../shared)")
    return PANET_CSV


@pytest.fixture(scope="module")
def panet(panet_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Ontology:
    return load_ontology(str(panet_csv), tmp_path_factory.mktemp("panet-cache"))


def _iri(ontology: Ontology, name: str) -> str:
    iri = ontology.resolve(name)
    assert iri is not None, f"{name!r} is not a term"
    return iri


def _under(ontology: Ontology, name: str, ancestor: str) -> bool:
    return _iri(ontology, ancestor) in ontology.ancestors(_iri(ontology, name))


def test_every_class_of_the_table_is_a_term_and_every_cell_parses(panet: Ontology):
    # 516 IRIs: 510 classes (techniques and the specifiers they are defined by) and 6
    # object properties, which are not terms.  PaNET01022 is on two rows; it is one term.
    assert len(panet.terms) == 510
    assert panet.warnings == ()
    assert PANET + "PaNET1001000" not in panet.terms  # definedbyprobe, a property
    assert panet.label(PANET + "PaNET01022") == "diffraction-based techniques"


@pytest.mark.parametrize(
    "term, ancestor",
    [
        ("x-ray powder diffraction", "PaNET01216"),
        ("x-ray single crystal diffraction", "PaNET01216"),
        ("serial femtosecond crystallography", "PaNET01216"),
        ("wide angle x-ray scattering", "PaNET01216"),
        ("energy dispersive x-ray diffraction", "PaNET01216"),
        ("PaNET01188", "PaNET01124"),  # small angle x-ray scattering
        ("PaNET01189", "PaNET01124"),  # small angle neutron scattering
        ("ultra small angle neutron scattering", "PaNET01124"),
        ("extended x-ray absorption fine structure", "PaNET01196"),
        ("x-ray absorption near edge structure", "PaNET01196"),
        # A defined term falls under each of its named conjuncts.
        ("x-ray diffraction", "x-ray probe-based techniques"),
        ("x-ray diffraction", "diffraction-based techniques"),
        # ...and under a definition through a restriction's filler: definedbyprocess some
        # diffraction, where diffraction is under elastic scattering.
        ("diffraction-based techniques", "elastic scattering-based techniques"),
        # PaNET01022's second row (a Wikidata equivalent) is a separate axiom: merged into
        # the first intersection nothing would be diffraction-based any more.
        ("neutron diffraction", "diffraction-based techniques"),
        ("small angle neutron scattering", "neutron diffraction"),
        # definedbyprocess has domain 'photon and neutron technique'.
        ("x-ray absorption spectroscopy", "photon and neutron technique"),
        # definedbyprobe has range 'probe', although 'ultrafast probe' is filed under
        # 'beam characteristic': with the range, the filler is both.
        ("ultrafast probe-based techniques", "defined by experimental probe"),
        # Specifiers: told parents only.
        ("hard x-ray", "probe"),
    ],
)
def test_classification_puts_term_under(panet: Ontology, term: str, ancestor: str):
    assert _under(panet, term, ancestor)


@pytest.mark.parametrize(
    "term, not_ancestor",
    [
        ("small angle neutron scattering", "x-ray diffraction"),
        # Neutron techniques are defined by a neutron probe, never an x-ray one.
        ("small angle neutron scattering", "x-ray probe-based techniques"),
        ("neutron diffraction", "x-ray probe-based techniques"),
        ("neutron powder diffraction", "x-ray probe-based techniques"),
        ("inelastic neutron spectroscopy", "x-ray probe-based techniques"),
        ("muon spectroscopy", "x-ray probe-based techniques"),
        ("x-ray powder diffraction", "neutron diffraction"),
        ("x-ray powder diffraction", "neutron probe-based techniques"),
        # SAXS is small-angle (low momentum transfer) scattering, not diffraction.
        ("small angle x-ray scattering", "x-ray diffraction"),
        ("small angle x-ray scattering", "small angle neutron scattering"),
        ("x-ray absorption near edge structure", "x-ray diffraction"),
        ("x-ray diffraction", "x-ray powder diffraction"),  # subsumption is one way
        # Techniques and the specifiers they are defined by are separate trees.
        ("x-ray", "photon and neutron technique"),
        ("x-ray probe-based techniques", "x-ray"),
    ],
)
def test_classification_keeps_term_out_of(panet: Ontology, term: str, not_ancestor: str):
    assert not _under(panet, term, not_ancestor)


def test_direct_parents_are_the_transitive_reduction(panet: Ontology):
    names = {panet.label(iri) for iri in panet.parents(_iri(panet, "x-ray powder diffraction"))}
    assert names == {"x-ray diffraction", "powder diffraction-based techniques"}
    assert panet.parents(_iri(panet, "photon and neutron technique")) == frozenset()


def test_every_technique_is_under_the_root_except_those_defined_only_by_their_probe(panet: Ontology):
    """What the table implies: the definedbyprocess/-dependence/-characteristic and supports
    properties have domain 'photon and neutron technique', definedbyprobe has owl:Thing; so
    the probe-defined terms (and only they) sit beside the root, under 'defined by
    experimental probe'.  The specifiers (PaNET2…) form their own tree."""
    root, by_probe = PANET + "PaNET00001", PANET + "PaNET00002"
    specifiers = PANET + "PaNET2000000"
    beside_root = set()
    for iri in panet.terms:
        ancestors = panet.ancestors(iri)
        if iri.startswith(PANET + "PaNET2"):
            assert specifiers in ancestors and root not in ancestors, panet.label(iri)
        elif root not in ancestors:
            assert by_probe in ancestors, panet.label(iri)
            beside_root.add(panet.label(iri))
    assert "x-ray probe-based techniques" in beside_root
    assert "neutron probe-based techniques" in beside_root
    assert len(beside_root) == 21


def test_no_cycles_but_equivalences(panet: Ontology):
    # Each of these pairs is equivalent by its definitions, e.g. 'imaging' ≡ 'obtain spatial map'.
    expected = {
        frozenset({"imaging", "obtain spatial map"}),
        frozenset({"imaging-based techniques", "obtain spatial map-based techniques"}),
        frozenset({"x-ray refraction imaging", "x-ray phase contrast imaging-based techniques"}),
        frozenset(
            {"inelastic small angle scattering-based techniques", "small angle inelastic scattering-based techniques"}
        ),
    }
    equivalent = {
        frozenset({panet.label(a), panet.label(b)})
        for a in panet.terms
        for b in panet.ancestors(a)
        if a != b and a in panet.ancestors(b)
    }
    assert equivalent == expected
    # The reduction has no cycle at all.
    state: dict[str, int] = {}

    def visit(iri: str) -> None:
        state[iri] = 1
        for parent in panet.parents(iri):
            assert state.get(parent) != 1, f"cycle through {iri}"
            if parent not in state:
                visit(parent)
        state[iri] = 2

    for iri in panet.terms:
        if iri not in state:
            visit(iri)


def test_descendants_and_ancestors_include_the_term(panet: Ontology):
    xrd = PANET + "PaNET01216"
    assert xrd in panet.descendants(xrd)
    assert xrd in panet.ancestors(xrd)
    assert panet.descendants(PANET + "PaNET99999") == frozenset({PANET + "PaNET99999"})
    assert panet.ancestors("urn:unknown") == frozenset({"urn:unknown"})
    assert panet.parents("urn:unknown") == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "http://purl.org/pan-science/PaNET/PaNET01216",
        "PaNET:PaNET01216",
        "panet:PaNET01216",
        "PaNET01216",
        "x-ray diffraction",
        "  X-Ray   Diffraction ",
        "XRD",  # alt label
    ],
)
def test_resolve(panet: Ontology, text: str):
    assert panet.resolve(text) == PANET + "PaNET01216"


def test_resolve_other_names(panet: Ontology):
    assert panet.resolve("Röntgen technique") == PANET + "PaNET01012"  # alt label
    assert panet.resolve("x-ray birefringence imaging") == PANET + "PaNET01327"  # label has a trailing space
    assert panet.label(PANET + "PaNET01327") == "x-ray birefringence imaging"
    assert panet.resolve("no such technique") is None
    assert panet.resolve("http://example.org/PaNET01216") is None
    assert panet.label("urn:unknown") is None


def test_json_round_trip(panet: Ontology):
    again = Ontology.from_json(panet.to_json())
    assert again.terms == panet.terms
    for iri in panet.terms:
        assert again.descendants(iri) == panet.descendants(iri)
        assert again.ancestors(iri) == panet.ancestors(iri)
        assert again.parents(iri) == panet.parents(iri)


def test_classifying_the_real_table_is_fast(panet_csv: Path):
    import time

    text = panet_csv.read_text(encoding="utf-8")
    started = time.perf_counter()
    ontology_from_table(text, str(panet_csv))
    assert time.perf_counter() - started < 1.0


# -- the classifier on a small table of our own ---------------------------------------------

T = PANET + "TEST"
_HEADERS = ["", "ID", "Label", "Alt Label", "RDF Type", "Parent IRI", "Parent IRI", "Equivalent",
            "Equivalent", "Disjoint Classes", "Super Property", "Domain", "Range"]
_DIRECTIVES = ["", "ID", "A rdfs:label", "A http://www.w3.org/2004/02/skos/core#altLabel", "TYPE", "SC %",
               "SC %", "EC %", "EC %", "DC %", "SP %", "DOMAIN", "RANGE"]


def _row(number: int, label: str, *, alt: str = "", kind: str = "owl:Class", parents: tuple[str, ...] = (),
         equivalent: tuple[str, ...] = (), domain: str = "", range_: str = "") -> list[str]:
    parents = (*parents, "", "")[:2]
    equivalent = (*equivalent, "", "")[:2]
    return [str(number), f"{T}{number:03d}", label, alt, kind, *parents, *equivalent, "", "", domain, range_]


def _small_rows() -> list[list[str]]:
    return [
        _row(1, "technique", parents=("owl:Thing",)),
        _row(2, "usesprobe", kind="owl:ObjectProperty", domain="technique", range_="probe"),
        _row(3, "usesprocess", kind="owl:ObjectProperty", domain="technique"),
        _row(10, "probe"),
        _row(11, "x-ray", parents=("probe",)),
        _row(12, "hard x-ray", parents=("PaNET:TEST011",)),
        _row(13, "neutron", parents=("probe",)),
        _row(14, "process and effect"),  # a label with the keyword 'and' in it
        _row(15, "diffraction", parents=("process and effect",)),
        _row(20, "x-ray technique", alt="XT", equivalent=("('usesprobe' some 'x-ray')",)),
        _row(21, "hard x-ray technique ", equivalent=("(  'usesprobe'   some 'hard x-ray' )",)),
        _row(22, "diffraction technique", equivalent=("('usesprocess' some PaNET:TEST015)",)),
        _row(23, "x-ray diffraction", equivalent=("x-ray technique", "PaNET:TEST022")),
        _row(24, "hard x-ray powder diffraction",
             equivalent=("('usesprobe' some 'hard x-ray')", "('usesprocess' some 'diffraction')")),
        _row(25, "nested", equivalent=(
            "((PaNET:TEST022 and 'x-ray technique'))",
            "('usesprocess' some ('diffraction' and 'process and effect'))",
        )),
        _row(26, "neutron diffraction", equivalent=("diffraction technique", "('usesprobe' some 'neutron')")),
        _row(27, "broken", equivalent=("x-ray technique", "('usesprobe' some 'x-ray' or 'neutron')")),
        ["", "", "", "", "", "", "", "", "", "", "", "", ""],
        # A second row for an IRI is a second, separate equivalence (as ROBOT makes it).
        ["20", f"{T}020", "x-ray technique", "", "", "", "", "http://www.wikidata.org/entity/Q0", "", "", "", "", ""],
    ]


def _small_table(rows: list[list[str]] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([_HEADERS, _DIRECTIVES, [""] * 13, ["ID number"] + [""] * 12, *(rows or _small_rows())])
    return out.getvalue()


@pytest.fixture
def small() -> Ontology:
    return ontology_from_table(_small_table(), "small.csv")


def _names(ontology: Ontology, iris) -> set[str]:
    return {ontology.label(iri) for iri in iris}


def test_small_table_terms(small: Ontology):
    assert _names(small, small.terms) == {
        "technique", "probe", "x-ray", "hard x-ray", "neutron", "process and effect", "diffraction",
        "x-ray technique", "hard x-ray technique", "diffraction technique", "x-ray diffraction",
        "hard x-ray powder diffraction", "nested", "neutron diffraction", "broken",
    }
    assert small.resolve("XT") == f"{T}020"


def test_small_table_classification(small: Ontology):
    def ancestors(name: str) -> set[str]:
        return _names(small, small.ancestors(_iri(small, name))) - {name}

    assert ancestors("hard x-ray") == {"x-ray", "probe"}  # CURIE parent
    assert ancestors("diffraction") == {"process and effect"}  # unquoted label containing 'and'
    # A restriction is entailed through its filler: hard x-ray ⊑ x-ray.
    assert "x-ray technique" in ancestors("hard x-ray technique")
    # Named conjuncts, both filler subsumption and the properties' domain.
    assert ancestors("hard x-ray powder diffraction") >= {
        "x-ray diffraction", "x-ray technique", "diffraction technique", "technique", "hard x-ray technique",
    }
    # A nested intersection inside a filler and doubled parentheses: same definition as x-ray diffraction.
    assert "x-ray diffraction" in ancestors("nested") and "nested" in ancestors("x-ray diffraction")
    assert "x-ray diffraction" not in ancestors("neutron diffraction")
    assert "diffraction technique" in ancestors("neutron diffraction")
    # The second row's external equivalent does not hide the first definition.
    assert "x-ray technique" in ancestors("x-ray diffraction")


def test_unparsable_cell_is_reported_and_only_its_necessary_direction_kept(small: Ontology):
    (warning,) = small.warnings
    assert f"{T}027" in warning and "broken" in warning and "'or'" in warning
    broken = _iri(small, "broken")
    assert _iri(small, "x-ray technique") in small.ancestors(broken)  # broken ⊑ x-ray technique still holds
    # ...but with its definition half read, nothing is classified under it.
    assert small.descendants(broken) == frozenset({broken})


def test_unknown_label_is_reported():
    rows = [_row(1, "technique"), _row(2, "child", parents=("tecnique",))]
    ontology = ontology_from_table(_small_table(rows), "typo.csv")
    assert any("'tecnique'" in warning for warning in ontology.warnings)


def test_not_a_robot_template():
    with pytest.raises(OntologyError, match=r"plain\.csv.*not a ROBOT template"):
        ontology_from_table("a,b,c\n1,2,3\n", "plain.csv")


def test_ontology_from_edges_closes_transitively():
    terms = [Term("urn:a", "a"), Term("urn:b", "b"), Term("urn:c", "c")]
    ontology = Ontology.from_edges(terms, [("urn:c", "urn:b"), ("urn:b", "urn:a"), ("urn:a", "urn:other")])
    assert ontology.descendants("urn:a") == {"urn:a", "urn:b", "urn:c"}
    assert ontology.parents("urn:c") == {"urn:b"}


# -- loading and caching -------------------------------------------------------------------


def _write_small(directory: Path, name: str = "small.csv", rows: list[list[str]] | None = None) -> Path:
    path = directory / name
    path.write_text(_small_table(rows), encoding="utf-8")
    return path


def test_cache_hit_skips_classification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = _write_small(tmp_path)
    first = load_ontology(str(table), tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("panet-*.json"))) == 1

    def no_classifying(*args, **kwargs):
        raise AssertionError("classified although the cache holds this table")

    monkeypatch.setattr(source_module, "ontology_from_table", no_classifying)
    second = load_ontology(str(table), tmp_path / "cache")
    assert second.terms == first.terms
    assert all(second.ancestors(iri) == first.ancestors(iri) for iri in first.terms)
    assert second.warnings == first.warnings


def test_changed_source_is_classified_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = _write_small(tmp_path)
    load_ontology(str(table), tmp_path / "cache")
    calls = []
    original = source_module.ontology_from_table
    monkeypatch.setattr(source_module, "ontology_from_table", lambda *a: calls.append(a) or original(*a))
    _write_small(tmp_path, rows=[*_small_rows(), _row(30, "x-ray imaging", equivalent=("x-ray technique",))])
    changed = load_ontology(str(table), tmp_path / "cache")
    assert len(calls) == 1
    assert changed.resolve("x-ray imaging") in changed.descendants(f"{T}020")


def test_corrupt_cache_is_classified_again(tmp_path: Path):
    table = _write_small(tmp_path)
    load_ontology(str(table), tmp_path / "cache")
    (cache_file,) = (tmp_path / "cache").glob("panet-*.json")
    cache_file.write_text("{not json")
    assert load_ontology(str(table), tmp_path / "cache").resolve("nested") == f"{T}025"


def test_real_table_cache_hit(panet_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    first = load_ontology(str(panet_csv), tmp_path)
    monkeypatch.setattr(source_module, "ontology_from_table", None)  # any call would fail
    second = load_ontology(str(panet_csv), tmp_path)
    assert second.descendants(PANET + "PaNET01216") == first.descendants(PANET + "PaNET01216")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def http_dir(tmp_path: Path):
    """A local HTTP server (127.0.0.1, a free port) serving a temporary directory."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_load_over_http_and_offline_from_the_downloaded_copy(http_dir, tmp_path, caplog):
    served, base = http_dir
    _write_small(served, "PaNET.csv")
    url = f"{base}/PaNET.csv"
    online = load_ontology(url, tmp_path / "cache")
    assert online.resolve("hard x-ray technique") == f"{T}021"
    assert online.source == url

    (served / "PaNET.csv").unlink()  # the server answers 404 from now on
    with caplog.at_level(logging.WARNING, logger="pancommons.panet.source"):
        offline = load_ontology(url, tmp_path / "cache")
    assert offline.terms == online.terms
    assert any(url in message and "copy downloaded earlier" in message for message in caplog.messages)


def test_http_error_without_a_copy_names_the_url(http_dir, tmp_path):
    _, base = http_dir
    url = f"{base}/missing.csv"
    with pytest.raises(OntologyError, match=rf"{url}.*HTTP 404"):
        load_ontology(url, tmp_path / "cache")


def test_unreachable_url_without_a_copy_names_the_url(tmp_path: Path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/PaNET.csv"
    with pytest.raises(OntologyError, match=f"cannot fetch PaNET ontology from {url}"):
        load_ontology(url, tmp_path / "cache")


@pytest.mark.parametrize(
    "name, content",
    [
        ("garbage.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
        ("notes.csv", b"just some text, with a comma\nand no template\n"),
        ("noise", b"\x00\x01\x02\x03"),
        ("empty.csv", b""),
    ],
)
def test_bad_file_names_the_file(tmp_path: Path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(OntologyError, match=name):
        load_ontology(str(path), tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("panet-*.json"))


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(OntologyError, match="nowhere.csv"):
        load_ontology(str(tmp_path / "nowhere.csv"), tmp_path / "cache")


# -- the reasoned OWL alternative ----------------------------------------------------------

_OWL = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:skos="http://www.w3.org/2004/02/skos/core#">
  <owl:Ontology rdf:about="http://example.org/onto"/>
  <owl:ObjectProperty rdf:about="http://example.org/onto/usesprobe"/>
  <owl:Class rdf:about="http://example.org/onto/T1">
    <rdfs:subClassOf rdf:resource="http://www.w3.org/2002/07/owl#Thing"/>
    <rdfs:label>technique</rdfs:label>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/onto/T2">
    <rdfs:subClassOf rdf:resource="http://example.org/onto/T1"/>
    <rdfs:label xml:lang="de">Beugung</rdfs:label>
    <rdfs:label xml:lang="en">diffraction</rdfs:label>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/onto/T3">
    <rdfs:subClassOf rdf:resource="http://example.org/onto/T2"/>
    <rdfs:subClassOf>
      <owl:Restriction>
        <owl:onProperty rdf:resource="http://example.org/onto/usesprobe"/>
        <owl:someValuesFrom rdf:resource="http://example.org/onto/T9"/>
      </owl:Restriction>
    </rdfs:subClassOf>
    <rdfs:label>x-ray diffraction</rdfs:label>
    <skos:altLabel>XRD</skos:altLabel>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/onto/T4">
    <rdfs:subClassOf rdf:resource="http://example.org/onto/T3"/>
    <rdfs:label>x-ray powder diffraction</rdfs:label>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/onto/T5">
    <owl:equivalentClass rdf:resource="http://example.org/onto/T3"/>
    <rdfs:label>XRD technique</rdfs:label>
  </owl:Class>
  <owl:Class rdf:about="http://example.org/onto/T6">
    <rdfs:subClassOf rdf:resource="http://example.org/onto/T1"/>
    <rdfs:label>imaging</rdfs:label>
  </owl:Class>
</rdf:RDF>
"""


@pytest.fixture
def owl_file(tmp_path: Path) -> Path:
    pytest.importorskip("rdflib", reason="rdflib is optional (pip install rdflib)")
    path = tmp_path / "PaNET_reasoned.owl"
    path.write_text(_OWL, encoding="utf-8")
    return path


def test_owl_source(owl_file: Path, tmp_path: Path):
    ontology = load_ontology(str(owl_file), tmp_path / "cache")
    onto = "http://example.org/onto/"
    assert set(ontology.terms) == {onto + f"T{i}" for i in range(1, 7)}
    assert ontology.label(onto + "T2") == "diffraction"  # the English label
    assert ontology.resolve("XRD") == onto + "T3"
    assert ontology.descendants(onto + "T1") == {onto + f"T{i}" for i in range(1, 7)}
    assert ontology.descendants(onto + "T2") == {onto + "T2", onto + "T3", onto + "T4", onto + "T5"}
    assert onto + "T3" in ontology.ancestors(onto + "T5") and onto + "T5" in ontology.ancestors(onto + "T3")
    assert ontology.parents(onto + "T4") == {onto + "T3", onto + "T5"}
    assert onto + "T6" not in ontology.ancestors(onto + "T4")


def test_owl_content_is_sniffed_without_a_suffix(owl_file: Path, tmp_path: Path):
    unsuffixed = tmp_path / "download"
    unsuffixed.write_bytes(owl_file.read_bytes())
    assert len(load_ontology(str(unsuffixed), tmp_path / "cache")) == 6


def test_bad_owl_names_the_file(tmp_path: Path):
    pytest.importorskip("rdflib", reason="rdflib is optional (pip install rdflib)")
    path = tmp_path / "broken.owl"
    path.write_text("<rdf:RDF this is not xml", encoding="utf-8")
    with pytest.raises(OntologyError, match="broken.owl"):
        load_ontology(str(path), tmp_path / "cache")
